"""Probe: migration files and the migration history, as they concern the user model.

Everything goes through Django's own machinery: ``MigrationLoader`` builds the graph from the
files (and, when the database is used, from ``django_migrations``), the consistency rule is the
one of ``MigrationLoader.check_consistent_history`` (every applied migration's parents applied,
a squash counting as applied when all it replaces is), and pending model changes come from the
autodetector exactly as ``makemigrations --check`` runs it.

What it finds (ids in ``authtools.diagnosis.catalog``):

- E401 the user app has no migrations; E402 its migrations are not applied;
- E403 every inconsistent (applied child, unapplied parent) pair, not only Django's first;
- E404 every dependency on a migration that does not exist (NodeNotFoundError);
- E405 applied migrations that were created against another user model. The rule: a migration
  that depends on ``swappable_dependency(settings.AUTH_USER_MODEL)`` and was recorded in
  ``django_migrations`` before the user app's first migration (by row order), or while the user
  app had no migration recorded at all, is *suspect*: when it ran, the setting may have named
  another model. History alone cannot tell a bad history from one repaired later (a reset or a
  swap records the user app's migrations after the others), so a suspect is reported only when
  the database catalog confirms it: a foreign key created for that app's models points at a
  table other than the user model's (the old user table names the ``--from`` model of the fix);
- W406 models with changes that no migration reflects.
- E407 with ``--target APP.MODEL``: the graph rebuilt with every swappable dependency on
  AUTH_USER_MODEL pointed at the target's app, checked against the applied history: the pairs
  that would become inconsistent once the setting is switched.

None of this runs as a system check (see ``run``).

The files are always read; the database only when ``ctx.use_db`` (``--no-db`` never connects).
A database that cannot be reached is reported by the database probe (E504): this probe then
reports what the files alone show.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context, parse_file
from authtools.diagnosis.migration_state import (
    Key,
    Pair,
    State,
    depends_on_user_setting,
    inconsistent_pairs,
    load,
    pending_changes,
    retargeted_loader,
)
from authtools.diagnosis.probes.database import connection_error
from authtools.diagnosis.report import FileLocation, Finding, Location, TableLocation

REQUIRES = "ready"
USES_DB = False  # reads the database itself only when ctx.use_db (no-db: files only)

SETTING = "AUTH_USER_MODEL"
HISTORY = TableLocation("django_migrations")
RESET = "python manage.py reset_user_migrations"
MIGRATE = "python manage.py migrate"


def run(ctx: Context) -> Iterator[Finding]:
    from django.db import connections

    if ctx.extra.get("system_check"):
        # Not a system check: E401 would block its own fix (makemigrations runs the checks),
        # the history needs the database, and loading every migration file would double the
        # start-up of every command on a large project; Django's migration commands already
        # fail loudly on a missing dependency (E404).
        return
    user_model = ctx.user_model()
    if user_model is None:
        return  # the setting and model probes explain why
    use_db = ctx.use_db and connection_error(ctx) is None  # the database probe says why not
    state = load(connections[ctx.database] if use_db else None, use_db)
    if state is None:
        return  # a migration file does not import: Django's own error says which
    probe = _Probe(ctx, state, user_model)
    yield from probe.findings()


# --- the findings ------------------------------------------------------------------------------


class _Probe:
    def __init__(self, ctx: Context, state: State, user_model: Any) -> None:
        self.ctx = ctx
        self.state = state
        self.loader = state.loader
        self.user_model = user_model
        self.user_label = user_model._meta.label
        self.user_app = user_model._meta.app_label
        self.user_table = user_model._meta.db_table
        self.disk = self.loader.disk_migrations or {}

    def findings(self) -> Iterator[Finding]:
        state = self.state
        no_migrations = not any(app == self.user_app for app, _ in self.disk)
        if no_migrations:
            yield self.no_migrations()
        yield from self.missing()
        if state.history is None or not state.graph_ok:
            if state.graph_ok and not no_migrations:
                yield from self.pending()
            return
        wrong = self.wrong_user_model()
        pairs = inconsistent_pairs(self.loader, state.history)
        yield from wrong.values()
        yield from self.inconsistent(pairs, self._old_model(wrong))
        if not no_migrations and not any(parent[0] == self.user_app for _, parent in pairs):
            yield from self.unapplied()
        if not no_migrations:
            yield from self.pending()
        if self.ctx.target:
            yield from self.target(pairs)

    # E401 ---------------------------------------------------------------------------------
    def no_migrations(self) -> Finding:
        recorded = [k for k in self.state.history or () if k[0] == self.user_app]
        dependents = [
            k
            for k in self.state.history or ()
            if k in self.disk and depends_on_user_setting(self.disk[k])
        ]
        folder = self._migrations_folder()
        why = (
            f"The app {self.user_app!r} of AUTH_USER_MODEL = {self.user_label!r} has no "
            f"migrations ({folder} is missing or empty): `migrate` creates no table for "
            f"{self.user_label} (an app without migrations is only synced with --run-syncdb), "
            "and every migration that depends on swappable_dependency(settings.AUTH_USER_MODEL) "
            "loses the dependency that makes the user table exist first."
        )
        if recorded or dependents:
            shown = ", ".join(_name(k) for k in (recorded or dependents)[:5])
            return catalog.finding(
                "authtools.E401",
                why + f" The database already records migrations that need it ({shown}).",
                "Regenerate the app's migrations and repair django_migrations to match the "
                "tables that exist; reset_user_migrations does both and keeps a backup.",
                location=_class_location(self.ctx, self.user_model),
                fix_command=RESET,
            )
        return catalog.finding(
            "authtools.E401",
            why,
            f"Create the app's initial migration, then run `{MIGRATE}`.",
            location=_class_location(self.ctx, self.user_model),
            fix_command=f"python manage.py makemigrations {self.user_app}",
        )

    def _migrations_folder(self) -> str:
        from django.db.migrations.loader import MigrationLoader

        module, _ = MigrationLoader.migrations_module(self.user_app)
        return f"{module.replace('.', '/')}/" if module else "MIGRATION_MODULES"

    # E404 ---------------------------------------------------------------------------------
    def missing(self) -> Iterator[Finding]:
        for child, parent in self.state.missing:
            migration = self.disk[child]
            leaves = [n for n in self.loader.graph.leaf_nodes(parent[0]) if n in self.disk]
            message = (
                f"Migration {_name(child)} depends on {_name(parent)}, which does not exist: "
                f'Django raises NodeNotFoundError ("Migration {_name(child)} dependencies '
                f'reference nonexistent parent node {parent!r}") and no migrate, showmigrations '
                "or makemigrations can run."
            )
            if parent[0] == self.user_app:
                yield catalog.finding(
                    "authtools.E404",
                    message,
                    f"{_name(parent)} was deleted or renamed while other migrations depend on "
                    "it; reset_user_migrations regenerates the user app's migrations and "
                    "rewrites these dependencies.",
                    location=_dependency_location(self.ctx, migration, parent[1]),
                    fix_command=RESET,
                )
                continue
            line = f"({parent[0]!r}, {leaves[0][1]!r})," if leaves else None
            hint = (
                f"Restore {_name(parent)}, or point the dependency at a migration that exists: "
                + (f"write `{line}` instead." if line else f"{parent[0]!r} has no migrations.")
            )
            yield catalog.finding(
                "authtools.E404",
                message,
                hint,
                location=_dependency_location(self.ctx, migration, parent[1]),
            )

    # E405 ---------------------------------------------------------------------------------
    def wrong_user_model(self) -> dict[Key, Finding]:
        """Suspect migrations (see the module doc) confirmed by the database catalog."""
        history = self.state.history or []
        first_user = next((i for i, k in enumerate(history) if k[0] == self.user_app), None)
        suspects = [
            key
            for i, key in enumerate(history)
            if key[0] != self.user_app
            and key in self.disk
            and depends_on_user_setting(self.disk[key])
            and (first_user is None or i < first_user)
        ]
        if not suspects:
            return {}
        wrong_tables = self._foreign_keys_elsewhere({app for app, _ in suspects})
        found: dict[Key, Finding] = {}
        for key in suspects:
            evidence = wrong_tables.get(key[0])
            if not evidence:
                continue
            column, ref_table = evidence[0]
            old = _model_of_table(ref_table)
            when = (
                f"before the first migration of {self.user_app!r}"
                if first_user is not None
                else f"while {self.user_app!r} had no migration applied"
            )
            found[key] = catalog.finding(
                "authtools.E405",
                f"Migration {_name(key)} was applied {when}, against another user model: "
                f"the database's foreign key {column} references {ref_table!r}, not "
                f"{self.user_table!r} ({self.user_label}). Django will not fix this: the "
                "history says the migration ran, so `migrate` never runs it again.",
                "Move the project to the current user model with its data and history: "
                f"swap_user_model --from {old or 'APP.MODEL'} "
                "(the model whose table the foreign keys reference).",
                location=HISTORY,
                fix_command=f"python manage.py swap_user_model --from {old or 'auth.User'}",
            )
        return found

    def _foreign_keys_elsewhere(self, app_labels: set[str]) -> dict[str, list[tuple[str, str]]]:
        """{app: [(table.column, referenced table)]} for user FKs that point elsewhere."""
        from django.apps import apps
        from django.db import Error

        from authtools.db.catalog import foreign_keys

        expected: dict[tuple[str, str], str] = {}
        for label in app_labels:
            for model in apps.get_app_config(label).get_models():
                for f in model._meta.local_fields:
                    remote = getattr(f.remote_field, "model", None)
                    if remote is self.user_model and getattr(f, "db_constraint", False):
                        expected[(model._meta.db_table, str(f.column))] = label
        if not expected:
            return {}
        try:
            catalog_fks = foreign_keys(self.state.connection)
        except Error:
            return {}
        result: dict[str, list[tuple[str, str]]] = {}
        for fk in catalog_fks:
            owner = expected.get((fk.table, fk.column))
            if owner and fk.ref_table != self.user_table:
                result.setdefault(owner, []).append((f"{fk.table}.{fk.column}", fk.ref_table))
        return result

    def _old_model(self, wrong: dict[Key, Finding]) -> tuple[str, bool]:
        """The model the history was built on: (label, proven by the catalog)."""
        for finding in wrong.values():
            if finding.fix_command:
                return finding.fix_command.rsplit(" ", 1)[-1], True
        return ("auth.User" if self.user_label != "auth.User" else "APP.MODEL"), False

    # E403 ---------------------------------------------------------------------------------
    def inconsistent(self, pairs: list[Pair], old: tuple[str, bool]) -> Iterator[Finding]:
        old_model, proven = old
        was = old_model if proven else f"another model, probably {old_model}"
        recorded_user_app = any(k[0] == self.user_app for k in self.state.history or ())
        alias = self.ctx.database
        for child, parent in pairs:
            django_says = (
                f"Migration {_name(child)} is applied before its dependency {_name(parent)} "
                f"on database {alias!r}."
            )
            message = (
                f"{django_says} Django raises InconsistentMigrationHistory: migrate and "
                "makemigrations refuse to run."
            )
            if parent[0] == self.user_app and not recorded_user_app:
                yield catalog.finding(
                    "authtools.E403",
                    message + f" No migration of {self.user_app!r} is applied: the database was "
                    f"built while AUTH_USER_MODEL named {was}.",
                    "Move the existing users, their relations and the history to the current "
                    f"user model: swap_user_model --from {old_model}.",
                    location=HISTORY,
                    fix_command=f"python manage.py swap_user_model --from {old_model}",
                )
            elif parent[0] == self.user_app:
                yield catalog.finding(
                    "authtools.E403",
                    message + f" {_name(parent)} is not recorded although {_name(child)} "
                    f"needs it: the migrations of {self.user_app!r} were regenerated or renamed.",
                    "Repair django_migrations to match the user app's migration files; "
                    "reset_user_migrations does it with a backup.",
                    location=HISTORY,
                    fix_command=RESET,
                )
            else:
                yield catalog.finding(
                    "authtools.E403",
                    message,
                    f"If {_name(parent)}'s changes are in the database, record it as applied "
                    f"(a django_migrations row app={parent[0]!r}, name={parent[1]!r}); "
                    f"otherwise unapply {_name(child)} and run `{MIGRATE}`.",
                    location=HISTORY,
                )

    # E402 ---------------------------------------------------------------------------------
    def unapplied(self) -> Iterator[Finding]:
        applied = self.loader.applied_migrations or {}
        todo = sorted(
            key for key in self.loader.graph.nodes if key[0] == self.user_app and key not in applied
        )
        if not todo:
            return
        names = ", ".join(name for _, name in todo)
        yield catalog.finding(
            "authtools.E402",
            f"{len(todo)} migration(s) of {self.user_app!r}, the app of AUTH_USER_MODEL, "
            f"are not applied on database {self.ctx.database!r} ({names}): the user table "
            f"{self.user_table!r} is missing or behind the model, so logins, the admin and "
            "every foreign key to the user fail.",
            f"Apply them: `{MIGRATE}{_on(self.ctx.database)}`.",
            location=HISTORY,
            fix_command=MIGRATE,
        )

    # W406 ---------------------------------------------------------------------------------
    def pending(self) -> Iterator[Finding]:
        for app, operations in pending_changes(self.loader).items():
            described = "; ".join(op.describe() for op in operations[:5])
            more = f" and {len(operations) - 5} more" if len(operations) > 5 else ""
            yield catalog.finding(
                "authtools.W406",
                f"App {app!r} has model changes that no migration reflects: {described}{more}. "
                "The database will not match the models until a migration is written "
                "(`makemigrations --check` fails).",
                f"Write the migration and apply it: makemigrations {app}, then `{MIGRATE}`.",
                location=_operation_location(self.ctx, app, operations[0]),
                fix_command=f"python manage.py makemigrations {app}",
            )

    # E407 ---------------------------------------------------------------------------------
    def target(self, current_pairs: list[Pair]) -> Iterator[Finding]:
        target = resolve_target(self.ctx.target or "")
        if target._meta.label == self.user_label:
            return
        target_app = target._meta.app_label
        loader = retargeted_loader(self.state.connection, target_app)
        known = set(current_pairs)
        for child, parent in inconsistent_pairs(loader, self.state.history or []):
            if (child, parent) in known:
                continue
            migration = self.disk.get(child)
            yield catalog.finding(
                "authtools.E407",
                f"Once AUTH_USER_MODEL = {target._meta.label!r}, Django will raise "
                f"InconsistentMigrationHistory: Migration {_name(child)} is applied before "
                f"its dependency {_name(parent)} on database {self.ctx.database!r}. "
                f"{_name(child)} depends on swappable_dependency(settings.AUTH_USER_MODEL), "
                f"which then means the first migration of {target_app!r}, while its tables were "
                f"created against {self.user_table!r}.",
                "Do not switch the setting alone: write the new model, set "
                f"AUTH_USER_MODEL = {target._meta.label!r}, then run "
                f"swap_user_model --from {self.user_label}, which moves the data and the history.",
                location=_swappable_location(self.ctx, migration) if migration else HISTORY,
                # No fix_command: the swap runs only once the setting is switched (it refuses
                # now); the hint gives the order.
            )


def resolve_target(value: str) -> Any:
    """The model ``--target`` names; CommandError (usage, exit 2) when it names none."""
    from django.apps import apps
    from django.core.management.base import CommandError

    try:
        return apps.get_model(value.strip(), require_ready=False)
    except (LookupError, ValueError) as exc:
        raise CommandError(
            f"--target {value!r} names no installed model ({exc}); give APP_LABEL.ModelName, "
            "e.g. --target accounts.User.",
            returncode=2,
        ) from exc


# --- locations ---------------------------------------------------------------------------------


def _on(database: str) -> str:
    """The --database option a command needs for DATABASE ('' for the default one)."""
    return "" if database == "default" else f" --database {database}"


def _name(key: Key) -> str:
    return f"{key[0]}.{key[1]}"


def _model_of_table(table: str) -> str | None:
    from django.apps import apps

    for model in apps.get_models(include_auto_created=True, include_swapped=True):
        if model._meta.db_table == table:
            return str(model._meta.label)
    return None


def _migration_file(migration: Any) -> Path | None:
    module = sys.modules.get(type(migration).__module__)
    path = getattr(module, "__file__", None)
    return Path(path) if path else None


def _dependency_location(ctx: Context, migration: Any, name: str) -> Location | None:
    """The line of a migration file where ``name`` appears in its dependencies."""
    return _file_line(ctx, migration, lambda n: isinstance(n, ast.Constant) and n.value == name)


def _swappable_location(ctx: Context, migration: Any) -> Location | None:
    def is_swappable(node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        return name == "swappable_dependency"

    return _file_line(ctx, migration, is_swappable)


def _file_line(ctx: Context, migration: Any, match: Any) -> Location | None:
    path = _migration_file(migration)
    if path is None:
        return None
    tree = parse_file(path)
    line = 1
    if tree is not None:
        line = next((n.lineno for n in ast.walk(tree) if match(n) and hasattr(n, "lineno")), 1)
    return FileLocation(ctx.display_path(path), line)


def _class_location(ctx: Context, cls: Any) -> Location | None:
    try:
        path = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return None
    return FileLocation(ctx.display_path(path), line) if path else None


def _operation_location(ctx: Context, app: str, operation: Any) -> Location | None:
    """The model class an operation is about, else the app's models module."""
    from django.apps import apps

    app_config = apps.get_app_config(app)
    name = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    model = app_config.models.get(str(name).lower()) if name else None
    if model is not None:
        return _class_location(ctx, model)
    module = app_config.models_module
    path = getattr(module, "__file__", None)
    return FileLocation(ctx.display_path(path), 1) if path else None
