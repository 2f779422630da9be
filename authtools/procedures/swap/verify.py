"""Verification: what is wrong with the end state of a swap (nothing, when it is complete)."""

from __future__ import annotations

from typing import Any

from authtools.db.catalog import ForeignKey, foreign_keys
from authtools.db.schema import next_key_follows
from authtools.db.snapshot import refresh
from authtools.procedures.swap.spec import SwapSpec


def verify(spec: SwapSpec) -> list[str]:
    """What is wrong with the end state (empty when the swap is complete)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.loader import MigrationLoader

    connection = connections[spec.database]
    failures = []
    # Read again: the check is of what the database holds, not of what the run expected.
    snap = refresh(connection)
    tables = snap.tables
    for old_table, new_table in spec.renamed_tables.items():
        if new_table not in tables:
            failures.append(f"table {new_table!r} is missing")
        if old_table in tables and old_table != new_table:
            failures.append(f"table {old_table!r} is still there")
    fks = foreign_keys(connection)
    stale = [
        f"{f.table}.{f.column}"
        for f in fks
        if f.ref_table == spec.old_table and spec.old_table != spec.new_table
    ]
    if stale:
        failures.append(f"foreign keys still point at {spec.old_table!r}: {', '.join(stale)}")
    pointing = {(f.table, f.column) for f in fks if f.ref_table == spec.new_table}
    missing = [f"{t}.{c}" for t, c in spec.referencing if (t, c) not in pointing]
    if missing:
        failures.append(f"foreign keys no longer point at {spec.new_table!r}: {', '.join(missing)}")
    dangling = [
        f"{f.table}.{f.column}"
        for f in fks
        if f.ref_table in spec.renamed_tables.values() and not f.ref_column_type
    ]
    if dangling:
        failures.append(f"foreign keys point at no column: {', '.join(dangling)}")
    if connection.vendor == "sqlite":
        broken = _sqlite_broken_rows(connection, spec, fks)
        if broken:
            failures.append(
                f"{broken[1]} rows of {broken[0]} break a foreign key (PRAGMA foreign_key_check)"
            )
    if spec.new_table in tables and not next_key_follows(
        connection, spec.new_table, spec.pk_column
    ):
        failures.append(f"the next id of {spec.new_table!r} would not follow the highest one")
    for s in spec.steps:
        if s.kind == "contenttypes":
            app_label, model = s.data["new"].split(".")
            if (
                not ContentType.objects.db_manager(spec.database)
                .filter(app_label=app_label, model=model)
                .exists()
            ):
                failures.append(f"content type {s.data['new']!r} is missing")
    loader = MigrationLoader(connection)
    try:
        loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        failures.append(f"migration history is still inconsistent: {exc}")
    unapplied = [f"{a}.{n}" for a, n in spec.migrations if (a, n) not in loader.applied_migrations]
    if unapplied:
        failures.append(f"migrations not recorded: {', '.join(unapplied)}")
    return failures


def _sqlite_broken_rows(
    connection: Any, spec: SwapSpec, fks: list[ForeignKey]
) -> tuple[str, int] | None:
    """SQLite runs the swap with foreign key enforcement off. Renaming a table moves no row and
    the references follow it (checked above, from the catalog); rows change only where a
    content type is merged into an existing one: only the tables pointing at content types are
    checked then, never the whole database (the check reads every row it is given)."""
    if all(s.kind != "contenttypes" or s.data.get("relabel") for s in spec.steps):
        return None
    from django.contrib.contenttypes.models import ContentType

    target = ContentType._meta.db_table
    touched = sorted({f.table for f in fks if f.ref_table == target})
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in touched:
            cursor.execute(f"PRAGMA foreign_key_check({q(table)})")
            rows = cursor.fetchall()
            if rows:
                return table, len(rows)
    return None
