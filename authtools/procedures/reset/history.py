"""The migration history, read-only: the app's rows in django_migrations, the migration files
on disk and who depends on them, what other apps have pending, and what Django's loader,
history check and autodetector say now."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from authtools.procedures.reset.spec import Dependent, ResetError, Row


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


def applied_keys(database: str) -> set[tuple[str, str]]:
    """Every (app, name) recorded in django_migrations (none when the table is missing)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    return set(recorder.applied_migrations()) if recorder.has_table() else set()


def applied_dependents(label: str, disk: dict[tuple[str, str], Any], database: str) -> list[str]:
    """Other apps' applied migrations that depend on LABEL (by name or through
    ``swappable_dependency``): Django's history check refuses to apply LABEL's new initial
    migration after them under the real AUTH_USER_MODEL."""
    applied = applied_keys(database)
    return [
        f"{key[0]}.{key[1]}"
        for key, migration in sorted(disk.items())
        if key[0] != label and key in applied and any(d[0] == label for d in migration.dependencies)
    ]


def pending_elsewhere(
    label: str, disk: dict[tuple[str, str], Any], database: str
) -> list[tuple[str, str, list[str]]]:
    """Other apps' migrations that are on disk and not applied: (app, name, operation names).

    Squashes are counted the way Django's loader uses them: a squash stands in for its
    replaced migrations when all or none of them are applied."""
    applied = applied_keys(database)
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
