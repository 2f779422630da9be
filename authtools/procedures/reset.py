"""The migration reset: regenerate one app's migrations, repair the files and the
django_migrations rows that named the old ones, and prove the end state.

``build_plan`` inspects the project (read-only) and returns a Plan; ``build_restore_plan`` puts a
backup back. Both refuse bad input with ResetError before anything changes.

The temporary AUTH_USER_MODEL revert (the seed's procedure 5) changes one thing: how
``settings.AUTH_USER_MODEL`` resolves while Django loads migration files, so that other apps'
swappable dependencies point at ``auth`` instead of the user app. It matters when other apps'
migrations were applied (against another user model) before the user app's tables existed:
under the real value their dependency on the user app's new initial migration makes Django's
history check refuse (InconsistentMigrationHistory, even makemigrations). The plan then uses it
automatically: makemigrations under 'auth.User', the new migration applied with Django's
MigrationExecutor under the real value (so foreign keys inside the user app still point at its
own table), then makemigrations under the real value once the history is consistent, which must
find nothing more to write (``--via-auth-user`` asks for the same sequence in any state).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from authtools.procedures import childproc
from authtools.procedures.backup import Backup
from authtools.procedures.migration_files import (
    migration_files,
    rewrite_dependencies,
    unified_diff,
)
from authtools.procedures.plan import Plan, Runtime, Step

PROCEDURE = "reset_user_migrations"
DOCUMENT = "reset"
REVERT = {"AUTH_USER_MODEL": "auth.User"}
PLACEHOLDER = "__first__"
PREDICTED = "0001_initial"
OTHER_PROCEDURES = ("swap_user_model", "rebuild_contenttypes")


class ResetError(Exception):
    """Bad input or a state the reset cannot handle; one line, nothing was changed."""


@dataclass
class Row:
    id: int
    name: str
    applied: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "applied": self.applied}


@dataclass
class Dependent:
    """Another app's migration file whose dependencies name migrations of the app by name."""

    path: Path
    key: tuple[str, str]
    names: list[str]
    source: str


@dataclass
class TableCheck:
    """What the database already holds of the tables and columns of the app's models."""

    tables: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def absent(self) -> bool:
        return not self.present


@dataclass
class Inspection:
    label: str
    database: str
    root: Path
    migrations_module: str
    folder: Path
    files: list[Path]
    disk_names: list[str]
    rows: list[Row]
    dependents: list[Dependent]
    graph_error: str | None
    history_error: str | None
    pending: bool
    tables: TableCheck
    pending_elsewhere: list[tuple[str, str, list[str]]] = field(default_factory=list)
    applied_dependents: list[str] = field(default_factory=list)
    via_auth_user: bool = False
    revert_reason: str | None = None

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    @property
    def healthy(self) -> bool:
        return (
            self.graph_error is None
            and self.history_error is None
            and not self.pending
            and len(self.disk_names) == 1
            and sorted(r.name for r in self.rows) == self.disk_names
        )


# --- inspection (read-only) ---------------------------------------------------------------


def project_root() -> Path:
    from authtools.diagnosis.boot import booted_state
    from authtools.diagnosis.context import Context

    return Context.create(booted_state()).project_root


def resolve_app(label: str | None) -> Any:
    """The AppConfig to reset: LABEL, or the app of AUTH_USER_MODEL."""
    from django.apps import apps
    from django.conf import settings

    if label is None:
        label = str(settings.AUTH_USER_MODEL).split(".")[0]
    try:
        config = apps.get_app_config(label)
    except LookupError:
        raise ResetError(
            f"No installed app with label {label!r}; pass the label of an app in INSTALLED_APPS."
        ) from None
    if not list(config.get_models()):
        raise ResetError(f"App {label!r} has no models: there are no migrations to reset.")
    return config


