"""swap_user_model: move a live database from one user model to another by renaming, not copying.

The project is in the state people are in when they ask for this: the new model is written and
AUTH_USER_MODEL points at it, but the database holds the old model's tables and migration
history (``migrate`` fails with InconsistentMigrationHistory). The swap:

1. renames the old user table and its many-to-many tables to the new model's ``db_table``s
   (foreign keys of every app follow a renamed table on every backend);
2. renames indexes, constraints and sequences to the names ``migrate`` would have given them;
3. makes the next generated id follow the highest one;
4. relabels the old model's content type in place (same id: permissions, their assignments and
   admin log entries keep pointing right);
5. records the new app's migrations as applied, after checking that they build exactly the old
   table (they become the history an empty database is built from).

``preflight()`` reads the project and the database and returns a ``SwapSpec``: plain data, every
SQL statement included, saved in the backup so that ``--resume`` and ``--rollback`` rebuild the
very same plan. ``build_plan()`` turns a spec into a runner ``Plan``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from authtools.db.locks import LockBusy
from authtools.db.schema import (
    Rename,
    exists,
    integer_width,
    next_key_follows,
    rename_sql,
    same_key_type,
    sequence_reset_sql,
)
from authtools.procedures.plan import Plan, Runtime, Step
from authtools.procedures.runner import RunResult

__all__ = ["LockBusy", "SwapRefused", "SwapSpec", "build_plan", "preflight", "resume", "rollback"]

PROCEDURE = "swap_user_model"
SPEC = "swap-spec"
# Fault injection for the interruption tests: SIGKILL this process as the named step starts.
KILL_ENV = "AUTHTOOLS_SWAP_KILL_AT_STEP"


class SwapRefused(Exception):
    """The project is not in a state the swap can handle safely; the message says why."""


@dataclass
class StepSpec:
    """One step as data: enough to rebuild it (apply and undo) from the backup."""

    id: str
    kind: str  # renames | sql | contenttypes | migrations | file
    description: str
    details: list[str] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SwapSpec:
    database: str
    vendor: str
    old_label: str
    new_label: str
    old_table: str
    new_table: str
    pk_column: str
    steps: list[StepSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    renamed_tables: dict[str, str] = field(default_factory=dict)
    referencing: list[list[str]] = field(default_factory=list)  # [table, column] after the swap
    migrations: list[list[str]] = field(default_factory=list)  # [app, name] recorded as applied

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwapSpec:
        steps = [StepSpec(**s) for s in data.get("steps", [])]
        return cls(**{**data, "steps": steps})


# --- preflight ------------------------------------------------------------------------------


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


def _field_signature(field: Any, connection: Any) -> tuple[Any, ...]:
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
        f.column: _field_signature(f, connection) for f in model._meta.local_fields if f.concrete
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


def pk_refusal(old_table: str, old: Any, new: Any, connection: Any, state_model: Any) -> str | None:
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


def check_migrations(connection: Any, old: Any, new: Any) -> tuple[list[tuple[str, str]], Any]:
    """The new app's migrations to record as applied, and the new model's state after them.

    Refuses when they are missing, already applied, touch other models, do not build exactly
    the old table, when other migrations are unapplied, or when models have changes that are
    not in a migration.
    """
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import CreateModel
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    app = new._meta.app_label
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    if app not in loader.migrated_apps:
        raise SwapRefused(
            f"the app {app!r} of {_label(new)} has no migrations: run "
            f"`python manage.py makemigrations {app}`, then run the swap again"
        )
    ours = _new_app_migrations(loader, app)
    applied = [n for n in ours if n in loader.applied_migrations]
    if applied:
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
    for node in ours:
        migration = loader.graph.nodes[node]
        for operation in migration.operations:
            if not (
                isinstance(operation, CreateModel) and operation.name_lower == new._meta.model_name
            ):
                raise SwapRefused(
                    f"migration {app}.{node[1]} does more than create {_label(new)} "
                    f"({operation.describe()}): the swap records it as applied without running "
                    f"it; move that change to a later migration of {app!r}"
                )
    state = loader.project_state(ours[-1], at_end=True)
    state_model = state.apps.get_model(app, new._meta.model_name)
    refusal = pk_refusal(old._meta.db_table, old, new, connection, state_model)
    if refusal:
        raise SwapRefused(refusal)
    differences = mirror_differences(old, state_model, connection)
    if differences:
        raise SwapRefused(
            f"the migrations of {app!r} do not build exactly {old._meta.db_table!r} "
            f"({'; '.join(differences)}): make {_label(new)} a copy of {_label(old)}'s fields "
            "for the swap and change it in a later migration"
        )
    autodetector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(dry_run=True),
    )
    changes = autodetector.changes(graph=loader.graph)
    if changes:
        raise SwapRefused(
            f"models have changes that are not in migrations (apps {', '.join(sorted(changes))}):"
            " run makemigrations for them first"
        )
    return ours, state_model


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


def preflight(database: str, old_label: str) -> SwapSpec:
    """Read the project and the database; return the swap as data, or raise SwapRefused."""
    from django.apps import apps
    from django.db import connections

    from authtools.db.catalog import foreign_keys

    connection = connections[database]
    old, new = resolve_models(old_label)
    old_table, new_table = old._meta.db_table, new._meta.db_table
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    if old_table not in tables:
        if new_table in tables:
            raise SwapRefused(
                f"{old_table!r} is gone and {new_table!r} exists: the database already uses "
                f"{_label(new)}; run `manage.py migrate`, or diagnose_user_model"
            )
        raise SwapRefused(f"the old user table {old_table!r} does not exist in the database")
    if new_table in tables:
        raise SwapRefused(
            f"the table {new_table!r} of {_label(new)} already exists: drop it if it is empty, "
            "or swap by hand"
        )
    migrations, state_model = check_migrations(connection, old, new)
    pk_column = new._meta.pk.column
    all_fks = foreign_keys(connection)

    # Tables to rename: the user table, then each many-to-many table the new model expects.
    table_map = {old_table: new_table}
    column_renames: list[Rename] = []
    for m2m in new._meta.local_many_to_many:
        through = m2m.remote_field.through
        if not through._meta.auto_created:
            continue
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
        if found is not None and not same_key_type(connection.vendor, found, wanted):
            raise SwapRefused(
                f"{old_through}.id is {found!r} but the new model's many-to-many table would "
                f"have {wanted!r}: the swap cannot keep it as migrate builds it"
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
    )
    _add_steps(spec, connection, old, new, table_map, column_renames, all_fks)
    return spec


def primary_key_type(connection: Any, table: str) -> str | None:
    from authtools.db.catalog import primary_key

    found = primary_key(connection, table)
    return found[1] if found else None


def _rename_step(id: str, description: str, renames: list[Rename], connection: Any) -> StepSpec:
    return StepSpec(
        id=id,
        kind="renames",
        description=description,
        renames=[r.as_dict() for r in renames],
        sql=[s for r in renames for s in rename_sql(connection, r)],
    )


def _add_steps(
    spec: SwapSpec,
    connection: Any,
    old: Any,
    new: Any,
    table_map: dict[str, str],
    column_renames: list[Rename],
    all_fks: list[Any],
) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db.migrations.recorder import MigrationRecorder

    from authtools.db.schema import django_renames

    q = connection.ops.quote_name
    for number, (old_table, new_table) in enumerate(table_map.items(), 1):
        spec.steps.append(
            _rename_step(
                f"rename-table-{number}",
                f"Rename table {old_table!r} to {new_table!r}",
                [Rename("table", old_table, old_table, new_table)],
                connection,
            )
        )
    for number, rename in enumerate(column_renames, 1):
        spec.steps.append(
            _rename_step(
                f"rename-column-{number}",
                f"Rename column {rename.old!r} of {rename.table!r} to {rename.new!r}",
                [rename],
                connection,
            )
        )
    # Names of indexes, constraints and sequences, as migrate would have given them.
    for number, (old_table, new_table) in enumerate(table_map.items(), 1):
        columns = {r.old: r.new for r in column_renames if r.table == new_table}
        renames = schema_renames(connection, old_table, new_table, columns, table_map)
        if renames:
            spec.steps.append(
                _rename_step(
                    f"rename-names-{number}",
                    f"Rename {len(renames)} index/constraint/sequence names of {new_table!r}",
                    renames,
                    connection,
                )
            )
    referencing_tables = sorted(
        {fk.table for fk in all_fks if fk.ref_table == spec.old_table} - set(table_map)
    )
    fk_renames = [
        r
        for table in referencing_tables
        for r in django_renames(
            connection, table, table, {}, table_map, only_foreign_keys_to=spec.old_table
        )
    ]
    if fk_renames:
        spec.steps.append(
            _rename_step(
                "rename-foreign-keys",
                f"Rename {len(fk_renames)} foreign key constraints to {spec.new_table!r}",
                fk_renames,
                connection,
            )
        )
    elif referencing_tables and connection.vendor == "mysql":
        spec.notes.append(
            f"Foreign keys of {', '.join(referencing_tables)} follow the renamed table; MySQL "
            "cannot rename a foreign key in place, so their constraint names keep "
            f"{spec.old_table!r} (Django finds constraints by column, not by name)."
        )
    reset = sequence_reset_sql(connection, spec.new_table, spec.pk_column)
    if reset:
        spec.steps.append(
            StepSpec(
                "reset-sequence",
                "sql",
                f"Make {spec.new_table}.{spec.pk_column}'s next value follow the highest id",
                sql=reset,
            )
        )
    # Content type: relabel in place (same id) when the new label has no row yet.
    old_ct, new_ct = (f"{m._meta.app_label}.{m._meta.model_name}" for m in (old, new))
    manager = ContentType.objects.db_manager(spec.database)
    old_row = manager.filter(app_label=old._meta.app_label, model=old._meta.model_name).first()
    new_row = manager.filter(app_label=new._meta.app_label, model=new._meta.model_name).first()
    if old_row is not None:
        ct_sql = []
        details = []
        if new_row is None:
            ct_sql = [
                f"UPDATE {q(ContentType._meta.db_table)} SET {q('app_label')} = "
                f"'{new._meta.app_label}', {q('model')} = '{new._meta.model_name}' "
                f"WHERE {q('id')} = {old_row.pk}"
            ]
            details.append(
                f"content type id {old_row.pk} keeps its id: its permissions, their user and "
                "group assignments and admin log entries follow"
            )
        else:
            details.append(
                f"{new_ct!r} already has content type id {new_row.pk}: references to id "
                f"{old_row.pk} move to it (permissions, assignments, admin log, generic keys)"
            )
        spec.steps.append(
            StepSpec(
                "contenttypes",
                "contenttypes",
                f"Relabel content type {old_ct!r} as {new_ct!r}",
                details=details,
                sql=ct_sql,
                data={
                    "old": old_ct,
                    "new": new_ct,
                    "old_id": old_row.pk,
                    "relabel": new_row is None,
                },
            )
        )
    recorder_table = MigrationRecorder.Migration._meta.db_table
    spec.steps.append(
        StepSpec(
            "record-migrations",
            "migrations",
            "Record migrations "
            + ", ".join(f"{app}.{name}" for app, name in spec.migrations)
            + " as applied",
            details=[f"they build exactly {spec.old_table!r}: an empty database still migrates"],
            sql=[
                f"INSERT INTO {q(recorder_table)} ({q('app')}, {q('name')}, {q('applied')}) "
                f"VALUES ('{app}', '{name}', CURRENT_TIMESTAMP)"
                for app, name in spec.migrations
            ],
            data={"migrations": spec.migrations},
        )
    )


def schema_renames(
    connection: Any,
    old_table: str,
    new_table: str,
    columns: dict[str, str],
    table_map: dict[str, str],
) -> list[Rename]:
    from authtools.db.schema import django_renames

    return django_renames(connection, old_table, new_table, columns, table_map)


# --- the plan -------------------------------------------------------------------------------


def _maybe_die(step_id: str) -> None:
    if os.environ.get(KILL_ENV) == step_id:
        os.kill(os.getpid(), signal.SIGKILL)


def _execute(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _run_renames(connection: Any, renames: list[Rename]) -> None:
    """Each rename runs only when its source is still there, so a step can be run again."""
    for rename in renames:
        if exists(
            connection,
            rename.kind,
            rename.old,
            rename.table if rename.kind != "table" else rename.old,
        ):
            _execute(connection, rename_sql(connection, rename))


def _step(spec: SwapSpec, s: StepSpec) -> Step:
    from django.db import connections

    connection = connections[spec.database]
    renames = [Rename.from_dict(r) for r in s.renames]

    def apply(runtime: Runtime) -> Any:
        _maybe_die(s.id)
        if s.kind == "renames":
            _run_renames(connection, renames)
        elif s.kind == "sql":
            _execute(connection, s.sql)
        elif s.kind == "contenttypes":
            from django.db import transaction

            from authtools.procedures.contenttypes import remap

            with transaction.atomic(using=spec.database):
                counts = remap(spec.database, s.data["old"], s.data["new"])
            runtime.state["contenttypes"] = counts
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=True)
        return None

    def undo(runtime: Runtime) -> Any:
        if s.kind == "renames":
            _run_renames(connection, [r.reverse(_table_before(spec, r)) for r in reversed(renames)])
        elif s.kind == "contenttypes":
            undo_contenttypes(spec.database, s.data)
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=False)
        return None

    has_undo = s.kind != "contenttypes" or bool(s.data.get("relabel"))
    return Step(
        id=s.id,
        kind="rows" if s.kind in ("contenttypes", "migrations") else "sql",
        description=s.description,
        apply=apply,
        details=list(s.details),
        sql=list(s.sql),
        undo=undo if has_undo else None,
    )


def _table_before(spec: SwapSpec, rename: Rename) -> str:
    """The table a reversed rename runs against (tables are renamed back last)."""
    if rename.kind == "table":
        return rename.new
    return rename.table


def record_migrations(database: str, migrations: list[list[str]], *, applied: bool) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    done = recorder.applied_migrations()
    for app, name in migrations:
        if applied and (app, name) not in done:
            recorder.record_applied(app, name)
        elif not applied and (app, name) in done:
            recorder.record_unapplied(app, name)


def undo_contenttypes(database: str, data: dict[str, Any]) -> None:
    from django.contrib.contenttypes.models import ContentType

    app_label, model = data["old"].split(".")
    ContentType.objects.db_manager(database).filter(pk=data["old_id"]).update(
        app_label=app_label, model=model
    )
    ContentType.objects.clear_cache()


def backup_metadata(spec: SwapSpec, runtime: Runtime) -> None:
    """Save the spec (for --resume/--rollback) and every metadata row the swap changes."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db.migrations.recorder import MigrationRecorder

    runtime.backup_dir.write_json(SPEC, spec.as_dict())
    labels = [tuple(label.lower().split(".")) for label in (spec.old_label, spec.new_label)]
    cts = ContentType.objects.db_manager(spec.database)
    rows = [
        {"id": ct.pk, "app_label": ct.app_label, "model": ct.model}
        for ct in cts.all()
        if (ct.app_label, ct.model) in labels
    ]
    permissions = list(
        Permission.objects.db_manager(spec.database)
        .filter(content_type_id__in=[r["id"] for r in rows])
        .values("id", "content_type_id", "codename", "name")
    )
    apps_involved = {spec.old_label.split(".")[0], spec.new_label.split(".")[0]}
    recorder = MigrationRecorder.Migration.objects.using(spec.database)
    migrations = list(recorder.filter(app__in=apps_involved).values("id", "app", "name", "applied"))
    runtime.backup_dir.write_json(
        "metadata",
        {"content_types": rows, "permissions": permissions, "django_migrations": migrations},
    )


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
    stale = [f"{f.table}.{f.column}" for f in fks if f.ref_table == spec.old_table]
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


