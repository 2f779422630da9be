"""Preflight: read the project and the database, refuse what cannot be swapped safely, and
return the swap as a ``SwapSpec``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authtools.db.schema import Rename, integer_width, same_key_type, unquotable
from authtools.procedures.swap.keys import KEEP, WIDEN, model_edit, row_counts, wider_key
from authtools.procedures.swap.keys import keep_key_in_process as _keep_key
from authtools.procedures.swap.migrations import (
    GeneratedMigrations,
    final_loader,
    generate,
    generate_phase2,
)
from authtools.procedures.swap.plan import add_key_steps, add_migration_steps, add_steps
from authtools.procedures.swap.spec import SwapRefused, SwapSpec


def _label(model: Any) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}"


def resolve_models(old_label: str) -> tuple[Any, Any]:
    """(old model, new model) as the running Django knows them; refuses what cannot be swapped."""
    from django.apps import apps
    from django.conf import settings

    try:
        old = apps.get_model(old_label)
    except (LookupError, ValueError) as exc:
        raise SwapRefused(
            f"--from {old_label!r} names no installed model ({exc}); give the old user model as "
            "app_label.ModelName, e.g. --from auth.User"
        ) from exc
    new = apps.get_model(settings.AUTH_USER_MODEL)
    if old is new:
        raise SwapRefused(
            f"AUTH_USER_MODEL is still {settings.AUTH_USER_MODEL!r}, the model given to --from; "
            "write the new model, point AUTH_USER_MODEL at it, then run the swap"
        )
    return old, new


def field_signature(field: Any, connection: Any) -> tuple[Any, ...]:
    return (
        field.column,
        field.db_type(connection),
        bool(field.null),
        bool(field.primary_key),
        bool(field.unique),
        bool(field.db_index),
    )


def _table_signature(model: Any, connection: Any) -> dict[str, tuple[Any, ...]]:
    return {
        f.column: field_signature(f, connection) for f in model._meta.local_fields if f.concrete
    }


def mirror_differences(old: Any, new_state_model: Any, connection: Any) -> list[str]:
    """How the new model (as its migrations build it) differs from the old model's table."""
    old_sig = _table_signature(old, connection)
    new_sig = _table_signature(new_state_model, connection)
    out = []
    for column in sorted(set(old_sig) | set(new_sig)):
        a, b = old_sig.get(column), new_sig.get(column)
        if a is None:
            out.append(f"column {column!r} is new ({b[1] if b else ''})")
        elif b is None:
            out.append(f"column {column!r} would be dropped")
        elif a != b:
            out.append(
                f"column {column!r} differs: {a[1]} null={a[2]} unique={a[4]} -> "
                f"{b[1]} null={b[2]} unique={b[4]}"
            )
    old_m2m = {f.name for f in old._meta.local_many_to_many}
    new_m2m = {f.name for f in new_state_model._meta.local_many_to_many}
    for name in sorted(old_m2m ^ new_m2m):
        out.append(
            f"many-to-many {name!r} is only on {'the old' if name in old_m2m else 'the new'} model"
        )
    return out


def pk_refusal(
    old_table: str, old: Any, new: Any, connection: Any, state_model: Any, *, widen: bool = False
) -> str | None:
    """The reason to refuse when the new primary key's type differs from the old column's
    (in the database, or in kind: an AutoField and a BigAutoField are both 'integer' on SQLite
    but not on PostgreSQL or MySQL, where the same migrations may run)."""
    from authtools.db.catalog import primary_key

    found = primary_key(connection, old_table)
    if found is None:
        return f"the old user table {old_table!r} does not exist in the database"
    column, db_type = found
    new_pk, old_pk = state_model._meta.pk, old._meta.pk
    new_type = new_pk.rel_db_type(connection)
    new_kind, old_kind = new_pk.get_internal_type(), old_pk.get_internal_type()
    if same_key_type(connection.vendor, db_type, new_type) and new_kind == old_kind:
        return None
    if widen and wider_key(connection, db_type, state_model):
        return None  # --widen-keys: the change migration alters the key and its references
    if not old_kind.endswith("AutoField"):
        old_kind = {32: "AutoField", 64: "BigAutoField", 16: "SmallAutoField"}.get(
            integer_width(db_type) or 0, old_kind
        )
    return (
        f"{_label(new)}'s primary key would be a {new_kind} ({new_type!r}) but "
        f"{old_table}.{column} is {db_type!r} ({_label(old)}'s {old_kind}): add "
        f"`{new_pk.name} = models.{old_kind}(primary_key=True)` to {_label(new)} (or set "
        f"default_auto_field = 'django.db.models.{old_kind}' on its app config), regenerate "
        "its migration and run the swap again"
    )