def migrations_folder(config: Any, root: Path) -> tuple[str, Path]:
    """The app's migrations package and its folder; it must exist, be the project's, be writable."""
    from django.db.migrations.loader import MigrationLoader

    module_name, _ = MigrationLoader.migrations_module(config.label)
    if module_name is None:
        raise ResetError(f"Migrations of {config.label!r} are disabled in MIGRATION_MODULES.")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise ResetError(
            f"App {config.label!r} has no migrations package {module_name!r}; create "
            f"{config.label}/migrations/__init__.py (or run makemigrations {config.label})."
        ) from None
    if getattr(module, "__file__", None) is None:
        raise ResetError(
            f"Migrations package {module_name!r} has no __init__.py; Django ignores it. Add one."
        )
    folder = Path(module.__file__).parent  # type: ignore[arg-type]
    if not folder.resolve().is_relative_to(root.resolve()):
        raise ResetError(
            f"Migrations of {config.label!r} live outside the project ({str(folder)!r}); "
            "only the project's own apps can be reset."
        )
    writable_or_raise(folder)
    return module_name, folder


def writable_or_raise(folder: Path) -> None:
    """os.access alone says yes to root everywhere, so also write and remove a probe file."""
    problem = None
    if not os.access(folder, os.W_OK | os.X_OK):
        problem = "not writable"
    else:
        try:
            fd, probe = tempfile.mkstemp(prefix=".authtools-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            problem = exc.strerror or "not writable"
    if problem:
        raise ResetError(
            f"Migrations folder {str(folder)!r} is {problem}; make it writable and run again."
        )


def check_database(database: str) -> None:
    from django.db import connections

    try:
        connections[database].ensure_connection()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResetError(
            f"Database {database!r} cannot be reached ({first}); start it or fix DATABASES."
        ) from None


def read_rows(database: str, label: str) -> list[Row]:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    if not recorder.has_table():
        return []
    return [
        Row(m.id, m.name, m.applied.isoformat())
        for m in recorder.migration_qs.filter(app=label).order_by("id")
    ]


def disk_migrations(label: str) -> tuple[list[str], list[Dependent], dict[tuple[str, str], Any]]:
    """The app's migration names on disk, other apps' files that name one of them, and every
    migration on disk by key."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, load=False)
    try:
        loader.load_disk()
    except Exception as exc:
        raise ResetError(f"Migration files cannot be loaded: {type(exc).__name__}: {exc}") from None
    names = sorted(name for app, name in loader.disk_migrations if app == label)
    dependents = []
    for key, migration in sorted(loader.disk_migrations.items()):
        if key[0] == label:
            continue
        named = [
            dep[1]
            for dep in migration.dependencies
            if dep[0] == label and dep[1] not in ("__first__", "__latest__")
        ]
        if named:
            path = Path(sys.modules[migration.__module__].__file__ or "")
            dependents.append(Dependent(path, key, named, path.read_text()))
    return names, dependents, dict(loader.disk_migrations)


def applied_dependents(label: str, disk: dict[tuple[str, str], Any], database: str) -> list[str]:
    """Other apps' applied migrations that depend on LABEL (by name or through
    ``swappable_dependency``): Django's history check refuses to apply LABEL's new initial
    migration after them under the real AUTH_USER_MODEL."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    applied = set(recorder.applied_migrations()) if recorder.has_table() else set()
    return [
        f"{key[0]}.{key[1]}"
        for key, migration in sorted(disk.items())
        if key[0] != label and key in applied and any(d[0] == label for d in migration.dependencies)
    ]


DESTRUCTIVE = ("DeleteModel", "RemoveField", "RunSQL", "RunPython")


