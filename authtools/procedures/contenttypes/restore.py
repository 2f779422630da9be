"""Putting a backup's rows back exactly: what the run created deleted (as ``validation``
decides it), the scopes rewritten; the restore's own backup makes it undoable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.backup import (
    BACKUP_DOCUMENT,
    before_state,
    model_section,
    reference_sections,
)
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
from authtools.procedures.contenttypes.validation import (
    SCHEMA,
    Created,
    check_document,
    check_live,
    created_rows,
    describe_created,
    require_tables,
    section_rows,
)
from authtools.procedures.contenttypes.words import plural

PROCEDURE = "rebuild_contenttypes"
RESTORE_PROCEDURE = "rebuild_contenttypes-restore"


def restore_plan(using: str, path: Any) -> Any:
    """A Plan that puts back the rows of the rebuild_contenttypes backup folder at PATH (a
    first run's, or a restore's: restores are undone the same way), after checking it
    (manifest, digests, database, the tables and columns of every section, ``before`` against
    the live rows). Its own backup holds the rows it changes, so that it can be undone."""
    from pathlib import Path

    from authtools.procedures.backup import Backup
    from authtools.procedures.plan import Plan, Step

    require_tables(using)
    backup = Backup.open(Path(path), procedures=(PROCEDURE, RESTORE_PROCEDURE), database=using)
    if not backup.has(BACKUP_DOCUMENT):
        raise RemapError(
            f"{str(backup.path)!r} holds no {BACKUP_DOCUMENT}.json: it is not a "
            "rebuild_contenttypes backup"
        )
    document = backup.read_json(BACKUP_DOCUMENT, SCHEMA)
    file = backup.path / f"{BACKUP_DOCUMENT}.json"
    check_document(using, document, file)

    def checked(count: bool = False) -> Created:
        snapshot = read_snapshot(using)
        check_live(using, document, snapshot, file)
        return created_rows(using, document, snapshot, file, count)

    created = checked(count=True)
    plan = Plan(RESTORE_PROCEDURE, using)
    if _in_place(using, document, created):
        plan.empty_message = "Nothing to undo: the rows of this backup are in place."
        return plan
    details = describe_created(created, document)
    details += [
        f"{s['table']}: {plural(len(s['rows']), 'row')} for {s['scope_column']} in "
        f"{plural(len(s['scope']), 'value')}"
        for s in document["sections"]
        if s["scope"]
    ]

    def apply(runtime: Any) -> None:
        runtime.state["restored"] = restore(runtime.database, document, checked())
        clear_cache()

    def take_backup(runtime: Any) -> None:
        undo = undo_document(using, document, checked())
        runtime.backup_dir.write_json(BACKUP_DOCUMENT, undo)
        runtime.state["backed_up"] = sum(len(s["rows"]) for s in undo["sections"])

    plan.add(Step("restore", "rows", f"Restore the rows saved in {backup.path}", apply, details))
    plan.backup = take_backup
    plan.verify = lambda runtime: (
        []
        if _in_place(using, document, checked())
        else ["the rows differ from the backup after the restore"]
    )
    return plan


def undo_document(using: str, document: dict[str, Any], created: Created) -> dict[str, Any]:
    """The backup of a restore: the rows of every scope it writes, as they are now, and the
    rows it deletes as created by the run with what points at them (scoped by their ids).
    Restoring it puts the database back as it was before the restore."""
    from django.contrib.contenttypes.models import ContentType

    sections = section_rows(using, document["sections"])
    ct_ids, perm_ids = sorted(created.contenttypes), sorted(created.permissions)
    if ct_ids:
        sections.append(model_section(using, ContentType, ContentType._meta.pk.column, ct_ids))
    if perm_ids:
        from django.contrib.auth.models import Permission

        sections.append(model_section(using, Permission, Permission._meta.pk.column, perm_ids))
        sections += reference_sections(using, permission_references(using), perm_ids)
    if ct_ids:
        sections += reference_sections(using, contenttype_references(using), ct_ids)
    rank = {ContentType._meta.db_table: 0}
    if auth_installed():
        rank[permission_table()] = 1
    sections.sort(key=lambda s: rank.get(s["table"], 2))  # parents first (stable)
    return {
        "database": using,
        "before": before_state(read_snapshot(using)),
        "created": {"contenttypes": [], "permissions": []},
        "sections": sections,
    }


def _in_place(using: str, document: dict[str, Any], created: Created) -> bool:
    """Whether the database holds exactly the backup's rows in every scope, and nothing the
    run created."""
    if not created.empty:
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


def restore(using: str, document: dict[str, Any], created: Created) -> dict[str, int]:
    """Put the backup's rows back exactly, deleting CREATED (what the run created, as
    ``created_rows`` found it, and what points at it); counts per table. Run inside a
    transaction."""
    from django.contrib.contenttypes.models import ContentType

    counts: Counter[str] = Counter()
    created_cts, created_perms = list(created.contenttypes), created.permissions
    # 1. What the run created (and anything since pointing at it).
    if created_perms:
        refs = permission_references(using)
        counts.update(_delete_with_references(using, refs, permission_table(), created_perms))
    if created_cts:
        refs = contenttype_references(using)
        counts.update(_delete_with_references(using, refs, ContentType._meta.db_table, created_cts))
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
