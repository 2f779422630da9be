"""Checking a rebuild_contenttypes backup against its schema and against the live database,
and the one rule that decides which rows a restore may delete as "created by the run".

A backup records the content type and permission tables as they were before the run
(``before``: every row's id and natural key), the labels and (label, codename) pairs the run
was to create (``created``), and the rows of every scope the run may change (``sections``).
A live row counts as created by the run only when its natural key is listed under
``created``, it is absent from ``before``, and its id is above every id of ``before`` (ids
are handed out in increasing order, so no row that existed before the run can pass). The
``before`` state must itself match the database: every live row whose id is not above it
is in it with the same natural key (rows in a section's scope excepted: the run or a restore
changes those). A backup that fails any check is refused in one line naming the file and
the field, before anything changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from authtools.procedures.contenttypes.installed import auth_installed, permission_table
from authtools.procedures.contenttypes.references import (
    Reference,
    contenttype_references,
    count_by,
    permission_references,
)
from authtools.procedures.contenttypes.snapshot import Snapshot
from authtools.procedures.schema import Keys

SECTION = Keys(
    {
        "table": str,
        "pk": str,
        "columns": list[str],
        "scope_column": str,
        "scope": list[Any],
        "rows": list[list[Any]],
    }
)
SCHEMA = Keys(
    {
        "database": str,
        "before": Keys({"contenttypes": list[list[Any]], "permissions": list[list[Any]]}),
        "created": Keys({"contenttypes": list[str], "permissions": list[list[str]]}),
        "sections": list[SECTION],  # type: ignore[valid-type]
    }
)
Shape = tuple[str, str, frozenset[str]]  # primary key, scope column, columns


class MissingTables(Exception):
    """The content type (or permission) table is not in the database: migrate first."""


def require_tables(using: str) -> None:
    """MissingTables unless the tables rebuild_contenttypes works on exist in USING."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    tables = set(connections[using].introspection.table_names())
    needed = [ContentType._meta.db_table]
    if auth_installed():
        needed.append(permission_table())
    missing = [t for t in needed if t not in tables]
    if missing:
        raise MissingTables(
            f"The table {missing[0]!r} does not exist in the database {using!r} (never "
            "migrated?): run python manage.py migrate first, it creates the content types and "
            "permissions"
        )


def _model_shape(model: Any, scope_column: str) -> Shape:
    opts = model._meta
    return (opts.pk.column, scope_column, frozenset(f.column for f in opts.concrete_fields))


