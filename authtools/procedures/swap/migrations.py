"""Stage 3 of the swap, generate: the new app's migrations, in two steps when the field sets
differ.

The first migration mirrors the old table exactly (the old model's fields under the new model's
name): it is recorded as applied, because the renamed table is what it builds. The second one
changes it into the new model (columns added with their defaults, columns dropped, constraints
changed); it is applied for real. An empty database builds the same schema from the pair.

Both are computed in this process, against an in-memory graph: the running Django already has
AUTH_USER_MODEL pointing at the new model, so no child process with a temporary setting is
needed, and nothing is written until the plan runs (the files are a step of the plan).

Reads the old and new models and the migration graph; returns ``GeneratedMigrations`` (the
sources to write, the migrations to record and to apply, the change's SQL). The refusals on
what it generated are ``decide.check_generated``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authtools.procedures.swap.inspect import TABLE_OPTIONS, field_signature
from authtools.procedures.swap.spec import SwapRefused


@dataclass
class GeneratedMigrations:
    """Files to write (path -> source), files they replace (path -> old source), the
    migration recorded as applied, the one applied for real and its SQL, dropped columns."""

    write: dict[str, str] = field(default_factory=dict)
    replace: dict[str, str] = field(default_factory=dict)
    mirror: tuple[str, str] | None = None
    change: tuple[str, str] | None = None
    change_operations: list[str] = field(default_factory=list)
    change_sql: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    migrations: list[Any] = field(default_factory=list)  # the Migration objects, in order
    keep: bool = False  # phase 2: the app's migrations on disk stay, these come after them
    base: tuple[str, str] | None = None  # phase 2: the migration to go back to on undo


def _questioner() -> Any:
    """A non-interactive questioner that refuses instead of exiting or guessing."""
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner

    class Questioner(NonInteractiveMigrationQuestioner):
        def ask_not_null_addition(self, field_name: str, model_name: str) -> Any:
            raise SwapRefused(
                f"the new field {model_name}.{field_name} is NOT NULL without a default: give "
                "it a default (existing users get it) or null=True"
            )

        def ask_not_null_alteration(self, field_name: str, model_name: str) -> Any:
            raise SwapRefused(
                f"{model_name}.{field_name} becomes NOT NULL without a default: give it one"
            )

        def ask_auto_now_add_addition(self, field_name: str, model_name: str) -> Any:
            raise SwapRefused(
                f"the new field {model_name}.{field_name} has auto_now_add: add it with "
                "null=True for the swap and change it in a later migration"
            )

        def ask_unique_callable_default_addition(self, field_name: str, model_name: str) -> Any:
            raise SwapRefused(
                f"the new unique field {model_name}.{field_name} has a callable default: every "
                "existing user would get the same value; add it in a later migration"
            )

    return Questioner(dry_run=True)


def mirror_state(old: Any, new: Any, connection: Any) -> Any:
    """The new model as a copy of the old table: the old columns (written as the new model's
    field where that builds the same column, so the change migration holds only what changes
    in the database), the new model's name, app, options and managers, but for what builds
    indexes and constraints: those of the old table (``TABLE_OPTIONS``), so that the change
    migration adds, renames or removes what the new model declares differently."""
    from django.db.migrations.state import ModelState

    old_state, new_state = ModelState.from_model(old), ModelState.from_model(new)
    fields = []
    for name, old_field in old_state.fields.items():
        new_field = new_state.fields.get(name)
        live_old = old._meta.get_field(name)
        same = False
        if new_field is not None and not live_old.many_to_many:
            live_new = new._meta.get_field(name)
            same = field_signature(live_old, connection) == field_signature(live_new, connection)
        elif new_field is not None:
            same = old_field.deconstruct()[1:] == new_field.deconstruct()[1:]
        fields.append((name, new_field if same and new_field is not None else old_field))
    options = {k: v for k, v in new_state.options.items() if k not in TABLE_OPTIONS}
    options.update({k: v for k, v in old_state.options.items() if k in TABLE_OPTIONS})
    return ModelState(
        app_label=new._meta.app_label,
        name=new_state.name,
        fields=fields,
        options=options,
        bases=new_state.bases,
        managers=list(new_state.managers),
    )


def _loader_with(connection: Any, app: str, migrations: list[Any], keep: bool = False) -> Any:
    """A MigrationLoader that sees MIGRATIONS instead of APP's migrations on disk (or besides
    them, with KEEP)."""
    from django.db.migrations.loader import MigrationLoader

    class Loader(MigrationLoader):
        def load_disk(self) -> None:
            super().load_disk()
            if not keep:
                self.disk_migrations = {
                    k: v for k, v in self.disk_migrations.items() if k[0] != app
                }
            for migration in migrations:
                self.disk_migrations[(app, migration.name)] = migration
            self.migrated_apps.add(app)
            self.unmigrated_apps.discard(app)

    return Loader(connection, ignore_no_migrations=True)


def _mirror_migration(old: Any, new: Any, loader: Any) -> Any:
    from django.db import migrations

    state = mirror_state(old, new, loader.connection)
    app = new._meta.app_label
    related_apps = sorted(
        {
            f.remote_field.model._meta.app_label
            for f in [*old._meta.local_fields, *old._meta.local_many_to_many]
            if f.remote_field is not None
        }
        - {app}
    )
    attrs = {
        "initial": True,
        "dependencies": [leaf for label in related_apps for leaf in loader.graph.leaf_nodes(label)],
        "operations": [
            migrations.CreateModel(
                name=state.name,
                fields=list(state.fields.items()),
                options=state.options,
                bases=state.bases,
                managers=state.managers,
            )
        ],
    }
    return type("Migration", (migrations.Migration,), attrs)("0001_initial", app)


def _change_sql(connection: Any, loader: Any, app: str, migration: Any) -> list[str]:
    """The SQL of the change migration as planned (it runs against the renamed table)."""
    from authtools.db.schema import collecting_editor

    state = loader.project_state((app, migration.name), at_end=False)
    try:
        with collecting_editor(connection, migration.atomic) as editor:
            migration.apply(state, editor, collect_sql=True)
    except Exception as exc:  # introspection of a table that does not exist yet, etc.
        return [f"-- computed when it runs ({type(exc).__name__}: {exc})"]
    return [s.rstrip(";") for s in editor.collected_sql if not s.startswith("--")]


def final_loader(connection: Any, app: str, generated: GeneratedMigrations) -> Any:
    """A loader that sees the generated migrations as if they were on disk."""
    return _loader_with(connection, app, generated.migrations, keep=generated.keep)


def generate(connection: Any, old: Any, new: Any, replace: list[str]) -> GeneratedMigrations:
    """The two-step migrations of NEW's app (REPLACE: module files of that app they replace)."""
    app = new._meta.app_label
    mirror = _mirror_migration(old, new, _loader_with(connection, app, []))
    result = GeneratedMigrations(mirror=(app, mirror.name), migrations=[mirror])
    for path in replace:
        result.replace[path] = Path(path).read_text()
    _add_changes(connection, new, result)
    old_columns = {f.column for f in old._meta.local_fields}
    result.dropped_columns = sorted(old_columns - {f.column for f in new._meta.local_fields})
    return result


