"""Verification: what is wrong with the end state of a swap (nothing, when it is complete)."""

from __future__ import annotations

from typing import Any

from authtools.db.catalog import ForeignKey, foreign_keys
from authtools.db.schema import leftover_names, next_key_follows
from authtools.db.snapshot import Snapshot, refresh
from authtools.procedures.swap.spec import SwapSpec


def verify(spec: SwapSpec) -> list[str]:
    """What is wrong with the end state (empty when the swap is complete)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

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
    failures += _fresh_migrate_differences(connection, spec, snap)
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
    failures += _history_failures(connection, spec)
    return failures


def _history_failures(connection: Any, spec: SwapSpec) -> list[str]:
    """The migration history read once: consistent (Django's check_consistent_history, which
    would read it a second time, given the rows) and holding the swap's migrations."""
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    recorded = MigrationRecorder(connection).applied_migrations()
    loader = MigrationLoader(None)  # the files only: the rows are the ones just read
    failures = []
    try:
        _check_consistent(loader, recorded, connection.alias)
    except InconsistentMigrationHistory as exc:
        failures.append(f"migration history is still inconsistent: {exc}")

    def applied(key: tuple[str, str]) -> bool:
        # As the loader counts a squashed migration: applied when all it replaces are.
        replacing = loader.replacements.get(key)
        return key in recorded or (
            replacing is not None and all(k in recorded for k in replacing.replaces)
        )

    unapplied = [f"{a}.{n}" for a, n in spec.migrations if not applied((a, n))]
    if unapplied:
        failures.append(f"migrations not recorded: {', '.join(unapplied)}")
    return failures


def _check_consistent(loader: Any, recorded: Any, alias: str) -> None:
    """Django's MigrationLoader.check_consistent_history, on rows already read (it reads them
    itself): an applied migration whose dependency is not applied (nor all it replaces)."""
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    for migration in recorded:
        if migration not in loader.graph.nodes:
            continue
        for parent in loader.graph.node_map[migration].parents:
            if parent in recorded:
                continue
            replacing = loader.replacements.get(parent)
            if replacing is not None and all(m in recorded for m in replacing.replaces):
                continue
            raise InconsistentMigrationHistory(
                f"Migration {migration[0]}.{migration[1]} is applied before its dependency "
                f"{parent[0]}.{parent[1]} on database {alias!r}."
            )


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


def _fresh_migrate_differences(connection: Any, spec: SwapSpec, snap: Snapshot) -> list[str]:
    """Where the schema the swap left differs from what a fresh migrate of the new models
    builds: the columns of the user table and its many-to-many tables, where each foreign key
    to them (and of them) points, and the names the backend can rename. Computed from the
    models and the catalog snapshot already read (no second migrate, no further catalog read)."""
    from django.apps import apps

    try:
        model = apps.get_model(spec.new_label)
    except LookupError:
        return []  # the new model is gone (the way back): nothing to compare with
    if model._meta.db_table != spec.new_table:
        return []
    failures: list[str] = []
    through = [
        f.remote_field.through
        for f in model._meta.local_many_to_many
        if f.remote_field.through is not None and f.remote_field.through._meta.auto_created
    ]
    for m in (model, *through):
        table = m._meta.db_table
        if table not in snap.columns:
            continue  # reported above when the swap moved it
        expected = {f.column for f in m._meta.local_concrete_fields}
        actual = set(snap.columns[table])
        if actual - expected:
            failures.append(
                f"table {table!r} has column(s) {', '.join(sorted(actual - expected))} that a "
                f"fresh migrate of {m._meta.label} would not build"
            )
        if expected - actual:
            failures.append(
                f"table {table!r} lacks column(s) {', '.join(sorted(expected - actual))} of "
                f"{m._meta.label}"
            )
    if connection.features.supports_foreign_keys:
        points = {
            (c.table, col): (c.ref_table, c.ref_columns[i] if i < len(c.ref_columns) else "")
            for c in snap.foreign_keys()
            for i, col in enumerate(c.columns)
        }
        for table, column, target in _expected_foreign_keys(model, through):
            if table not in snap.columns:
                continue
            found = points.get((table, column))
            if found is None:
                failures.append(
                    f"foreign key {table}.{column} is missing (a fresh migrate points it at "
                    f"{target[0]}.{target[1]})"
                )
            elif found != target:
                failures.append(
                    f"foreign key {table}.{column} points at {found[0]}.{found[1]}, a fresh "
                    f"migrate points it at {target[0]}.{target[1]}"
                )
    created = [r["new"] for s in spec.steps for r in s.renames if r.get("kind") == "table"]
    # The many-to-many tables are built by the new app's migrations: checked as created when the
    # swap renamed them, else (phase 2: Django's AlterModelTable moved them) named as it left them.
    others = sorted({t for t, _ in spec.referencing} - set(spec.renamed_tables.values()))
    for r in leftover_names(connection, snap, created, others, spec.old_table, spec.new_table):
        failures.append(
            f"{r.kind} {r.old!r} of {r.table!r} keeps an old name (a fresh migrate names it "
            f"{r.new!r})"
        )
    return failures


def _expected_foreign_keys(
    model: Any, through: list[Any]
) -> list[tuple[str, str, tuple[str, str]]]:
    """(table, column, (referenced table, column)) of every foreign key constraint a fresh
    migrate builds to MODEL and in its many-to-many tables."""
    from django.apps import apps

    out: list[tuple[str, str, tuple[str, str]]] = []
    for m in apps.get_models(include_auto_created=True):
        opts = m._meta
        if not opts.managed or opts.proxy:
            continue
        for f in opts.local_concrete_fields:
            field: Any = f
            remote = getattr(field, "remote_field", None)
            if remote is None or not getattr(field, "db_constraint", False):
                continue
            if remote.model is model or m in through:
                target = field.target_field
                out.append(
                    (opts.db_table, field.column, (target.model._meta.db_table, target.column))
                )
    return sorted(out)