def build_plan(spec: SwapSpec) -> Plan:
    plan = Plan(PROCEDURE, spec.database, notes=list(spec.notes))
    for s in spec.steps:
        plan.add(_step(spec, s))
    plan.backup = lambda runtime: backup_metadata(spec, runtime)
    plan.verify = lambda runtime: verify(spec)
    plan.data["spec"] = spec
    return plan


def load_spec(backup_path: Path) -> SwapSpec:
    from authtools.procedures.backup import Backup

    backup = Backup.open(backup_path)
    if not backup.has(SPEC):
        raise SwapRefused(f"{str(backup_path)!r} holds no swap plan ({SPEC}.json is missing)")
    return SwapSpec.from_dict(backup.read_json(SPEC))


def latest_backup(root: Path) -> Path | None:
    """The newest swap backup under ROOT (its folder names sort by time)."""
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob(f"{PROCEDURE}-*") if (p / f"{SPEC}.json").is_file())
    return found[-1] if found else None


# --- running --------------------------------------------------------------------------------


@contextmanager
def locked(database: str) -> Iterator[None]:
    """Hold the database's authtools lock (PostgreSQL advisory lock, MySQL GET_LOCK)."""
    from authtools.procedures.runner import procedure_lock

    with procedure_lock(database, PROCEDURE):
        yield