def _new_app_migrations(loader: Any, app_label: str) -> list[tuple[str, str]]:
    """The new app's migrations in dependency order."""
    nodes = [n for n in loader.graph.leaf_nodes() if n[0] == app_label]
    ordered: list[tuple[str, str]] = []
    for leaf in nodes:
        for node in loader.graph.forwards_plan(leaf):
            if node[0] == app_label and node not in ordered:
                ordered.append(node)
    return ordered


@dataclass
class MigrationsCheck:
    """The new app's migrations: those recorded as applied, the new model's state after them,
    and the migrations to generate first (None when the app's own migrations mirror the old
    table already)."""

    record: list[tuple[str, str]]
    state_model: Any
    generated: GeneratedMigrations | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)


def _only_creates(loader: Any, nodes: list[tuple[str, str]], new: Any) -> str | None:
    """The first operation of NODES that does more than create NEW, described; else None."""
    from django.db.migrations.operations import CreateModel

    for node in nodes:
        for operation in loader.graph.nodes[node].operations:
            if not (
                isinstance(operation, CreateModel) and operation.name_lower == new._meta.model_name
            ):
                return f"{node[0]}.{node[1]} ({operation.describe()})"
    return None


def check_migrations(
    connection: Any,
    old: Any,
    new: Any,
    *,
    drop_columns: bool = False,
    widen: bool = False,
    keep: bool = False,
) -> MigrationsCheck:
    """The new app's migrations to record as applied (generated in two steps when the app has
    none, or when its migrations only create a model whose fields differ from the old table).

    Refuses when they are already applied, touch other models, would drop columns without
    --drop-columns, when other migrations are unapplied, or when models have changes that are
    not in a migration.
    """
    from django.db.migrations.loader import MigrationLoader

    app = new._meta.app_label
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    ours = _new_app_migrations(loader, app) if app in loader.migrated_apps else []
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
            f"model first (AUTH_USER_MODEL = {_label(old)!r}, then migrate), then run the swap"
        )
    pending = [n for n in ours if n not in applied]
    extra = _only_creates(loader, pending, new)
    if extra:
        raise SwapRefused(
            f"migration {extra} does more than create {_label(new)}: the swap records it as "
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
            _refuse_pending_changes(loader)
            return MigrationsCheck(pending, state_model, None, applied)
    # Two steps: a mirror of the old table (recorded), then the change (applied for real).
    refusal = pk_refusal(old._meta.db_table, old, new, connection, new, widen=widen)
    if refusal:
        raise SwapRefused(refusal)
    lost = sorted(
        {f.name for f in old._meta.local_many_to_many}
        - {f.name for f in new._meta.local_many_to_many}
    )
    if lost:
        raise SwapRefused(
            f"{_label(new)} has no many-to-many field {', '.join(map(repr, lost))}: the swap "
            "would drop its table; keep the field for the swap and remove it later"
        )
    files = [str(loader.graph.nodes[n].__module__) for n in pending]
    generated = generate(connection, old, new, [_module_file(m) for m in files])
    if generated.dropped_columns and not drop_columns:
        raise SwapRefused(
            f"{_label(new)} has no field for the column(s) "
            f"{', '.join(map(repr, generated.dropped_columns))} of {old._meta.db_table!r}: run "
            "again with --drop-columns to drop them (their values are kept in the backup)"
        )
    _refuse_duplicates(connection, old, new)
    final = final_loader(connection, app, generated)
    _refuse_pending_changes(final)
    state_model = final.project_state().apps.get_model(app, new._meta.model_name)
    return MigrationsCheck([generated.mirror] if generated.mirror else [], state_model, generated)


def check_phase2(
    connection: Any,
    old: Any,
    new: Any,
    after: tuple[str, str],
    *,
    drop_columns: bool,
    widen: bool = False,
) -> MigrationsCheck:
    """Phase 2's migrations: the table move (recorded) and the other changes (applied)."""
    refusal = pk_refusal(old._meta.db_table, old, new, connection, new, widen=widen)
    if refusal:
        raise SwapRefused(refusal)
    generated = generate_phase2(connection, old, new, after)
    if generated.dropped_columns and not drop_columns:
        raise SwapRefused(
            f"{_label(new)} has no field for the column(s) "
            f"{', '.join(map(repr, generated.dropped_columns))} of {old._meta.db_table!r}: run "
            "again with --drop-columns to drop them (their values are kept in the backup)"
        )
    _refuse_duplicates(connection, old, new)
    final = final_loader(connection, new._meta.app_label, generated)
    _refuse_pending_changes(final)
    state_model = final.project_state().apps.get_model(new._meta.app_label, new._meta.model_name)
    return MigrationsCheck([generated.mirror] if generated.mirror else [], state_model, generated)


def _module_file(module: str) -> str:
    import importlib

    return str(importlib.import_module(module).__file__)


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
                f"{_label(new)}.{f.name} is unique but {old._meta.db_table}.{f.column} holds "
                f"{len(rows)} repeated value(s) (e.g. {rows[0][0]!r}, {rows[0][1]} times): make "
                "them unique first"
            )


