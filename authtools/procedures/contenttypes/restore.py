"""Putting a backup's rows back exactly: what the run created deleted, the scopes rewritten."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.backup import BACKUP_DOCUMENT
from authtools.procedures.contenttypes.inspect import RemapError
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
from authtools.procedures.contenttypes.snapshot import read_snapshot
from authtools.procedures.contenttypes.sql import delete_where, execute, marks, qn, rows_of
from authtools.procedures.contenttypes.words import plural
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
        "created": Keys({"contenttypes": list[str], "permissions": list[list[str]]}),
        "sections": list[SECTION],  # type: ignore[valid-type]
    }
)
Shape = tuple[str, str, frozenset[str]]  # primary key, scope column, columns


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


def check_document(using: str, document: dict[str, Any], file: Any) -> None:
    """BackupError unless every section is one this tool writes, on tables and columns of the
    live database, with rows of the right width and plain values."""
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
        if shape not in allowed[table] or not columns or columns[0] != section["pk"]:
            raise invalid(
                file,
                f"{where}.columns",
                f"{columns!r} (key {section['pk']!r}, scope {section['scope_column']!r}) are not "
                f"the columns of {table!r} that rebuild_contenttypes backs up",
            )
        for index, row in enumerate(section["rows"]):
            if len(row) != len(columns) or not all(_plain(v) for v in row):
                raise invalid(
                    file, f"{where}.rows[{index}]", f"is not a row of {len(columns)} plain values"
                )
        if not all(_plain(v) for v in section["scope"]):
            raise invalid(file, f"{where}.scope", "holds values that are not plain")
    for index, label in enumerate(document["created"]["contenttypes"]):
        if label.count(".") != 1:
            raise invalid(file, f"created.contenttypes[{index}]", "is not an 'app.model' label")
    for index, pair in enumerate(document["created"]["permissions"]):
        if len(pair) != 2:
            raise invalid(file, f"created.permissions[{index}]", "is not [label, codename]")


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def restore_plan(using: str, path: Any) -> Any:
    """A Plan that puts back the rows of the rebuild_contenttypes backup folder at PATH, after
    checking it (manifest, digests, database, the tables and columns of every section)."""
    from pathlib import Path

    from authtools.procedures.backup import Backup
    from authtools.procedures.plan import Plan, Step

    backup = Backup.open(Path(path), procedures=("rebuild_contenttypes",), database=using)
    if not backup.has(BACKUP_DOCUMENT):
        raise RemapError(
            f"{str(backup.path)!r} holds no {BACKUP_DOCUMENT}.json: it is not a "
            "rebuild_contenttypes backup"
        )
    document = backup.read_json(BACKUP_DOCUMENT, SCHEMA)
    check_document(using, document, backup.path / f"{BACKUP_DOCUMENT}.json")
    plan = Plan("rebuild_contenttypes-restore", using)
    if _in_place(using, document):
        plan.empty_message = "Nothing to undo: the rows of this backup are in place."
        return plan
    created = document["created"]
    details = [
        f"{s['table']}: {plural(len(s['rows']), 'row')} for {s['scope_column']} in "
        f"{plural(len(s['scope']), 'value')}"
        for s in document["sections"]
    ]
    if created["contenttypes"] or created["permissions"]:
        details.insert(
            0,
            "delete what the run created: "
            f"{plural(len(created['contenttypes']), 'content type')}, "
            f"{plural(len(created['permissions']), 'permission')}",
        )

    def apply(runtime: Any) -> None:
        runtime.state["restored"] = restore(runtime.database, document)
        clear_cache()

    plan.add(Step("restore", "rows", f"Restore the rows saved in {backup.path}", apply, details))
    plan.verify = lambda runtime: (
        [] if _in_place(using, document) else ["the rows differ from the backup after the restore"]
    )
    return plan


def _in_place(using: str, document: dict[str, Any]) -> bool:
    """Whether the database holds exactly the backup's rows in every scope, and nothing the
    run created."""
    snapshot = read_snapshot(using)
    if any(label in snapshot.by_label for label in document["created"]["contenttypes"]):
        return False
    created = document["created"]["permissions"]
    if any(
        [snapshot.contenttypes.get(p.content_type_id), p.codename] in created
        for p in snapshot.permissions
    ):
        return False
    for s in document["sections"]:
        if not s["scope"]:
            continue
        now = rows_of(using, s["table"], s["columns"], s["scope_column"], s["scope"])
        if sorted(map(_normal, now)) != sorted(map(_normal, s["rows"])):
            return False
    return True


def _normal(row: Sequence[Any]) -> list[Any]:
    """A row as the backup's JSON has it (dates and decimals as strings)."""
    return [v if v is None or isinstance(v, (int, float, bool)) else str(v) for v in row]