def pending_elsewhere(
    label: str, disk: dict[tuple[str, str], Any], database: str
) -> list[tuple[str, str, list[str]]]:
    """Other apps' migrations that are on disk and not applied: (app, name, operation names).

    Squashes are counted the way Django's loader uses them: a squash stands in for its
    replaced migrations when all or none of them are applied."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    applied = set(recorder.applied_migrations()) if recorder.has_table() else set()
    skip: set[tuple[str, str]] = set()
    for key, migration in disk.items():
        replaced = [tuple(r) for r in migration.replaces]
        if not replaced:
            continue
        done = [r in applied for r in replaced]
        if all(done) or not any(done):
            skip.update(replaced)
            if all(done):
                skip.add(key)
        else:
            skip.add(key)
    return [
        (key[0], key[1], [type(op).__name__ for op in migration.operations])
        for key, migration in sorted(disk.items())
        if key[0] != label and key not in applied and key not in skip
    ]


def graph_state(database: str, label: str) -> tuple[str | None, str | None, bool]:
    """(graph error, history error, pending changes for LABEL) as Django sees them now."""
    from django.apps import apps
    from django.db import connections
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    connection = connections[database]
    try:
        loader = MigrationLoader(connection, ignore_no_migrations=True)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", None, True
    history = None
    try:
        loader.check_consistent_history(connection)
    except Exception as exc:
        history = f"{type(exc).__name__}: {exc}"
    try:
        changes = MigrationAutodetector(
            loader.project_state(),
            ProjectState.from_apps(apps),
            NonInteractiveMigrationQuestioner(specified_apps={label}, dry_run=True),
        ).changes(graph=loader.graph, trim_to_apps={label})
    except Exception:
        return None, history, True
    return None, history, label in changes


def table_check(config: Any, database: str) -> TableCheck:
    """Which tables and columns of the app's models the database already has (introspected)."""
    from django.db import connections

    connection = connections[database]
    check = TableCheck()
    with connection.cursor() as cursor:
        existing = {t.casefold(): t for t in connection.introspection.table_names(cursor)}
        for model in config.get_models(include_auto_created=True):
            meta = model._meta
            if not meta.managed or meta.proxy or meta.swapped:
                continue
            table = meta.db_table
            check.tables.append(table)
            if table.casefold() not in existing:
                check.missing.append(table)
                continue
            check.present.append(table)
            columns = {
                c.name.casefold()
                for c in connection.introspection.get_table_description(
                    cursor, existing[table.casefold()]
                )
            }
            for f in meta.local_concrete_fields:
                if f.column.casefold() not in columns:
                    check.missing.append(f"{table}.{f.column}")
    return check


def inspect(label: str | None, database: str, *, via_auth_user: bool = False) -> Inspection:
    """Everything the plan needs, read without changing anything. Raises ResetError."""
    config = resolve_app(label)
    root = project_root()
    module_name, folder = migrations_folder(config, root)
    check_database(database)
    names, dependents, disk = disk_migrations(config.label)
    for dependent in dependents:
        writable_or_raise(dependent.path.parent)
    graph_error, history_error, pending = graph_state(database, config.label)
    return Inspection(
        label=config.label,
        database=database,
        root=root,
        migrations_module=module_name,
        folder=folder,
        files=migration_files(folder),
        disk_names=names,
        rows=read_rows(database, config.label),
        dependents=dependents,
        graph_error=graph_error,
        history_error=history_error,
        pending=pending,
        tables=table_check(config, database),
        pending_elsewhere=pending_elsewhere(config.label, disk, database),
        applied_dependents=applied_dependents(config.label, disk, database),
        via_auth_user=via_auth_user,
        revert_reason="asked for with --via-auth-user" if via_auth_user else None,
    )


# --- the plan ----------------------------------------------------------------------------