def _refuse_pending_changes(loader: Any) -> None:
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
    if changes:
        from authtools.procedures.swap.causes import pending_changes_refusal

        raise SwapRefused(pending_changes_refusal(sorted(changes)))


def _old_m2m_table(old: Any, field_name: str, connection: Any) -> str:
    from django.db.backends.utils import truncate_name

    old_field = old._meta.get_field(field_name)
    if old_field.remote_field.through is not None and not old._meta.swapped:
        return str(old_field.remote_field.through._meta.db_table)
    if old_field.db_table:
        return str(old_field.db_table)
    return str(
        truncate_name(f"{old._meta.db_table}_{field_name}", connection.ops.max_name_length())
    )


def _fk_column(fks: list[Any], table: str, ref_table: str) -> str | None:
    columns = [fk.column for fk in fks if fk.table == table and fk.ref_table == ref_table]
    return columns[0] if len(columns) == 1 else None


def resolve_phase2(connection: Any) -> tuple[Any, Any, tuple[str, str]]:
    """Phase 2: (the user model as its applied migrations left it, on the old table; the live
    model, on its own table; the app's last applied migration)."""
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    new = apps.get_model(settings.AUTH_USER_MODEL)
    app = new._meta.app_label
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    unapplied = sorted(n for n in loader.graph.nodes if n not in loader.applied_migrations)
    if unapplied:
        listed = ", ".join(f"{a}.{n}" for a, n in unapplied[:5])
        raise SwapRefused(
            f"migrations are not applied ({listed}): phase 2 writes the migrations of {app!r} "
            "itself; delete the new ones of that app, apply the others, then run phase 2"
        )
    ours = _new_app_migrations(loader, app) if app in loader.migrated_apps else []
    if not ours:
        raise SwapRefused(f"{_label(new)} has no applied migrations: run phase 1 first")
    old = loader.project_state(ours[-1], at_end=True).apps.get_model(app, new._meta.model_name)
    if old._meta.db_table == new._meta.db_table:
        raise SwapRefused(
            f"{_label(new)} is on {new._meta.db_table!r} already: remove its "
            f"Meta.db_table = {old._meta.db_table!r} (phase 1's), then run phase 2"
        )
    return old, new, ours[-1]


class KeyWidthRefused(SwapRefused):
    """The new model's key is wider than the old one and no route was chosen. ``str()`` names
    the two commands that work; ``command`` is the command line they extend."""

    def __init__(self, reason: str, write_model: str, widen: str) -> None:
        self.reason, self.write_model, self.widen = reason, write_model, widen
        self.command = "python manage.py swap_user_model"
        super().__init__(reason)

    def __str__(self) -> str:
        return (
            f"{self.reason}: keep the 32-bit key with `{self.command} --write-model` "
            f"({self.write_model}), or widen it with `{self.command} --widen-keys` ({self.widen})"
        )