def generate_phase2(
    connection: Any, old_state: Any, new: Any, after: tuple[str, str]
) -> GeneratedMigrations:
    """Phase 2: a migration that moves NEW off the old table (recorded: the renames do it),
    then one with the other changes (applied), after the app's last applied migration."""
    from django.db import migrations

    app = new._meta.app_label
    number = int(after[1][:4]) + 1 if after[1][:4].isdigit() else 1
    attrs = {
        "dependencies": [after],
        "operations": [
            migrations.AlterModelTable(
                new._meta.model_name, new._meta.original_attrs.get("db_table")
            )
        ],
    }
    name = f"{number:04d}_alter_{new._meta.model_name}_table"
    table = type("Migration", (migrations.Migration,), attrs)(name, app)
    result = GeneratedMigrations(migrations=[table], keep=True, base=after)
    _add_changes(connection, new, result)
    # Django's AlterModelTable renames the tables (and the many-to-many ones) and nothing else,
    # exactly as a fresh migrate does: phase 2 applies it for real instead of renaming by hand.
    loader = _loader_with(connection, app, result.migrations, keep=True)
    result.change_operations.insert(0, table.operations[0].describe())
    result.change_sql[:0] = _change_sql(connection, loader, app, table)
    result.change = result.change or (app, name)
    old_columns = {f.column for f in old_state._meta.local_fields}
    result.dropped_columns = sorted(old_columns - {f.column for f in new._meta.local_fields})
    return result


def _add_changes(connection: Any, new: Any, result: GeneratedMigrations) -> None:
    """Add the migration that turns the state after RESULT's migrations into the live NEW."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.state import ProjectState
    from django.db.migrations.writer import MigrationWriter

    app = new._meta.app_label
    loader = _loader_with(connection, app, result.migrations, keep=result.keep)
    autodetector = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), _questioner()
    )
    changes = autodetector.changes(graph=loader.graph, trim_to_apps={app}, convert_apps={app})
    first = result.migrations[0]
    writer = MigrationWriter(first)
    directory = Path(writer.path).parent
    if not (directory / "__init__.py").exists():
        result.write[str(directory / "__init__.py")] = ""
    result.write[writer.path] = writer.as_string()
    ours = changes.get(app, [])
    for change in ours:
        result.change = (app, change.name)
        result.change_operations += [op.describe() for op in change.operations]
        result.write[MigrationWriter(change).path] = MigrationWriter(change).as_string()
    result.migrations += ours
    if ours:
        loader = _loader_with(connection, app, result.migrations, keep=result.keep)
        for change in ours:
            result.change_sql += _change_sql(connection, loader, app, change)