def build_plan(
    label: str | None,
    database: str,
    *,
    via_auth_user: bool = False,
    reset_db: bool = False,
    force: bool = False,
) -> Plan:
    """The reset of LABEL's migrations as a Plan (empty when there is nothing to do)."""
    if reset_db:
        from django.conf import settings

        if not (settings.DEBUG or force):
            raise ResetError(
                "--reset-db drops the whole database and is for development only: refused "
                "because DEBUG is False. Pass --force if this really is a development database."
            )
    ins = inspect(label, database, via_auth_user=via_auth_user)
    plan = Plan(PROCEDURE, database)
    plan.data["app_label"] = ins.label
    if ins.healthy and not reset_db and not via_auth_user:
        plan.notes.append(
            f"{ins.label!r} has one migration, applied and consistent, and no pending changes."
        )
        return plan
    if not reset_db and ins.tables.present and ins.tables.missing:
        raise ResetError(
            f"The database holds only part of {ins.label!r}'s tables and columns (missing: "
            f"{', '.join(ins.tables.missing[:5])}); neither recording nor applying a new initial "
            "migration is safe. Fix the schema by hand, or --reset-db a development database."
        )
    if not ins.via_auth_user and ins.tables.missing and ins.applied_dependents:
        ins.via_auth_user = True
        ins.revert_reason = (
            f"automatic: {', '.join(ins.applied_dependents[:3])}"
            f"{' and others' if len(ins.applied_dependents) > 3 else ''} were applied against "
            f"another user model before the tables of {ins.label!r} existed"
        )
    plan.backup = lambda runtime: save_backup(ins, runtime.backup_dir, dump=reset_db)
    _add_file_steps(plan, ins)
    if reset_db:
        _add_reset_db_steps(plan, ins)
    else:
        _add_row_steps(plan, ins)
    if ins.via_auth_user:
        _add_real_makemigrations_step(plan, ins)
    if not reset_db:
        _add_migrate_step(plan, ins)
    plan.verify = lambda runtime: verify(ins, runtime)
    if ins.history_error and ins.tables.missing and not reset_db:
        plan.notes.append(
            f"Other apps' migrations were applied before the tables of {ins.label!r} existed, so "
            "their foreign keys point at another user model's table: this reset repairs the "
            "migration history only; then run swap_user_model (diagnose_user_model reports E405)."
        )
    plan.notes.append(
        f"Backup first: {len(ins.files) + len(ins.dependents)} file(s) and {len(ins.rows)} "
        "django_migrations row(s); undo with --restore BACKUP."
    )
    return plan


def _add_file_steps(plan: Plan, ins: Inspection) -> None:
    label = ins.label
    if ins.files:
        plan.add(
            Step(
                "delete-files",
                "file",
                f"Delete the {len(ins.files)} migration file(s) of {label!r}",
                lambda rt: delete_migration_files(ins.folder),
                details=[ins.display(p) for p in ins.files],
                atomic=False,
            )
        )
    if ins.dependents:
        plan.add(
            Step(
                "detach-dependents",
                "file",
                f"Point {len(ins.dependents)} other migration file(s) at ({label!r}, "
                f"{PLACEHOLDER!r}) while makemigrations runs",
                lambda rt: _rewrite_dependents(
                    ins, {n: PLACEHOLDER for d in ins.dependents for n in d.names}
                ),
                details=[f"{ins.display(d.path)}: {', '.join(d.names)}" for d in ins.dependents],
                atomic=False,
            )
        )
    how = (
        f"with AUTH_USER_MODEL='auth.User' ({ins.revert_reason})"
        if ins.via_auth_user
        else "with the real AUTH_USER_MODEL"
    )
    plan.add(
        Step(
            "makemigrations",
            "command",
            f"Run makemigrations {label} {how}",
            lambda rt: run_makemigrations(ins, rt),
            details=[f"expected: {ins.display(ins.folder / (PREDICTED + '.py'))}"],
            atomic=False,
        )
    )
    if ins.dependents:
        details: list[str] = []
        for d in ins.dependents:
            new = rewrite_dependencies(d.source, label, {n: PREDICTED for n in d.names})
            diff = unified_diff(d.source, new, ins.display(d.path))
            details += diff or [f"{ins.display(d.path)}: unchanged, ({label!r}, {PREDICTED!r})"]
        plan.add(
            Step(
                "repoint-dependents",
                "file",
                f"Point those dependencies at the new last migration of {label!r}",
                lambda rt: _rewrite_dependents(
                    ins, {n: rt.state["leaf"] for d in ins.dependents for n in d.names}
                ),
                details=details,
                atomic=False,
            )
        )