@contextmanager
def ddl_session(database: str) -> Iterator[None]:
    """SQLite only runs table renames in a transaction with foreign key checks off (they must be
    turned off before the transaction starts); they are checked again in verify()."""
    from django.db import connections

    connection = connections[database]
    disabled = connection.vendor == "sqlite" and connection.disable_constraint_checking()
    try:
        yield
    finally:
        if disabled:
            connection.enable_constraint_checking()


def resume(path: Path, log: Callable[[str], None] = lambda m: None) -> RunResult:
    """Run the steps of the swap in backup PATH that its journal does not list as done."""
    from authtools.procedures.backup import Backup
    from authtools.procedures.runner import JOURNAL, execute

    plan = build_plan(load_spec(path))
    backup = Backup.open(path)
    done = frozenset(backup.read_json(JOURNAL)) if backup.has(JOURNAL) else frozenset()
    if not done:
        done = frozenset({"-"})  # the backup was taken: do not take it again
    return execute(plan, backup, log=log, skip=done)


def rollback(path: Path, log: Callable[[str], None] = lambda m: None) -> list[str]:
    """Undo the completed steps of the swap in backup PATH, newest first (in one transaction
    where the backend can roll back DDL)."""
    from django.db import transaction

    from authtools.procedures.backup import Backup
    from authtools.procedures.runner import rollback as run_rollback
    from authtools.procedures.runner import transactional_ddl

    spec = load_spec(path)
    plan = build_plan(spec)
    backup = Backup.open(path)
    if transactional_ddl(spec.database):
        with transaction.atomic(using=spec.database):
            return run_rollback(plan, backup, log)
    return run_rollback(plan, backup, log)
