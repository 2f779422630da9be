"""Putting a backup's rows back exactly: what the run created deleted, the scopes rewritten."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.backup import BACKUP_DOCUMENT
from authtools.procedures.contenttypes.inspect import RemapError
from authtools.procedures.contenttypes.installed import clear_cache, permission_table
from authtools.procedures.contenttypes.references import (
    Reference,
    contenttype_references,
    permission_references,
)
from authtools.procedures.contenttypes.snapshot import read_snapshot
from authtools.procedures.contenttypes.sql import delete_where, execute, marks, qn, rows_of
from authtools.procedures.contenttypes.words import plural


def restore_plan(using: str, backup: Any) -> Any:
    """A Plan that puts back the rows of a rebuild_contenttypes backup folder."""
    from authtools.procedures.plan import Plan, Step

    if not backup.has(BACKUP_DOCUMENT):
        raise RemapError(
            f"{str(backup.path)!r} holds no {BACKUP_DOCUMENT}.json: it is not a "
            "rebuild_contenttypes backup"
        )
    document = backup.read_json(BACKUP_DOCUMENT)
    plan = Plan("rebuild_contenttypes-restore", using)
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
    return plan


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