def _add_row_steps(plan: Plan, ins: Inspection) -> None:
    from django.db import connections

    label = ins.label
    table = connections[ins.database].ops.quote_name("django_migrations")
    if ins.rows:
        plan.add(
            Step(
                "delete-rows",
                "rows",
                f"Delete {len(ins.rows)} row(s) of {label!r} from django_migrations",
                lambda rt: delete_rows(ins),
                details=[f"id {r.id}: {label}.{r.name} (applied {r.applied})" for r in ins.rows],
                sql=[
                    f"DELETE FROM {table} WHERE app = '{label}' AND id IN "
                    f"({', '.join(str(r.id) for r in ins.rows)})"
                ],
            )
        )
    if ins.tables.complete:
        plan.add(
            Step(
                "record-initial",
                "rows",
                f"Record {label}.{PREDICTED} as applied: the database has its tables and columns",
                lambda rt: record_generated(ins, rt),
                details=[f"found table {t}" for t in ins.tables.present],
            )
        )
    else:
        # Not atomic: SQLite's schema editor cannot run inside an outer transaction.
        plan.add(
            Step(
                "apply-initial",
                "command",
                f"Apply {label}.{PREDICTED} with Django's MigrationExecutor (tables missing)",
                lambda rt: apply_generated(ins, rt),
                details=[f"creates table {t}" for t in ins.tables.tables],
                atomic=False,
            )
        )


def _add_real_makemigrations_step(plan: Plan, ins: Inspection) -> None:
    plan.add(
        Step(
            "makemigrations-real",
            "command",
            f"Run makemigrations {ins.label} with the real AUTH_USER_MODEL (now that the history "
            "is consistent) and apply what it writes, if anything",
            lambda rt: run_makemigrations_real(ins, rt),
            atomic=False,
        )
    )


def _add_migrate_step(plan: Plan, ins: Inspection) -> None:
    """Other apps' migrations that could not run while the history was broken (the seed's
    last step, "migrate"); never one that can drop a table, a column or rows."""
    if not ins.pending_elsewhere:
        return
    risky = [f"{a}.{n}" for a, n, ops in ins.pending_elsewhere if set(ops) & set(DESTRUCTIVE)]
    if risky:
        plan.notes.append(
            f"Not applied, as they may drop data: {', '.join(risky)}; back up the database "
            "and run migrate yourself (until then migrate --check fails)."
        )
        return
    plan.add(
        Step(
            "migrate-others",
            "command",
            f"Run migrate for {len(ins.pending_elsewhere)} migration(s) of other apps that "
            "could not run before",
            lambda rt: _child(ins, ["migrate", "--noinput", "--database", ins.database]),
            details=[f"{a}.{n}: {', '.join(ops)}" for a, n, ops in ins.pending_elsewhere],
            atomic=False,
        )
    )


def _add_reset_db_steps(plan: Plan, ins: Inspection) -> None:
    from django.conf import settings

    plan.notes.append(
        "The backup also gets every row as dumpdata writes it (data.json; load it with "
        "loaddata): --restore puts back files and migration records, not rows."
    )
    name = settings.DATABASES[ins.database].get("NAME")
    plan.add(
        Step(
            "reset-db",
            "command",
            f"Drop and recreate database {str(name)!r} with django-extensions' reset_db "
            "(every table and row in it is lost)",
            lambda rt: drop_and_recreate(ins),
            atomic=False,
        )
    )
    plan.add(
        Step(
            "migrate",
            "command",
            "Run migrate on the empty database",
            lambda rt: _child(ins, ["migrate", "--noinput", "--database", ins.database]),
            atomic=False,
        )
    )


