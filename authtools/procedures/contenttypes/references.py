"""The columns that point at django_content_type or auth_permission, and moving their rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from authtools.procedures.contenttypes.installed import auth_installed, permission_table
from authtools.procedures.contenttypes.sql import (
    batches,
    case_update,
    delete_where,
    execute,
    marks,
    qn,
    rows_of,
)


@dataclass(frozen=True)
class Reference:
    """A column that points at django_content_type or auth_permission.

    Found on installed models (their concrete ForeignKeys) and in the database catalog (tables
    no model describes any more, like the swapped-out auth_user_user_permissions). ``link``
    tables (many-to-many rows) are merged without duplicates; other rows are updated.
    """

    table: str
    column: str
    pk: str | None
    others: tuple[str, ...]  # the other columns, primary key excluded
    link: bool
    name: str  # 'admin.logentry.content_type', or 'table.column' without a model

    @property
    def columns(self) -> tuple[str, ...]:
        return ((self.pk,) if self.pk else ()) + (self.column, *self.others)


def references_to(target: Any, using: str) -> list[Reference]:
    """Every column pointing at TARGET's table in USING: installed models' ForeignKeys and the
    catalog's foreign key constraints (a fixed number of queries)."""
    from django.apps import apps
    from django.db import connections, router

    from authtools.db import catalog

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    found: dict[tuple[str, str], Reference] = {}
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.swapped or opts.proxy or opts.db_table not in tables:
            continue
        if not router.allow_migrate_model(using, model):
            continue
        for f in opts.concrete_fields:
            if f.is_relation and f.many_to_one and f.related_model is target:
                others = tuple(
                    str(c.column) for c in opts.concrete_fields if not c.primary_key and c is not f
                )
                found[(opts.db_table, str(f.column))] = Reference(
                    opts.db_table,
                    str(f.column),
                    str(opts.pk.column),
                    others,
                    bool(opts.auto_created),
                    f"{opts.label_lower}.{f.name}",
                )
    raw = [
        fk
        for fk in catalog.foreign_keys(connection, referencing=target._meta.db_table)
        if (fk.table, fk.column) not in found and fk.table != target._meta.db_table
    ]
    if raw:
        types = catalog.column_types(connection, {fk.table for fk in raw})
        for fk in raw:
            key = catalog.primary_key(connection, fk.table)
            pk = key[0] if key else None
            others = tuple(
                sorted(str(c) for (t, c) in types if t == fk.table and c not in (pk, fk.column))
            )
            found[(fk.table, fk.column)] = Reference(
                fk.table, fk.column, pk, others, len(others) == 1, f"{fk.table}.{fk.column}"
            )
    return sorted(found.values(), key=lambda r: (r.table, r.column))


def contenttype_references(using: str) -> list[Reference]:
    """Columns pointing at django_content_type, except auth_permission's (moved by codename)."""
    from django.contrib.contenttypes.models import ContentType

    return [
        r
        for r in references_to(ContentType, using)
        if not (auth_installed() and r.table == permission_table())
    ]


def permission_references(using: str) -> list[Reference]:
    if not auth_installed():
        return []
    from django.contrib.auth.models import Permission

    return references_to(Permission, using)


def _model_tables() -> set[str]:
    from django.apps import apps

    return {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if not m._meta.swapped and not m._meta.proxy
    }


def permission_ids(using: str, ct_ids: Sequence[int]) -> list[int]:
    """The ids of the permissions of the content types CT_IDS (none without django.contrib.auth)."""
    if not auth_installed():
        return []
    return [pk for (pk,) in rows_of(using, permission_table(), ["id"], "content_type_id", ct_ids)]


def references_without_model(
    using: str, ct_ids: Sequence[int]
) -> list[tuple[Reference, list[int]]]:
    """The references in tables no installed model describes (Django's deletion collector does
    not see them), each with the ids its rows point at when the content types CT_IDS go: the
    ids of their permissions, or CT_IDS themselves."""
    tables = _model_tables()
    perm_ids = permission_ids(using, ct_ids)
    found = [
        (ref, perm_ids)
        for ref in permission_references(using)
        if ref.table not in tables and perm_ids
    ]
    found.extend(
        (ref, list(ct_ids)) for ref in contenttype_references(using) if ref.table not in tables
    )
    return found


def count_by(ref: Reference, using: str, ids: Iterable[int]) -> Counter[int]:
    """How many rows of REF point at each of IDS (one query per batch)."""
    counts: Counter[int] = Counter()
    col, table = qn(using, ref.column), qn(using, ref.table)
    for chunk in batches(sorted(set(ids))):
        rows = execute(
            using,
            f"SELECT {col}, COUNT(*) FROM {table} WHERE {col} IN ({marks(len(chunk))}) "
            f"GROUP BY {col}",
            chunk,
        )
        counts.update({key: n for key, n in rows})
    return counts


def move_references(ref: Reference, using: str, mapping: dict[int, int]) -> Counter[int]:
    """Point REF's rows at mapping[old] instead of old; how many rows each old id had.

    Link tables lose the rows that would duplicate one the new id already has (the user keeps
    the permission through the twin); every other row is updated.
    """
    if not mapping:
        return Counter()
    counts = count_by(ref, using, mapping)
    if ref.link and ref.pk:
        rows = rows_of(
            using,
            ref.table,
            [ref.pk, ref.column, *ref.others],
            ref.column,
            [*mapping, *mapping.values()],
        )
        present = {(row[1], tuple(row[2:])) for row in rows if row[1] not in mapping}
        duplicates = []
        for pk, value, *others in rows:
            if value in mapping:
                target = (mapping[value], tuple(others))
                if target in present:
                    duplicates.append(pk)
                present.add(target)
        delete_where(using, ref.table, ref.pk, duplicates)
    case_update(using, ref.table, ref.column, mapping)
    return counts
