"""Stage 2 of the swap, decide: what the swap does, or why it refuses.

Reads what ``inspect`` found (the models, the table names, the foreign keys, the migration
loader) and returns plain data: the migrations to record as applied or the files to generate
them over (``check_migrations``), the tables and columns to rename and the many-to-many ids to
widen (``renames``), the referencing columns (``referencing_columns``). Every refusal is a
``SwapRefused`` naming the culprit and the next step. Generation (``migrations``) comes after
this stage; ``check_generated`` takes what it generated as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authtools.db.schema import Rename, integer_width, same_key_type, unquotable
from authtools.procedures.swap.inspect import (
    fk_column,
    label,
    mirror_differences,
    module_file,
    new_app_migrations,
    old_m2m_table,
    primary_key_type,
)
from authtools.procedures.swap.keys import pk_refusal
from authtools.procedures.swap.spec import SwapRefused


def check_tables(old: Any, new: Any, tables: set[str]) -> None:
    """The old user table exists and the new one does not (unless they are the same)."""
    old_table, new_table = old._meta.db_table, new._meta.db_table
    if old_table not in tables:
        if new_table in tables:
            raise SwapRefused(
                f"{old_table!r} is gone and {new_table!r} exists: the database already uses "
                f"{label(new)}; run `manage.py migrate`, or diagnose_user_model"
            )
        raise SwapRefused(f"the old user table {old_table!r} does not exist in the database")
    if new_table in tables and new_table != old_table:
        raise SwapRefused(
            f"the table {new_table!r} of {label(new)} already exists: drop it if it is empty, "
            "or swap by hand"
        )


def check_phase1(old: Any, new: Any) -> None:
    """In phase 1 the new model keeps the old tables (Meta.db_table)."""
    old_table, new_table = old._meta.db_table, new._meta.db_table
    if old_table != new_table:
        raise SwapRefused(
            f"in phase 1 {label(new)} keeps {label(old)}'s tables: add `class Meta: db_table = "
            f"{old_table!r}` to it (its many-to-many tables follow), then run phase 1 again"
        )


@dataclass
class MigrationsCheck:
    """The new app's migrations: those recorded as applied, the new model's state after them,
    and when migrations must be generated first (in two steps), the module files of the app
    they replace (None when the app's own migrations mirror the old table already)."""

    record: list[tuple[str, str]]
    state_model: Any
    replace: list[str] | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)


def _only_creates(loader: Any, nodes: list[tuple[str, str]], new: Any) -> str | None:
    """The first operation of NODES that does more than create NEW, described; else None.
    Adding NEW's indexes and constraints counts as creating it (Django 4.2's makemigrations
    writes Meta.constraints that way): when the old table lacks them, the migrations are
    written again in two steps, the change applied for real (``mirror_differences``)."""
    from django.db.migrations.operations import (
        AddConstraint,
        AddIndex,
        AlterIndexTogether,
        AlterUniqueTogether,
        CreateModel,
    )

    name = new._meta.model_name
    for node in nodes:
        for operation in loader.graph.nodes[node].operations:
            creates = isinstance(operation, CreateModel) and operation.name_lower == name
            declares = (
                isinstance(operation, AddIndex | AddConstraint)
                and operation.model_name_lower == name
            ) or (
                isinstance(operation, AlterUniqueTogether | AlterIndexTogether)
                and operation.name_lower == name
            )
            if not (creates or declares):
                return f"{node[0]}.{node[1]} ({operation.describe()})"
    return None


def check_migrations(
    connection: Any,
    old: Any,
    new: Any,
    *,
    widen: bool = False,
    keep: bool = False,
) -> MigrationsCheck:
    """The new app's migrations to record as applied, or the files to generate them over (when
    the app has none, or when its migrations only create a model whose fields differ from the
    old table).

    Refuses when they are already applied, touch other models, when other migrations are
    unapplied, or when models have changes that are not in a migration.
    """
    from django.db.migrations.loader import MigrationLoader

    app = new._meta.app_label
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    ours = new_app_migrations(loader, app) if app in loader.migrated_apps else []
    applied = [n for n in ours if n in loader.applied_migrations]
    # The way back to auth.User: auth's migrations ran while auth.User was swapped out, so they
    # are applied but never built its table (the caller checked that the table is absent).
    already_built_elsewhere = bool(ours) and len(applied) == len(ours) and new._meta.swappable
    if applied and not already_built_elsewhere:
        raise SwapRefused(
            f"migrations of {app!r} are already applied ({', '.join(n[1] for n in applied)}): "
            "the database is not on the old model's history; run diagnose_user_model"
        )
    unapplied = sorted(
        n for n in loader.graph.nodes if n not in loader.applied_migrations and n[0] != app
    )
    if unapplied:
        listed = ", ".join(f"{a}.{n}" for a, n in unapplied[:5])
        raise SwapRefused(
            f"migrations of other apps are not applied ({listed}): apply them on the old user "
            f"model first (AUTH_USER_MODEL = {label(old)!r}, then migrate), then run the swap"
        )
    pending = [n for n in ours if n not in applied]
    extra = _only_creates(loader, pending, new)
    if extra:
        raise SwapRefused(
            f"migration {extra} does more than create {label(new)}: the swap records it as "
            f"applied without running it; move that change to a later migration of {app!r}"
        )
    if ours:
        state_model = loader.project_state(ours[-1], at_end=True).apps.get_model(
            app, new._meta.model_name
        )
        refusal = pk_refusal(old._meta.db_table, old, new, connection, state_model, widen=widen)
        if refusal and not keep:
            raise SwapRefused(refusal)
        if refusal:
            pass  # --write-model: the migration on disk has the wide key; it is generated again
        elif already_built_elsewhere or not mirror_differences(old, state_model, connection):
            refuse_pending_changes(loader, old)
            return MigrationsCheck(pending, state_model, None, applied)
    # Two steps: a mirror of the old table (recorded), then the change (applied for real).
    check_key_type(connection, old, new, widen=widen)
    lost = sorted(
        {f.name for f in old._meta.local_many_to_many}
        - {f.name for f in new._meta.local_many_to_many}
    )
    if lost:
        raise SwapRefused(
            f"{label(new)} has no many-to-many field {', '.join(map(repr, lost))}: the swap "
            "would drop its table; keep the field for the swap and remove it later"
        )
    files = [str(loader.graph.nodes[n].__module__) for n in pending]
    return MigrationsCheck([], None, [module_file(m) for m in files])