# --- step actions ----------------------------------------------------------------------------


def drop_and_recreate(ins: Inspection) -> None:
    """reset_db in a child process. PostgreSQL refuses to drop a database with sessions, ours
    included (it holds the procedure's advisory lock, which ends with the database anyway)."""
    from django.db import connections

    connections[ins.database].close()
    _child(ins, ["reset_db", "--noinput", "--database", ins.database])


def delete_migration_files(folder: Path) -> None:
    for path in migration_files(folder):
        path.unlink()
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)


def _rewrite_dependents(ins: Inspection, mapping: dict[str, str]) -> None:
    for d in ins.dependents:
        d.path.write_text(rewrite_dependencies(d.source, ins.label, mapping))
        shutil.rmtree(d.path.parent / "__pycache__", ignore_errors=True)


def _child(
    ins: Inspection, args: list[str], overrides: dict[str, Any] | None = None
) -> childproc.ChildResult:
    result = childproc.run_manage(args, overrides, cwd=ins.root)
    if not result.ok:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {_last_line(result)}")
    return result


def run_makemigrations(ins: Inspection, rt: Runtime) -> None:
    """makemigrations LABEL, under the temporary revert when the plan chose it."""
    before = {p.name for p in migration_files(ins.folder)}
    args = ["makemigrations", ins.label, "--noinput", "--skip-checks"]
    # --skip-checks: under the revert, an AbstractUser-based model clashes with auth.User
    # (fields.E304) and makemigrations would refuse; `check` runs at the end instead.
    result = _child(ins, args, REVERT if ins.via_auth_user else None)
    generated = sorted(p.name[:-3] for p in migration_files(ins.folder) if p.name not in before)
    if not generated:
        raise RuntimeError(f"makemigrations wrote no migration for {ins.label!r}")
    rt.state.update(
        generated=generated,
        leaf=generated[-1],
        makemigrations=[
            {
                "auth_user_model": "auth.User" if ins.via_auth_user else "real",
                "output": result.stdout.strip(),
            }
        ],
        revert=ins.revert_reason,
    )


def run_makemigrations_real(ins: Inspection, rt: Runtime) -> None:
    """The second half of the revert: makemigrations with the real value, once the history is
    consistent (before, Django refuses: InconsistentMigrationHistory). Whatever it writes is
    what the real value needs beyond the reverted run; it is applied at once."""
    before = {p.name for p in migration_files(ins.folder)}
    result = _child(ins, ["makemigrations", ins.label, "--noinput", "--skip-checks"])
    rt.state["makemigrations"].append({"auth_user_model": "real", "output": result.stdout.strip()})
    extra = sorted(p.name[:-3] for p in migration_files(ins.folder) if p.name not in before)
    rt.state["generated_real"] = extra
    if extra:
        rt.state["generated"] += extra
        rt.state["leaf"] = extra[-1]
        _rewrite_dependents(ins, {n: extra[-1] for d in ins.dependents for n in d.names})
        apply_generated(ins, rt)


def _last_line(result: childproc.ChildResult) -> str:
    return result.last_error_line().rstrip(".")


def delete_rows(ins: Inspection) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[ins.database])
    recorder.migration_qs.filter(app=ins.label, id__in=[r.id for r in ins.rows]).delete()


def fresh_loader(ins: Inspection) -> Any:
    """A MigrationLoader that sees the files as they are now, not as first imported."""
    from django.db import connections
    from django.db.migrations.loader import MigrationLoader

    prefix = ins.migrations_module + "."
    paths = {d.path.resolve() for d in ins.dependents}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith(prefix) or (file and Path(file).resolve() in paths):
            del sys.modules[name]
    importlib.invalidate_caches()
    return MigrationLoader(connections[ins.database])


