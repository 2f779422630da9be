"""The migration state as Django's migrate would see it, read-only: the graph (or the dependencies
it misses), the applied history in row order, the inconsistent pairs, the swappable dependencies
on AUTH_USER_MODEL and the pending model changes. Used by the migrations probe."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]
Pair = tuple[Key, Key]  # (applied child, unapplied parent)


# --- loading -----------------------------------------------------------------------------------


@dataclass
class State:
    """The loaded graph (or the loader that failed to build it) and the applied history."""

    loader: Any
    history: list[Key] | None  # django_migrations rows in id order; None: no database read
    missing: list[Pair] = field(default_factory=list)  # (migration, dependency not on disk)
    connection: Any = None

    @property
    def graph_ok(self) -> bool:
        return not self.missing

    @property
    def applied(self) -> set[Key]:
        return set(self.history or ())


def read_history(connection: Any) -> list[Key] | None:
    """The (app, name) rows of django_migrations in the order they were recorded.

    [] when the table does not exist yet; None when the database cannot be reached.
    """
    from django.db import Error
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    try:
        if not recorder.has_table():
            return []
        rows = recorder.migration_qs.order_by("id").values_list("app", "name")
        return [(app, name) for app, name in rows]
    except Error:
        return None


def load(connection: Any, use_db: bool) -> State | None:
    """Build the graph as ``migrate`` would; on NodeNotFoundError, list every missing parent."""
    from django.db import Error
    from django.db.migrations.exceptions import BadMigrationError, NodeNotFoundError
    from django.db.migrations.loader import MigrationLoader

    history = read_history(connection) if use_db else None
    db = connection if history is not None else None
    loader = MigrationLoader(db, ignore_no_migrations=True, load=False)
    try:
        loader.build_graph()
    except NodeNotFoundError:
        return State(loader, history, missing_dependencies(loader), db)
    except Error:  # the database went away between the two reads
        return load(connection, use_db=False)
    except (ImportError, SyntaxError, BadMigrationError, ValueError):
        return None
    return State(loader, history, [], db)


def missing_dependencies(loader: Any) -> list[Pair]:
    """Every (migration, dependency) whose dependency is on no disk, as Django resolves them."""
    disk = loader.disk_migrations or {}
    replaced = {tuple(key) for m in disk.values() for key in m.replaces}
    missing: list[Pair] = []
    for key, migration in sorted(disk.items()):
        for dep in migration.dependencies:
            dep = (dep[0], dep[1])
            if dep[1] in ("__first__", "__latest__") or dep in disk or dep in replaced:
                continue
            missing.append((key, dep))
    return missing


def inconsistent_pairs(loader: Any, history: Iterable[Key]) -> list[Pair]:
    """Every pair ``check_consistent_history`` would object to, in history order."""
    applied = set(history)
    pairs: list[Pair] = []
    for key in dict.fromkeys(history):
        if key not in loader.graph.nodes:
            continue
        for parent in sorted(node.key for node in loader.graph.node_map[key].parents):
            if parent not in applied and not _replaced_all_applied(loader, parent, applied):
                pairs.append((key, parent))
    return pairs


def _replaced_all_applied(loader: Any, key: Key, applied: set[Key]) -> bool:
    """A squash whose replaced migrations are all applied counts as applied (Django's rule)."""
    if key not in loader.replacements:
        return False
    return all(
        r in applied or _replaced_all_applied(loader, r, applied)
        for r in loader.replacements[key].replaces
    )


def is_user_dependency(dep: Any) -> bool:
    """True for the dependency ``swappable_dependency(settings.AUTH_USER_MODEL)`` returned.

    The SwappableTuple keeps the setting's value (e.g. 'accounts.User') in ``.setting``.
    """
    from django.conf import settings

    value = getattr(dep, "setting", None)
    return isinstance(value, str) and value.lower() == str(settings.AUTH_USER_MODEL).lower()


def depends_on_user_setting(migration: Any) -> bool:
    """True when the migration lists ``swappable_dependency(settings.AUTH_USER_MODEL)``."""
    return any(is_user_dependency(dep) for dep in migration.dependencies)


def retargeted_loader(connection: Any, app_label: str) -> Any:
    """A MigrationLoader whose AUTH_USER_MODEL dependencies point at APP_LABEL's first migration.

    ``swappable_dependency()`` is evaluated when a migration file is imported, so the loaded
    dependencies name the app of the current setting; the SwappableTuple keeps the value in
    ``.setting``, which says which dependencies would move if the setting changed.
    """
    from django.db.migrations.loader import MigrationLoader

    class RetargetedLoader(MigrationLoader):
        def load_disk(self) -> None:
            super().load_disk()
            for migration in self.disk_migrations.values():
                # Migration.__init__ copied the class's list: this instance's copy is ours.
                migration.dependencies = [  # type: ignore[misc]
                    (app_label, "__first__") if is_user_dependency(dep) else dep
                    for dep in migration.dependencies
                ]

    return RetargetedLoader(connection, ignore_no_migrations=True)


def pending_changes(loader: Any) -> dict[str, list[Any]]:
    """What ``makemigrations --check`` would write: {app_label: [operations]}."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    old = loader.project_state()
    if same_models(old, apps):
        # The autodetector compares these same model states, but some of its passes are
        # quadratic in the number of models (seconds on a project of 1,000 models): when
        # every state is equal it would find nothing, so it is not run.
        return {}
    new = ProjectState.from_apps(apps)
    questioner = NonInteractiveMigrationQuestioner(specified_apps=set(), dry_run=True)
    autodetector = MigrationAutodetector(old, new, questioner)
    changes = autodetector.changes(graph=loader.graph, migration_name=None)
    return {
        app: [op for migration in migrations for op in migration.operations]
        for app, migrations in sorted(changes.items())
    }


def same_models(old: Any, apps: Any) -> bool:
    """True when the migrations' state OLD holds a ModelState equal to each model of APPS.

    Apps without migrations are left out, as the autodetector leaves them out. A model is
    compared as ``ProjectState.from_apps`` would state it (``model_comparable``), without the
    copy of every field ``from_apps`` makes.
    """
    models = [
        model
        for model in apps.get_models(include_swapped=True)
        if model._meta.app_label not in old.real_apps
    ]
    current = {(model._meta.app_label, model._meta.model_name): model for model in models}
    if current.keys() != old.models.keys():
        return False
    return all(
        _comparable(old.models[key]) == model_comparable(model) for key, model in current.items()
    )


def _comparable(state: Any) -> tuple[Any, ...]:
    """What the autodetector looks at in a ModelState ('abstract' it ignores)."""
    options = {key: value for key, value in state.options.items() if key != "abstract"}
    fields = {name: _arguments(field) for name, field in state.fields.items()}
    return (state.name.lower(), fields, options, tuple(state.bases), list(state.managers))


def _arguments(field: Any) -> tuple[Any, ...]:
    """``field.deconstruct()[1:]`` (path, args, kwargs), compared as the autodetector does.

    A relation deconstructs its target as ``SettingsReference('app.model', 'AUTH_USER_MODEL')``
    when the target is swappable: a str subclass equal to the plain 'app.model', so the
    answer never changes a comparison. Finding it costs a scan of every model for each
    distinct target (``Apps.get_swappable_settings_name``, cached per spelling: 'app.Model'
    from a model, 'app.model' from a migration), about a quarter of a second on 1,000 models:
    a copy of the field with ``swappable=False`` deconstructs without it.
    """
    if getattr(field, "swappable", False):
        field = copy.copy(field)
        field.swappable = False
    return tuple(field.deconstruct()[1:])


# Options that ModelState.from_model rewrites (normalised, cloned, named or dropped).
_REWRITTEN_OPTIONS = {
    "unique_together",
    "index_together",
    "indexes",
    "constraints",
    "order_with_respect_to",
}


def model_comparable(model: Any) -> tuple[Any, ...]:
    """``_comparable(ModelState.from_model(model))``, without cloning every field.

    ``from_model`` copies each field (a deconstruct and a new field) and the comparison then
    deconstructs the copy: the model's own fields deconstruct to the same arguments. The
    plain case (only options that are copied as they are; no manager but the default
    ``objects``) is stated here; any other model goes through ``from_model`` itself.
    """
    from django.db import models
    from django.db.migrations.state import ModelState
    from django.db.models.options import DEFAULT_NAMES

    opts = model._meta
    if _REWRITTEN_OPTIONS & opts.original_attrs.keys() or not _only_default_manager(model):
        return _comparable(ModelState.from_model(model))
    fields = {
        field.name: _arguments(field)
        for field in [*opts.local_fields, *opts.local_many_to_many]
        if not isinstance(field, models.OrderWrt)
    }
    options = {
        name: opts.original_attrs[name]
        for name in DEFAULT_NAMES
        if name not in ("apps", "app_label", "abstract") and name in opts.original_attrs
    }
    options.setdefault("indexes", [])  # as ModelState.__init__ does
    options.setdefault("constraints", [])
    return (opts.object_name.lower(), fields, options, _bases(model), [])


def _only_default_manager(model: Any) -> bool:
    """True when from_model states no manager: the only one is the default ``objects``, not
    used in migrations (from_model's shim for it is dropped)."""
    managers = model._meta.managers
    if len(managers) != 1:
        return False
    manager = managers[0]
    return bool(
        manager.name == "objects"
        and not manager.use_in_migrations
        and manager is model._default_manager
    )


def _bases(model: Any) -> tuple[Any, ...]:
    """The bases as ModelState.from_model states them (abstract parents flattened)."""
    from django.db import models

    def flatten(cls: Any) -> list[Any]:
        bases: list[Any] = []
        for base in cls.__bases__:
            if hasattr(base, "_meta") and base._meta.abstract:
                bases.extend(flatten(base))
            else:
                bases.append(base)
        return bases

    ordered = sorted(set(flatten(model)), key=model.__mro__.index)
    bases = tuple(base._meta.label_lower if hasattr(base, "_meta") else base for base in ordered)
    if not any(isinstance(base, str) or issubclass(base, models.Model) for base in bases):
        bases = (models.Model,)
    return bases