def _key_route(
    connection: Any, old: Any, new: Any, old_table: str, all_fks: list[Any], keys: str | None
) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """The route for a key wider than the old column's: (the model file edit, the row counts
    of the tables --widen-keys rewrites, notes). Refuses when no route is chosen."""
    from authtools.db.catalog import primary_key

    found = primary_key(connection, old_table)
    if found is None or not wider_key(connection, found[1], new):
        if keys is not None:
            option = "--write-model" if keys == KEEP else "--widen-keys"
            raise SwapRefused(
                f"{option} is for a new key wider than the old one, but {_label(new)}'s key "
                f"already fits {old_table}.{found[0] if found else 'id'}: run without {option}"
            )
        return {}, {}, []
    column, db_type = found
    pk = new._meta.pk
    kind = pk.get_internal_type()
    old_class = {16: "SmallAutoField", 32: "AutoField"}.get(
        integer_width(db_type) or 0, "AutoField"
    )
    referencing = sorted({fk.table for fk in all_fks if fk.ref_table == old_table})
    try:
        edit = model_edit(new, old_class) if pk.auto_created else None
    except (OSError, SyntaxError, ValueError):
        edit = None
    if keys is None:
        where = (
            f"adds `{pk.name} = models.{old_class}(primary_key=True)` to "
            f"{_label(new)} in {edit.path.name}, shown as a diff first"
            if edit is not None
            else f"declare `{pk.name} = models.{old_class}(primary_key=True)` on {_label(new)}"
        )
        raise KeyWidthRefused(
            f"{_label(new)}'s primary key would be a {kind} "
            f"({pk.rel_db_type(connection)!r}) but {old_table}.{column} is {db_type!r} "
            f"({_label(old)}'s {old_class}, 32-bit)",
            where,
            f"rewrites {old_table} and the {len(referencing)} table(s) whose foreign keys "
            "point at it",
        )
    if keys == WIDEN:
        if connection.vendor == "sqlite":
            note = (
                f"--widen-keys: SQLite stores every integer in 64 bits, so {old_table}.{column} "
                "and the foreign keys pointing at it hold 64-bit keys already; the change "
                f"migration rebuilds {old_table} ({row_counts(connection, [old_table])[old_table]}"
                " rows) and the foreign key columns keep their declared type 'integer' (a fresh "
                "migrate declares 'bigint': the same storage)."
            )
            return {}, {}, [note]
        counts = row_counts(connection, [old_table, *referencing])
        total = sum(counts.values())
        note = (
            f"--widen-keys: {old_table}.{column} and the foreign keys pointing at it become "
            f"{pk.rel_db_type(connection)!r}: every row of "
            + ", ".join(f"{t} ({n} rows)" for t, n in counts.items())
            + f" is rewritten ({total} rows, time grows with them)"
            + (
                ", in the swap's transaction"
                if connection.features.can_rollback_ddl
                else "; MariaDB/MySQL commit each ALTER: --rollback undoes it"
            )
            + "."
        )
        return {}, counts, [note]
    if edit is None:
        raise SwapRefused(
            f"--write-model adds an explicit primary key to {_label(new)}, but its key "
            f"{pk.name!r} is declared in the model already: declare it as "
            f"`models.{old_class}(primary_key=True)` yourself, or use --widen-keys"
        )
    _keep_key(new, old_class)
    data = {"path": str(edit.path), "before": edit.before, "after": edit.after}
    note = (
        f"--write-model: {_label(new)} keeps the 32-bit key of {old_table}.{column} "
        f"(`{pk.name} = models.{old_class}(primary_key=True)`); its migration is generated for it."
    )
    return data, {}, [note]


