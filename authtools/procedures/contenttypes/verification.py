"""What is still wrong once a plan ran: missing rows, stale rows left, dangling references."""

from __future__ import annotations

from authtools.procedures.contenttypes.inspect import Analysis, find_missing
from authtools.procedures.contenttypes.installed import (
    auth_installed,
    clear_cache,
    permission_table,
)
from authtools.procedures.contenttypes.references import (
    Reference,
    contenttype_references,
    permission_references,
)
from authtools.procedures.contenttypes.sql import execute, qn
from authtools.procedures.contenttypes.words import plural


def verify(using: str, a: Analysis) -> list[str]:
    """What is still wrong once the plan ran (empty when all is well)."""
    from django.contrib.contenttypes.models import ContentType

    clear_cache()
    failures = []
    snapshot, cts, perms = find_missing(using)
    labels = set(snapshot.by_label)
    if cts:
        failures.append(f"{plural(len(cts), 'content type')} still missing ({', '.join(cts[:5])})")
    if perms:
        failures.append(f"{plural(len(perms), 'permission')} still missing")
    successors = {r.new for r in a.remaps}
    left = sorted({r.old for r in a.remaps if r.old not in successors} | set(a.remove))
    left = [label for label in left if label in labels]
    if left:
        failures.append(f"stale content types still present: {', '.join(left)}")
    ct_table, ct_pk = ContentType._meta.db_table, ContentType._meta.pk.column
    checks = [(r, ct_table, ct_pk) for r in contenttype_references(using)]
    if auth_installed():
        checks += [(r, permission_table(), "id") for r in permission_references(using)]
        checks.append(
            (
                Reference(
                    permission_table(), "content_type_id", "id", (), False, "auth.permission"
                ),
                ct_table,
                ct_pk,
            )
        )
    for ref, table, pk in checks:
        col = qn(using, ref.column)
        ((n,),) = execute(
            using,
            f"SELECT COUNT(*) FROM {qn(using, ref.table)} WHERE {col} IS NOT NULL AND {col} NOT IN "
            f"(SELECT {qn(using, pk)} FROM {qn(using, table)})",
        )
        if n:
            failures.append(f"{n} rows of {ref.name} point at a {table} row that does not exist")
    return failures