def restore(using: str, document: dict[str, Any]) -> dict[str, int]:
    """Put the backup's rows back exactly; counts per table. Run inside a transaction."""
    counts: Counter[str] = Counter()
    snapshot = read_snapshot(using)
    ids = snapshot.by_label
    created_cts = [ids[label] for label in document["created"]["contenttypes"] if label in ids]
    created_perms = [
        p.id
        for p in snapshot.permissions
        if [snapshot.contenttypes.get(p.content_type_id), p.codename]
        in document["created"]["permissions"]
        or p.content_type_id in created_cts
    ]
    # 1. What the run created (and anything since pointing at it).
    if created_perms:
        refs = permission_references(using)
        counts.update(_delete_with_references(using, refs, permission_table(), created_perms))
    if created_cts:
        refs = contenttype_references(using)
        counts.update(_delete_with_references(using, refs, "django_content_type", created_cts))
    sections = document["sections"]
    # 2. Rows that entered a scope since the backup, children first.
    for s in reversed(sections):
        if not s["scope"]:
            continue
        kept = {row[0] for row in s["rows"]}
        now = rows_of(using, s["table"], [s["pk"]], s["scope_column"], s["scope"])
        extra = [row[0] for row in now if row[0] not in kept]
        counts[s["table"]] += delete_where(using, s["table"], s["pk"], extra)
    # 3. The saved rows, parents first: updated where they exist, inserted where they do not.
    for s in sections:
        if not s["rows"]:
            continue
        table, pk, columns = s["table"], s["pk"], s["columns"]
        existing = {row[0] for row in rows_of(using, table, [pk], pk, [r[0] for r in s["rows"]])}
        sets = ", ".join(f"{qn(using, c)} = %s" for c in columns[1:])
        inserts = []
        for row in s["rows"]:
            if row[0] in existing:
                if columns[1:]:
                    execute(
                        using,
                        f"UPDATE {qn(using, table)} SET {sets} WHERE {qn(using, pk)} = %s",
                        [*row[1:], row[0]],
                    )
            else:
                inserts.append(row)
        if inserts:
            from django.db import connections

            cols = ", ".join(qn(using, c) for c in columns)
            with connections[using].cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {qn(using, table)} ({cols}) VALUES ({marks(len(columns))})",
                    inserts,
                )
        counts[table] += len(s["rows"])
    _reset_sequences(using, [s["table"] for s in sections])
    return dict(sorted((k, v) for k, v in counts.items() if v))


def _delete_with_references(
    using: str, refs: Sequence[Reference], table: str, ids: Sequence[int]
) -> Counter[str]:
    """Delete the rows IDS of TABLE and the rows of REFS that point at them; counts per table."""
    counts: Counter[str] = Counter()
    for ref in refs:
        counts[ref.table] += delete_where(using, ref.table, ref.column, ids)
    counts[table] += delete_where(using, table, "id", ids)
    return counts


def _reset_sequences(using: str, tables: Sequence[str]) -> None:
    """PostgreSQL: rows inserted with explicit ids leave the id sequence behind; move it on."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connections

    connection = connections[using]
    models = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.db_table in set(tables) and not m._meta.swapped
    ]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
