"""Verification: what is wrong with the end state of a swap (nothing, when it is complete)."""

from __future__ import annotations

from authtools.db.schema import next_key_follows
from authtools.procedures.swap.spec import SwapSpec


def verify(spec: SwapSpec) -> list[str]:
    """What is wrong with the end state (empty when the swap is complete)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.loader import MigrationLoader

    from authtools.db.catalog import foreign_keys

    connection = connections[spec.database]
    failures = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
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
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_key_check")
            broken = cursor.fetchall()
        if broken:
            failures.append(f"{len(broken)} rows break a foreign key (PRAGMA foreign_key_check)")
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
