"""Probe: contenttypes. Stale content types that permissions, assignments or the admin log still
use (W601), the swapped-out user model's content type still in use after a swap (W602), and the
user model's own content type and default permissions (W603).

Django's own stale check (``ContentType.model_class() is None``) never reports the old
``auth | user`` row after a swap, because a swapped model still resolves: swapped models are
treated explicitly here. A fixed number of queries, whatever the number of content types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context
from authtools.diagnosis.probes.database import connection_error
from authtools.diagnosis.report import Finding, TableLocation, plural

REQUIRES = "ready"
USES_DB = True

FIX = "python manage.py rebuild_contenttypes"


@dataclass(frozen=True)
class Usage:
    """What still points at one content type."""

    permissions: int = 0
    user_assignments: int = 0
    group_assignments: int = 0
    log_entries: int = 0

    @property
    def any(self) -> bool:
        return bool(self.permissions or self.log_entries)

    def describe(self) -> str:
        parts = [plural(self.permissions, "permission")]
        if self.permissions:
            parts[0] += (
                f" ({plural(self.user_assignments, 'user assignment')}, "
                f"{plural(self.group_assignments, 'group assignment')})"
            )
        entries = "entry" if self.log_entries == 1 else "entries"
        parts.append(f"{self.log_entries} admin log {entries}")
        return " and ".join(parts)


def run(ctx: Context) -> Iterator[Finding]:
    from django.db import DatabaseError

    if connection_error(ctx) is not None:
        return  # the database probe reports it (E504)
    try:
        yield from _findings(ctx)
    except DatabaseError:
        return  # the tables differ from the models: the migrations probe reports that


def _findings(ctx: Context) -> Iterator[Finding]:
    from django.apps import apps
    from django.db import connections

    if not apps.is_installed("django.contrib.contenttypes"):
        return
    from django.contrib.contenttypes.models import ContentType

    connection = connections[ctx.database]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    if ContentType._meta.db_table not in tables:
        return  # not migrated: the migrations probe says so
    rows = list(ContentType.objects.using(ctx.database).values_list("id", "app_label", "model"))
    stale: dict[int, str] = {}
    swapped: dict[int, Any] = {}
    for ct_id, app_label, model_name in rows:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            stale[ct_id] = f"{app_label}.{model_name}"
            continue
        if model._meta.swapped:
            swapped[ct_id] = model
    usage = _usage(ctx, tables, [*stale, *swapped])
    for ct_id, label in sorted(stale.items(), key=lambda item: item[1]):
        if usage.get(ct_id, Usage()).any:
            yield _stale(label, usage[ct_id])
    for ct_id, model in sorted(swapped.items(), key=lambda item: item[1]._meta.label):
        if usage.get(ct_id, Usage()).any:
            yield _swapped(ctx, model, usage[ct_id])
    yield from _user_model_content_type(ctx, rows, tables)


def _usage(ctx: Context, tables: set[str], ct_ids: Iterable[int]) -> dict[int, Usage]:
    """Permissions, their user and group assignments, and admin log entries per content type:
    one grouped query each."""
    from django.apps import apps
    from django.db.models import Count

    ids = list(ct_ids)
    if not ids:
        return {}
    db = ctx.database
    permissions: Counter[int] = Counter()
    users: Counter[int] = Counter()
    groups: Counter[int] = Counter()
    logs: Counter[int] = Counter()

    def grouped(queryset: Any, field: str) -> Counter[int]:
        rows = queryset.values_list(field).annotate(n=Count("pk")).order_by()
        return Counter({ct_id: n for ct_id, n in rows})

    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.models import Group, Permission

        if Permission._meta.db_table in tables:
            perms = Permission.objects.using(db).filter(content_type_id__in=ids)
            permissions = grouped(perms, "content_type_id")
            through = _user_permissions_through(ctx)
            if through is not None and through._meta.db_table in tables:
                assigned = through.objects.using(db).filter(permission__content_type_id__in=ids)
                users = grouped(assigned, "permission__content_type_id")
            group_through = Group.permissions.through
            if group_through._meta.db_table in tables:
                assigned = group_through.objects.using(db).filter(
                    permission__content_type_id__in=ids
                )
                groups = grouped(assigned, "permission__content_type_id")
    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import LogEntry

        if LogEntry._meta.db_table in tables:
            entries = LogEntry.objects.using(db).filter(content_type_id__in=ids)
            logs = grouped(entries, "content_type_id")
    return {
        ct_id: Usage(permissions[ct_id], users[ct_id], groups[ct_id], logs[ct_id]) for ct_id in ids
    }


def _user_permissions_through(ctx: Context) -> Any:
    """The M2M table between the user model and Permission (PermissionsMixin), or None."""
    from django.contrib.auth.models import Permission

    user_model = ctx.user_model()
    if user_model is None:
        return None
    for field in user_model._meta.local_many_to_many:
        if field.remote_field.model is Permission:
            return field.remote_field.through
    return None


def _stale(label: str, usage: Usage) -> Finding:
    app_label, model_name = label.split(".", 1)
    return catalog.finding(
        "authtools.W601",
        f"The content type '{app_label} | {model_name}' has no model behind it but still has "
        f"{usage.describe()}.",
        "Its permissions grant nothing and its log entries link nowhere. Map it to the model "
        "that replaced it (--remap OLD=NEW keeps the assignments), or remove it; Django's "
        "remove_stale_contenttypes would delete the assignments with it.",
        location=TableLocation("django_content_type"),
        fix_command=FIX,
    )


def _swapped(ctx: Context, model: Any, usage: Usage) -> Finding:
    from django.apps import apps

    opts = model._meta
    old = opts.label_lower
    fix = FIX
    try:
        new = apps.get_model(opts.swapped)._meta.label_lower
    except (LookupError, ValueError):
        new = None
    if new is not None:
        fix = f"{FIX} --remap {old}={new}"
    by = f" by {opts.swapped!r}" if opts.swapped else ""
    return catalog.finding(
        "authtools.W602",
        f"The content type '{opts.app_label} | {opts.model_name}' of {opts.label}, swapped out"
        f"{by}, is still in use: {usage.describe()}.",
        f"Permission checks such as has_perm('{opts.app_label}.change_{opts.model_name}') and "
        "the admin history still point at the old model; Django's stale content type check "
        "never reports it because a swapped model still resolves. Remap it to the new model's "
        "content type.",
        location=TableLocation("django_content_type"),
        fix_command=fix,
    )


def _user_model_content_type(
    ctx: Context, rows: list[tuple[int, str, str]], tables: set[str]
) -> Iterator[Finding]:
    """W603: the user model has no content type, or lacks one of its default permissions."""
    from django.apps import apps

    user_model = ctx.user_model()
    if user_model is None or user_model._meta.abstract or user_model._meta.proxy:
        return
    opts = user_model._meta
    if opts.db_table not in tables:
        return  # not migrated yet: the database probe says so (E501)
    ct_id = next((r[0] for r in rows if (r[1], r[2]) == (opts.app_label, opts.model_name)), None)
    if ct_id is None:
        yield catalog.finding(
            "authtools.W603",
            f"The user model {opts.label} has no content type "
            f"('{opts.app_label} | {opts.model_name}'), so it has no permissions either.",
            "post_migrate creates them when 'migrate' runs; if the old user model's content "
            "type is still there, remap it instead so its permissions and history follow.",
            location=TableLocation("django_content_type"),
            fix_command=FIX,
        )
        return
    if not apps.is_installed("django.contrib.auth"):
        return
    from django.contrib.auth.models import Permission

    if Permission._meta.db_table not in tables:
        return
    expected = [f"{action}_{opts.model_name}" for action in opts.default_permissions]
    present = set(
        Permission.objects.using(ctx.database)
        .filter(content_type_id=ct_id, codename__in=expected)
        .values_list("codename", flat=True)
    )
    missing = [codename for codename in expected if codename not in present]
    if missing:
        yield catalog.finding(
            "authtools.W603",
            f"The user model {opts.label} is missing "
            f"{plural(len(missing), 'default permission')}: "
            + ", ".join(f"{opts.app_label}.{codename}" for codename in missing)
            + ".",
            "has_perm() is False for everyone but superusers and the admin hides the user "
            "pages from staff. Recreate them (post_migrate does, when 'migrate' runs).",
            location=TableLocation("auth_permission"),
            fix_command=FIX,
        )
