"""Creating what post_migrate would create, in bulk."""

from __future__ import annotations

from authtools.procedures.contenttypes.inspect import find_missing
from authtools.procedures.contenttypes.installed import split_label
from authtools.procedures.contenttypes.sql import BATCH


def create_missing(using: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Create every missing content type and permission in bulk (four queries, plus batches)."""
    from django.contrib.contenttypes.models import ContentType

    snapshot, cts, perms = find_missing(using)
    if cts:
        ContentType.objects.using(using).bulk_create(
            [ContentType(app_label=a, model=m) for a, m in map(split_label, cts)],
            batch_size=BATCH,
        )
    if perms:
        from django.contrib.auth.models import Permission

        ids = snapshot.by_label
        if cts:
            ids = {
                f"{a}.{m}": pk
                for pk, a, m in ContentType.objects.using(using).values_list(
                    "pk", "app_label", "model"
                )
            }
        Permission.objects.using(using).bulk_create(
            [Permission(content_type_id=ids[label], codename=c, name=n) for label, c, n in perms],
            batch_size=BATCH,
        )
    return cts, perms