def check_key_type(connection: Any, old: Any, new: Any, *, widen: bool) -> None:
    """The live new model's key fits the old column (or --widen-keys widens it)."""
    refusal = pk_refusal(old._meta.db_table, old, new, connection, new, widen=widen)
    if refusal:
        raise SwapRefused(refusal)


def check_generated(
    connection: Any,
    old: Any,
    new: Any,
    dropped_columns: list[str],
    final: Any,
    *,
    drop_columns: bool,
) -> Any:
    """After generation: refuses dropped columns without --drop-columns, values a new unique
    column repeats, and model changes the generated migrations (seen by the loader FINAL) miss.
    Returns the new model as those migrations build it."""
    if dropped_columns and not drop_columns:
        raise SwapRefused(
            f"{label(new)} has no field for the column(s) "
            f"{', '.join(map(repr, dropped_columns))} of {old._meta.db_table!r}: run "
            "again with --drop-columns to drop them (their values are kept in the backup)"
        )
    _refuse_duplicates(connection, old, new)
    refuse_pending_changes(final, old)
    return final.project_state().apps.get_model(new._meta.app_label, new._meta.model_name)


def _refuse_duplicates(connection: Any, old: Any, new: Any) -> None:
    """A column that becomes unique must not hold the same value twice already."""
    from authtools.db.schema import quoter

    q = quoter(connection)
    old_fields = {f.column: f for f in old._meta.local_fields}
    for f in new._meta.local_fields:
        before = old_fields.get(f.column)
        if not f.unique or f.primary_key or before is None or before.unique:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {q(f.column)}, COUNT(*) FROM {q(old._meta.db_table)} "
                f"GROUP BY {q(f.column)} HAVING COUNT(*) > 1"
            )
            rows = cursor.fetchall()
        if rows:
            raise SwapRefused(
                f"{label(new)}.{f.name} is unique but {old._meta.db_table}.{f.column} holds "
                f"{len(rows)} repeated value(s) (e.g. {rows[0][0]!r}, {rows[0][1]} times): make "
                "them unique first"
            )