def allowed_sections(using: str) -> dict[str, list[Shape]]:
    """Every (table -> primary key, scope column, columns) a rebuild_contenttypes backup may
    hold: the content type and permission tables, the columns that point at them (assignments,
    the admin log, generic keys) and the models a --remove-stale deletion cascades to (those
    with a foreign key, directly or through each other, to a content type or permission)."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    allowed: dict[str, list[Shape]] = {}

    def allow(table: str, shape: Shape) -> None:
        allowed.setdefault(table, []).append(shape)

    reached: set[Any] = {ContentType}
    allow(ContentType._meta.db_table, _model_shape(ContentType, ContentType._meta.pk.column))
    refs = list(contenttype_references(using))
    if auth_installed():
        from django.contrib.auth.models import Permission

        reached.add(Permission)
        allow(Permission._meta.db_table, _model_shape(Permission, "content_type_id"))
        allow(Permission._meta.db_table, _model_shape(Permission, Permission._meta.pk.column))
        refs += permission_references(using)
    for ref in refs:
        if ref.pk:
            allow(ref.table, (ref.pk, ref.column, frozenset(ref.columns)))
    models = [
        m
        for m in apps.get_models(include_auto_created=True)
        if not m._meta.swapped and not m._meta.proxy
    ]
    grew = True
    while grew:
        grew = False
        for model in models:
            if model in reached:
                continue
            if any(
                f.is_relation and f.many_to_one and f.related_model in reached
                for f in model._meta.concrete_fields
            ):
                reached.add(model)
                allow(model._meta.db_table, _model_shape(model, model._meta.pk.column))
                grew = True
    return allowed


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_document(using: str, document: dict[str, Any], file: Any) -> None:
    """BackupError unless every section is one this tool writes, on tables and columns of the
    live database, with rows of the right width, plain values, unique keys, inside the scope;
    and ``before`` and ``created`` are well formed and do not contradict each other."""
    from authtools.procedures.backup import invalid

    if document["database"] != using:
        raise invalid(file, "database", f"is {document['database']!r}, not {using!r}")
    allowed = allowed_sections(using)
    for number, section in enumerate(document["sections"]):
        where = f"sections[{number}]"
        table, columns = section["table"], section["columns"]
        if table not in allowed:
            raise invalid(
                file, f"{where}.table", f"{table!r} is not a table rebuild_contenttypes backs up"
            )
        shape = (section["pk"], section["scope_column"], frozenset(columns))
        if (
            shape not in allowed[table]
            or not columns
            or columns[0] != section["pk"]
            or len(set(columns)) != len(columns)
        ):
            raise invalid(
                file,
                f"{where}.columns",
                f"{columns!r} (key {section['pk']!r}, scope {section['scope_column']!r}) are not "
                f"the columns of {table!r} that rebuild_contenttypes backs up",
            )
        if not all(_plain(v) for v in section["scope"]):
            raise invalid(file, f"{where}.scope", "holds values that are not plain")
        scope = set(section["scope"])
        at = columns.index(section["scope_column"])
        keys: set[Any] = set()
        for index, row in enumerate(section["rows"]):
            if len(row) != len(columns) or not all(_plain(v) for v in row):
                raise invalid(
                    file, f"{where}.rows[{index}]", f"is not a row of {len(columns)} plain values"
                )
            if row[at] not in scope:
                raise invalid(
                    file,
                    f"{where}.rows[{index}]",
                    f"has {section['scope_column']} {row[at]!r}, outside the section's scope",
                )
            if row[0] in keys:
                raise invalid(file, f"{where}.rows[{index}]", f"repeats the key {row[0]!r}")
            keys.add(row[0])
    _check_before(document, file)


def _check_before(document: dict[str, Any], file: Any) -> None:
    from authtools.procedures.backup import invalid

    before = document["before"]
    ids: set[Any] = set()
    labels: set[str] = set()
    for index, row in enumerate(before["contenttypes"]):
        ok = len(row) == 3 and _int(row[0]) and all(isinstance(v, str) for v in row[1:])
        if not ok or row[0] in ids or f"{row[1]}.{row[2]}" in labels:
            raise invalid(
                file,
                f"before.contenttypes[{index}]",
                "is not a distinct [id, app_label, model] row",
            )
        ids.add(row[0])
        labels.add(f"{row[1]}.{row[2]}")
    perm_ids: set[Any] = set()
    for index, row in enumerate(before["permissions"]):
        ok = len(row) == 3 and _int(row[0]) and _int(row[1]) and isinstance(row[2], str)
        if not ok or row[0] in perm_ids:
            raise invalid(
                file,
                f"before.permissions[{index}]",
                "is not a distinct [id, content_type_id, codename] row",
            )
        perm_ids.add(row[0])
    label_of = {row[0]: f"{row[1]}.{row[2]}" for row in before["contenttypes"]}
    keys = {(label_of.get(row[1]), row[2]) for row in before["permissions"]}
    for index, label in enumerate(document["created"]["contenttypes"]):
        if label.count(".") != 1:
            raise invalid(file, f"created.contenttypes[{index}]", "is not an 'app.model' label")
        if label in labels:
            raise invalid(
                file,
                f"created.contenttypes[{index}]",
                f"{label!r} is in before.contenttypes: it existed before the run, which did "
                "not create it",
            )
    for index, pair in enumerate(document["created"]["permissions"]):
        if len(pair) != 2:
            raise invalid(file, f"created.permissions[{index}]", "is not [label, codename]")
        if (pair[0], pair[1]) in keys:
            raise invalid(
                file,
                f"created.permissions[{index}]",
                f"{pair!r} is in before.permissions: it existed before the run, which did not "
                "create it",
            )


def _scoped(document: dict[str, Any], table: str, column: str) -> set[Any]:
    """The scope values of DOCUMENT's sections on TABLE scoped by COLUMN."""
    return {
        value
        for s in document["sections"]
        if s["table"] == table and s["scope_column"] == column
        for value in s["scope"]
    }