def preflight(
    database: str,
    old_label: str | None,
    *,
    drop_columns: bool = False,
    phase: int | None = None,
    keys: str | None = None,
) -> SwapSpec:
    """Read the project and the database; return the swap as data, or raise SwapRefused.

    PHASE 1 swaps to a model that keeps the old tables (Meta.db_table); PHASE 2 then moves that
    model to its own tables (and changes its fields); None does both at once.
    """
    from django.apps import apps
    from django.db import connections

    from authtools.db.catalog import foreign_keys

    connection = connections[database]
    after: tuple[str, str] | None = None
    if phase == 2:
        old, new, after = resolve_phase2(connection)
    else:
        old, new = resolve_models(old_label or "")
    old_table, new_table = old._meta.db_table, new._meta.db_table
    if phase == 1 and old_table != new_table:
        raise SwapRefused(
            f"in phase 1 {_label(new)} keeps {_label(old)}'s tables: add `class Meta: db_table = "
            f"{old_table!r}` to it (its many-to-many tables follow), then run phase 1 again"
        )
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    if old_table not in tables:
        if new_table in tables:
            raise SwapRefused(
                f"{old_table!r} is gone and {new_table!r} exists: the database already uses "
                f"{_label(new)}; run `manage.py migrate`, or diagnose_user_model"
            )
        raise SwapRefused(f"the old user table {old_table!r} does not exist in the database")
    if new_table in tables and new_table != old_table:
        raise SwapRefused(
            f"the table {new_table!r} of {_label(new)} already exists: drop it if it is empty, "
            "or swap by hand"
        )
    all_fks = foreign_keys(connection)
    edit, widen_rows, key_notes = _key_route(connection, old, new, old_table, all_fks, keys)
    widen = keys == WIDEN
    if after is not None:
        checked = check_phase2(connection, old, new, after, drop_columns=drop_columns, widen=widen)
    else:
        checked = check_migrations(
            connection, old, new, drop_columns=drop_columns, widen=widen, keep=keys == KEEP
        )
    migrations, state_model = checked.record, checked.state_model
    old_m2m = {f.name for f in old._meta.local_many_to_many}
    pk_column = new._meta.pk.column
    widen_ids: list[dict[str, str]] = []

    # Tables to rename: the user table, then each many-to-many table the new model expects.
    table_map = {old_table: new_table}
    column_renames: list[Rename] = []
    for m2m in new._meta.local_many_to_many:
        through = m2m.remote_field.through
        if not through._meta.auto_created or m2m.name not in old_m2m:
            continue  # (a many-to-many field the old model lacks is created by a migration)
        old_through = _old_m2m_table(old, m2m.name, connection)
        if old_through not in tables:
            raise SwapRefused(
                f"the many-to-many table {old_through!r} of {_label(old)}.{m2m.name} is missing"
            )
        new_through = through._meta.db_table
        if new_through in tables and new_through != old_through:
            raise SwapRefused(f"the table {new_through!r} already exists")
        table_map[old_through] = new_through
        target_table = m2m.remote_field.model._meta.db_table
        pairs = [
            (_fk_column(all_fks, old_through, old_table), m2m.m2m_column_name()),
            (_fk_column(all_fks, old_through, target_table), m2m.m2m_reverse_name()),
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
                f"the table or column name {name!r} of {_label(new)} cannot be used: {reason}; "
                "choose a name without it (Meta.db_table)"
            )

    # Every foreign key to the old table must belong to a field pointing at the new model.
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
                f"{_label(new)}: install its app or drop the constraint, then run the swap again"
            )
        if not same_key_type(connection.vendor, fk.column_type, fk.ref_column_type):
            raise SwapRefused(
                f"the foreign key column {fk.table}.{fk.column} is {fk.column_type!r} but "
                f"{old_table}.{fk.ref_column} is {fk.ref_column_type!r}: fix the column type "
                "first (diagnose_user_model reports it as authtools.E503)"
            )
        referencing.append([table, column])

    spec = SwapSpec(
        database=database,
        vendor=connection.vendor,
        old_label=_label(old),
        new_label=_label(new),
        old_table=old_table,
        new_table=new_table,
        pk_column=pk_column,
        renamed_tables=table_map,
        referencing=sorted(referencing),
        migrations=[list(m) for m in migrations],
        keys=keys,
        model_edit=edit,
        widen_rows=widen_rows,
        widen_ids=widen_ids,
        notes=key_notes,
    )
    add_steps(spec, connection, old, new, table_map, column_renames, all_fks)
    if checked.generated is not None:
        add_migration_steps(spec, checked.generated)
    add_key_steps(spec, connection)
    return spec


def primary_key_type(connection: Any, table: str) -> str | None:
    from authtools.db.catalog import primary_key

    found = primary_key(connection, table)
    return found[1] if found else None