def refuse_pending_changes(loader: Any, old: Any) -> None:
    """Refuses when models differ from their migrations, but for the old model's keys to itself
    (``_moved_with_the_setting``)."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    autodetector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(dry_run=True),
    )
    changes = autodetector.changes(graph=loader.graph)
    changes = {
        app: found
        for app, found in changes.items()
        if not (app == old._meta.app_label and _moved_with_the_setting(found, old))
    }
    if changes:
        from authtools.procedures.swap.causes import pending_changes_refusal

        raise SwapRefused(pending_changes_refusal(sorted(changes)))


def _moved_with_the_setting(migrations: list[Any], old: Any) -> bool:
    """Whether the only changes the autodetector finds in the old model's app are the old
    model's foreign keys to itself. Its migrations wrote them as keys to
    settings.AUTH_USER_MODEL, which now names the new model, so the migration state points
    there while the model still points at itself: the setting moved, not the model. The swap
    renames the table those keys point at, and the old app goes after it (makemigrations for
    that app cannot run meanwhile: its history no longer fits)."""
    from django.db.migrations.operations import AlterField

    ops = [op for migration in migrations for op in migration.operations]

    def to_itself(op: Any) -> bool:
        target = getattr(op.field.remote_field, "model", None)
        if target is None:
            return False  # not a relation
        target_label = target.lower() if isinstance(target, str) else target._meta.label_lower
        return bool(
            op.model_name_lower == old._meta.model_name and target_label == old._meta.label_lower
        )

    return bool(ops) and all(isinstance(op, AlterField) and to_itself(op) for op in ops)


def renames(
    connection: Any, old: Any, new: Any, tables: set[str], all_fks: list[Any], state_model: Any
) -> tuple[dict[str, str], list[Rename], list[dict[str, str]]]:
    """(old table -> new table for the user table and each many-to-many table the new model
    expects, the columns of those tables to rename, the many-to-many ids to widen)."""
    old_table, new_table = old._meta.db_table, new._meta.db_table
    old_m2m = {f.name for f in old._meta.local_many_to_many}
    widen_ids: list[dict[str, str]] = []
    table_map = {old_table: new_table}
    column_renames: list[Rename] = []
    for m2m in new._meta.local_many_to_many:
        through = m2m.remote_field.through
        if not through._meta.auto_created or m2m.name not in old_m2m:
            continue  # (a many-to-many field the old model lacks is created by a migration)
        old_through = old_m2m_table(old, m2m.name, connection)
        if old_through not in tables:
            raise SwapRefused(
                f"the many-to-many table {old_through!r} of {label(old)}.{m2m.name} is missing"
            )
        new_through = through._meta.db_table
        if new_through in tables and new_through != old_through:
            raise SwapRefused(f"the table {new_through!r} already exists")
        table_map[old_through] = new_through
        target_table = m2m.remote_field.model._meta.db_table
        pairs = [
            (fk_column(all_fks, old_through, old_table), m2m.m2m_column_name()),
            (fk_column(all_fks, old_through, target_table), m2m.m2m_reverse_name()),
        ]
        for old_column, new_column in pairs:
            if old_column is None:
                raise SwapRefused(
                    f"cannot tell which column of {old_through!r} holds the foreign key for "
                    f"{m2m.name!r}: the table does not look like Django built it"
                )
            if old_column != new_column:
                column_renames.append(Rename("column", new_through, old_column, new_column))
        # Compare with the through model as the migrations build it: its primary key follows
        # DEFAULT_AUTO_FIELD there, which may differ from the app config's at run time.
        state_through = state_model._meta.get_field(m2m.name).remote_field.through
        found = primary_key_type(connection, old_through)
        wanted = state_through._meta.pk.rel_db_type(connection)
        found_width = integer_width(found or "")
        wanted_width = integer_width(state_through._meta.pk.db_type(connection) or "")
        if found_width and wanted_width and wanted_width > found_width:
            # As a fresh migrate builds it: the id follows the new app's default key type.
            widen_ids.append(
                {
                    "table": old_through,
                    "column": "id",
                    "from": {16: "SmallAutoField", 64: "BigAutoField"}.get(
                        found_width, "AutoField"
                    ),
                    "to": state_through._meta.pk.get_internal_type(),
                }
            )
        elif found is not None and not same_key_type(connection.vendor, found, wanted):
            raise SwapRefused(
                f"{old_through}.id is {found!r} but the new model's many-to-many table would "
                f"have {wanted!r}: the swap cannot keep it as migrate builds it"
            )

    for name in [*table_map.values(), *(r.new for r in column_renames)]:
        reason = unquotable(connection, name)
        if reason:
            raise SwapRefused(
                f"the table or column name {name!r} of {label(new)} cannot be used: {reason}; "
                "choose a name without it (Meta.db_table)"
            )
    return table_map, column_renames, widen_ids


def referencing_columns(
    connection: Any,
    old_table: str,
    new: Any,
    table_map: dict[str, str],
    column_renames: list[Rename],
    all_fks: list[Any],
) -> list[list[str]]:
    """[table, column] of every foreign key to the old table, as they will be named; each must
    belong to a field pointing at the new model, with the key's type."""
    from django.apps import apps

    expected = {
        (model._meta.db_table, f.column)
        for model in apps.get_models(include_auto_created=True)
        for f in model._meta.local_fields
        if f.remote_field is not None and f.remote_field.model is new
    }
    referencing: list[list[str]] = []
    for fk in [f for f in all_fks if f.ref_table == old_table]:
        table = table_map.get(fk.table, fk.table)
        column = next(
            (r.new for r in column_renames if r.table == table and r.old == fk.column), fk.column
        )
        if (table, column) not in expected:
            raise SwapRefused(
                f"the foreign key {fk.table}.{fk.column} -> {old_table}.{fk.ref_column} "
                f"({fk.constraint or 'unnamed'}) belongs to no installed model that points at "
                f"{label(new)}: install its app or drop the constraint, then run the swap again"
            )
        if not same_key_type(connection.vendor, fk.column_type, fk.ref_column_type):
            raise SwapRefused(
                f"the foreign key column {fk.table}.{fk.column} is {fk.column_type!r} but "
                f"{old_table}.{fk.ref_column} is {fk.ref_column_type!r}: fix the column type "
                "first (diagnose_user_model reports it as authtools.E503)"
            )
        referencing.append([table, column])
    return referencing
