"""Verification: what is wrong with the end state of a swap (nothing, when it is complete)."""

from __future__ import annotations

from typing import Any

from authtools.db.catalog import ForeignKey, foreign_keys
from authtools.db.fresh import Built, built
from authtools.db.schema import leftover_names, next_key_follows
from authtools.db.snapshot import Constraint, Snapshot, refresh
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
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None)  # the migration files only, read once for both checks
    failures += _fresh_migrate_differences(connection, spec, snap, loader)
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
    failures += _history_failures(connection, spec, loader)
    return failures


def _history_failures(connection: Any, spec: SwapSpec, loader: Any) -> list[str]:
    """The migration history read once: consistent (Django's check_consistent_history, which
    would read it a second time, given the rows) and holding the swap's migrations. LOADER has
    read the files only: the rows are the ones read here."""
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.recorder import MigrationRecorder

    recorded = MigrationRecorder(connection).applied_migrations()
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


def _fresh_migrate_differences(
    connection: Any, spec: SwapSpec, snap: Snapshot, loader: Any
) -> list[str]:
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
    # The tables the swap renamed are built by the new app's migrations: each index and
    # constraint Django's schema editor builds for the new models must be there. Their names
    # are Django's too when one CreateModel builds the model; after later migrations (an
    # AlterField names what it adds otherwise: '<table>_<column>_<hash>_uniq', '..._fk'), they
    # are the names the swap gives. Not when the swap renamed no table (phase 2: Django's
    # AlterModelTable moved them, and left the names as they were).
    one_step = _built_in_one_step(loader, model)
    failures += _built_differences(connection, snap, model, set(created), names=one_step)
    others = sorted({t for t, _ in spec.referencing} - set(spec.renamed_tables.values()))
    left = leftover_names(
        connection, snap, [] if one_step else created, others, spec.old_table, spec.new_table
    )
    for r in left:
        failures.append(
            f"{r.kind} {r.old!r} of {r.table!r} keeps an old name (a fresh migrate names it "
            f"{r.new!r})"
        )
    return failures


def _built_in_one_step(loader: Any, model: Any) -> bool:
    """Whether the migrations of MODEL's app build it with one CreateModel and change its
    schema in no later operation (options and managers aside): then a fresh migrate names its
    indexes and constraints as ``create_model`` does."""
    from django.db.migrations.operations import (
        AlterModelManagers,
        AlterModelOptions,
        CreateModel,
    )
    from django.db.migrations.operations.models import ModelOperation

    app_label, name = model._meta.app_label, model._meta.model_name
    ops = [
        op
        for key, migration in loader.graph.nodes.items()
        if key[0] == app_label
        for op in migration.operations
        if getattr(op, "model_name_lower", None) == name
        or (isinstance(op, ModelOperation) and op.name_lower == name)
    ]
    ops = [op for op in ops if not isinstance(op, AlterModelOptions | AlterModelManagers)]
    return len(ops) == 1 and isinstance(ops[0], CreateModel)


def _built_differences(
    connection: Any, snap: Snapshot, model: Any, created: set[str], *, names: bool
) -> list[str]:
    """Each index and constraint a fresh migrate of MODEL builds on a table in CREATED that the
    table lacks (matched by columns, uniqueness and reference, never by name), and with NAMES,
    each one it holds under another name where the backend can rename it (not SQLite's
    indexes, not MySQL's foreign keys) and Django or the backend named it (the names of
    Meta.indexes and Meta.constraints are the model's, and the swap keeps them)."""
    vendor = connection.vendor
    expected = [b for b in built(connection, model) if b.table in created]
    claimed = {b.name for b in expected}
    failures = []
    for b in expected:
        same: list[Any] = (
            [s for s in snap.sequences_of(b.table) if (s.column or "id") == b.columns[0]]
            if b.kind == "sequence"
            else [c for c in snap.constraints_of(b.table).values() if _same_shape(b, c)]
        )
        if not same:
            made = f" ({b.name!r})" if b.name else ""
            failures.append(
                f"{b.describe()} is missing (a fresh migrate of {model._meta.label} builds "
                f"it{made})"
            )
            continue
        if not names or vendor == "sqlite" or (vendor == "mysql" and b.kind == "foreign"):
            continue  # names kept (see kept_names and the plan's note)
        if b.declared:
            continue  # the model's own names (Meta.indexes, Meta.constraints): kept as they are
        if any(c.name == b.name for c in same):
            continue
        # The one that no other expected object claims, when several have this shape.
        old = next((c.name for c in same if c.name not in claimed), same[0].name)
        # As the swap's renames call them: MySQL's unique constraints are indexes.
        kind = b.kind if b.kind in ("index", "sequence") else "constraint"
        if vendor == "mysql":
            kind = "index"
        failures.append(
            f"{kind} {old!r} of {b.table!r} keeps an old name (a fresh migrate names it {b.name!r})"
        )
    return failures


def _same_shape(b: Built, c: Constraint) -> bool:
    if c.columns != b.columns:
        return False
    if b.kind == "foreign" and b.ref is not None:
        return c.kind == "foreign" and c.ref_table == b.ref[0] and c.ref_columns[:1] == (b.ref[1],)
    if b.kind in ("primary", "check"):
        return c.kind == b.kind
    return c.kind not in ("primary", "foreign", "check") and c.unique == b.unique


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