def record_generated(ins: Inspection, rt: Runtime) -> None:
    """Record the new migrations as applied after Django's own introspection agrees."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    loader = fresh_loader(ins)
    executor = MigrationExecutor(connections[ins.database])
    executor.loader = loader
    for name in rt.state["generated"]:
        migration = loader.get_migration(ins.label, name)
        if migration.initial:
            soft, _ = executor.detect_soft_applied(None, migration)
            if not soft:
                raise RuntimeError(
                    f"{ins.label}.{name}'s tables or columns are not all in the database"
                )
        executor.recorder.record_applied(ins.label, name)
    rt.state["recorded"] = list(rt.state["generated"])


def apply_generated(ins: Inspection, rt: Runtime) -> None:
    """Apply the new migrations in graph order (skipping migrate's history check, which
    would refuse because other apps' applied migrations already depend on them)."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    loader = fresh_loader(ins)
    executor = MigrationExecutor(connections[ins.database])
    executor.loader = loader
    applied = set(executor.recorder.applied_migrations())
    done = []
    for key in loader.graph.forwards_plan((ins.label, rt.state["leaf"])):
        if key[0] != ins.label or key in applied:
            continue
        state = loader.project_state(key, at_end=False)
        executor.apply_migration(state, loader.graph.nodes[key])
        done.append(key[1])
    rt.state["applied"] = rt.state.get("applied", []) + done


# --- verification --------------------------------------------------------------------------


def verify(ins: Inspection, rt: Runtime) -> list[str]:
    """Run Django's own checks on the end state, each in a fresh process."""
    db = ["--database", ins.database]
    checks = [
        ("migrate --check", ["migrate", "--check", "--noinput", *db], "unapplied migrations"),
        (
            "makemigrations --check",
            ["makemigrations", "--check", "--dry-run", "--noinput"],
            "model changes without a migration",
        ),
        ("check", ["check", *db], "system check errors"),
    ]
    outcomes = []
    failures = []
    for title, args, meaning in checks:
        result = childproc.run_manage(args, cwd=ins.root)
        said = (result.stderr or result.stdout).strip()
        detail = "ok" if result.ok else (_last_line(result) if said else meaning)
        outcomes.append({"check": title, "ok": result.ok, "detail": detail})
        if not result.ok:
            failures.append(f"{title}: {detail}")
    diag = childproc.run_manage(
        ["diagnose_user_model", "--format", "json", *db, "--fail-level", "error"], cwd=ins.root
    )
    try:
        findings = [
            f
            for f in json.loads(diag.stdout)["findings"]
            if f["cause"] == "migrations" and f["severity"] in ("error", "warning")
        ]
    except (ValueError, KeyError, TypeError):
        findings = None
    if findings is None:
        ok, detail = False, f"no JSON report: {_last_line(diag)}"
    else:
        own = [f for f in findings if not _handed_over(f)]
        ok = not own
        detail = "; ".join(f"{f['id']} {f['message']}" for f in own) or "ok"
        rt.state["next_steps"] = _next_steps([f for f in findings if _handed_over(f)])
    outcomes.append({"check": "diagnose_user_model (migrations)", "ok": ok, "detail": detail})
    if not ok:
        failures.append(f"diagnose_user_model: {detail}")
    rt.state["verification"] = outcomes
    return failures


def _handed_over(finding: dict[str, Any]) -> bool:
    """Findings that another procedure fixes: tables created for another user model (E405,
    E403 from a swap) need their foreign keys and rows moved, which a migration reset never does."""
    return any(cmd in (finding.get("fix_command") or "") for cmd in OTHER_PROCEDURES)


def _next_steps(findings: list[dict[str, Any]]) -> list[str]:
    by_command: dict[str, list[str]] = {}
    for f in findings:
        by_command.setdefault(f["fix_command"], []).append(f["id"])
    return [f"{cmd} (for {', '.join(sorted(set(ids)))})" for cmd, ids in sorted(by_command.items())]


# --- backup and restore ----------------------------------------------------------------------


def _common_root(paths: list[Path], root: Path) -> Path:
    resolved = [str(p.resolve()) for p in paths] + [str(root.resolve())]
    return Path(os.path.commonpath(resolved))


def save_backup(ins: Inspection, backup: Backup, *, dump: bool = False) -> None:
    files = ins.files + [d.path for d in ins.dependents]
    base = _common_root(files, ins.root)
    for path in files:
        backup.save_file(path, base)
    backup.write_json(
        DOCUMENT,
        {
            "app_label": ins.label,
            "database": ins.database,
            "migrations_folder": str(ins.folder.resolve()),
            "rows": [r.to_dict() for r in ins.rows],
        },
    )
    if dump:
        dump_data(ins, backup)


def dump_data(ins: Inspection, backup: Backup) -> None:
    """Before --reset-db: every row, as dumpdata writes it, into the backup (0600). When that
    fails, nothing has changed yet and the reset stops: data is never dropped unsaved."""
    from authtools.procedures.runner import ProcedureError

    target = backup.path / "data.json"
    result = childproc.run_manage(
        ["dumpdata", "--database", ins.database, "--natural-foreign", "--output", str(target)],
        cwd=ins.root,
    )
    if not result.ok:
        raise ProcedureError(
            f"dumpdata could not save the database's rows before --reset-db "
            f"({_last_line(result)}); nothing was changed. Fix that, or drop the database "
            "yourself if its rows may be lost.",
            backup.path,
        )
    os.chmod(target, 0o600)


def build_restore_plan(path: Path, database: str) -> Plan:
    """Put back the files and django_migrations rows saved in the backup at PATH."""
    from authtools.procedures.backup import BackupError

    try:
        backup = Backup.open(path)
        saved = backup.read_json(DOCUMENT)
    except (BackupError, OSError, ValueError) as exc:
        raise ResetError(f"Cannot restore from {str(path)!r}: {exc}.") from None
    label = saved["app_label"]
    folder = Path(saved["migrations_folder"])
    writable_or_raise(folder)
    check_database(database)
    rows = [Row(**r) for r in saved["rows"]]
    files = backup.saved_files()
    current = inspect(label, database)
    plan = Plan(PROCEDURE, database)
    plan.data["app_label"] = label
    plan.backup = lambda runtime: save_backup(current, runtime.backup_dir)
    plan.add(
        Step(
            "restore-files",
            "file",
            f"Replace the migration files of {label!r} and put back {len(files)} saved file(s)",
            lambda rt: restore_files(folder, files, rt),
            details=[f"remove {current.display(f)}" for f in current.files]
            + [f"put back {current.display(original)}" for _, original in files],
            atomic=False,
        )
    )
    plan.add(
        Step(
            "restore-rows",
            "rows",
            f"Replace the django_migrations rows of {label!r} with the {len(rows)} saved row(s)",
            lambda rt: restore_rows(database, label, rows),
            details=[f"id {r.id}: {label}.{r.name} (applied {r.applied})" for r in rows],
        )
    )
    plan.notes.append(f"From backup {str(path)!r}; the current state is backed up first.")
    return plan


def restore_files(folder: Path, files: list[tuple[Path, Path]], rt: Runtime) -> None:
    delete_migration_files(folder)
    rt.state["restored"] = True
    for copy, original in files:
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(copy, original)
        os.chmod(original, 0o644)
        shutil.rmtree(original.parent / "__pycache__", ignore_errors=True)


def restore_rows(database: str, label: str, rows: list[Row]) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    recorder.ensure_schema()
    recorder.migration_qs.filter(app=label).delete()
    model = recorder.Migration
    recorder.migration_qs.bulk_create(
        [
            model(id=r.id, app=label, name=r.name, applied=datetime.fromisoformat(r.applied))
            for r in rows
        ]
    )