def check_live(using: str, document: dict[str, Any], snapshot: Snapshot, file: Any) -> None:
    """BackupError unless ``before`` describes this database: every live content type and
    permission whose id is not above the ids of ``before`` is in it with the same natural key
    (rows in the scope of a section excepted)."""
    from django.contrib.contenttypes.models import ContentType

    from authtools.procedures.backup import invalid

    before = document["before"]
    labels = {row[0]: f"{row[1]}.{row[2]}" for row in before["contenttypes"]}
    top = max(labels, default=0)
    ct_scope = _scoped(document, ContentType._meta.db_table, ContentType._meta.pk.column)
    for pk, label in sorted(snapshot.contenttypes.items()):
        if pk <= top and pk not in ct_scope and labels.get(pk) != label:
            was = f"{labels[pk]!r}" if pk in labels else "not in it"
            raise invalid(
                file,
                "before.contenttypes",
                f"does not match the database: content type id {pk} is {label!r} there, {was} "
                "in the backup (another database, or changed since the backup)",
            )
    if not auth_installed():
        return
    perms = {row[0]: (row[1], row[2]) for row in before["permissions"]}
    perm_top = max(perms, default=0)
    table = permission_table()
    by_ct, by_id = _scoped(document, table, "content_type_id"), _scoped(document, table, "id")
    for p in snapshot.permissions:
        if p.id > perm_top or p.id in by_id or p.content_type_id in by_ct:
            continue
        if perms.get(p.id) != (p.content_type_id, p.codename):
            raise invalid(
                file,
                "before.permissions",
                f"does not match the database: permission id {p.id} "
                f"({p.codename!r} of content type {p.content_type_id}) is not in the backup as "
                "it is there (another database, or changed since the backup)",
            )


@dataclass
class Created:
    """The live rows a restore deletes as created by the run, and what points at them now."""

    contenttypes: dict[int, str] = field(default_factory=dict)  # id -> label
    permissions: list[int] = field(default_factory=list)  # created, and added since to them
    added_since: int = 0  # permissions of created content types the run did not create
    references: list[tuple[Reference, int]] = field(default_factory=list)  # rows pointing

    @property
    def empty(self) -> bool:
        return not self.contenttypes and not self.permissions


def created_rows(
    using: str, document: dict[str, Any], snapshot: Snapshot, file: Any, count: bool = False
) -> Created:
    """The live rows the run created (see the module's rule), the permissions added since to a
    content type it created, and with COUNT, how many rows of each reference point at them."""
    from authtools.procedures.backup import invalid

    before = document["before"]
    ct_before = {row[0] for row in before["contenttypes"]}
    ct_top = max(ct_before, default=0)
    perm_before = {row[0] for row in before["permissions"]}
    perm_top = max(perm_before, default=0)
    labels = set(document["created"]["contenttypes"])
    out = Created()
    out.contenttypes = {
        pk: label
        for pk, label in snapshot.contenttypes.items()
        if label in labels and pk not in ct_before and pk > ct_top
    }
    pairs = {(label, codename) for label, codename in document["created"]["permissions"]}
    for p in snapshot.permissions:
        made = (
            (snapshot.contenttypes.get(p.content_type_id), p.codename) in pairs
            and p.id not in perm_before
            and p.id > perm_top
        )
        if made:
            out.permissions.append(p.id)
        elif p.content_type_id in out.contenttypes:
            if p.id in perm_before:
                raise invalid(
                    file,
                    "before.permissions",
                    f"holds permission id {p.id}, which now belongs to content type "
                    f"{p.content_type_id}, created by the run: where it belongs cannot be told",
                )
            out.permissions.append(p.id)
            out.added_since += 1
    if count:
        refs = [(r, out.permissions) for r in permission_references(using)]
        refs += [(r, list(out.contenttypes)) for r in contenttype_references(using)]
        for ref, ids in refs:
            n = sum(count_by(ref, using, ids).values()) if ids else 0
            if n:
                out.references.append((ref, n))
    return out


def describe_created(created: Created, document: dict[str, Any]) -> list[str]:
    """The plan's lines for deleting what the run created, cascades included."""
    from authtools.procedures.contenttypes.words import plural

    if not (document["created"]["contenttypes"] or document["created"]["permissions"]):
        return []
    made = len(created.permissions) - created.added_since
    lines = [
        "delete what the run created: "
        f"{plural(len(created.contenttypes), 'content type')}, {plural(made, 'permission')}"
    ]
    if created.contenttypes:
        lines.append("  content types: " + ", ".join(sorted(created.contenttypes.values())))
    cascades = [f"{plural(n, 'row')} of {ref.name}" for ref, n in created.references]
    if created.added_since:
        cascades.insert(0, plural(created.added_since, "permission") + " added since")
    if cascades:
        lines.append("  deleting too what points at them now: " + ", ".join(cascades))
    return lines


def section_rows(using: str, sections: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """SECTIONS with the rows their scopes hold now (for the backup a restore takes)."""
    from authtools.procedures.contenttypes.sql import rows_of

    return [
        {
            **s,
            "rows": rows_of(using, s["table"], s["columns"], s["scope_column"], s["scope"])
            if s["scope"]
            else [],
        }
        for s in sections
    ]
