"""--restore: put a backup's migration files and django_migrations rows back, after checking
the backup against its schema, its digests and this project (paths stay inside the project's
migration folders; rows belong to the app)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from authtools.procedures.backup import (
    SOURCE_MODE,
    Backup,
    BackupError,
    invalid,
    resolve_inside,
    safe_relative,
    write_atomic,
)
from authtools.procedures.plan import Plan, Runtime, Step
from authtools.procedures.reset.backup import save_backup
from authtools.procedures.reset.inspection import inspect
from authtools.procedures.reset.project import check_database, writable_or_raise
from authtools.procedures.reset.spec import DOCUMENT, PROCEDURE, ResetError, Row
from authtools.procedures.reset.steps import delete_migration_files, drop_bytecode
from authtools.procedures.schema import Keys

SCHEMA = Keys(
    {
        "app_label": str,
        "database": str,
        "migrations_folder": str,
        "rows": list[Keys({"id": int, "name": str, "applied": str})],  # type: ignore[misc]
        "steps": list[str],
        "restoring": str | None,
    }
)


def migration_folders(root: Path) -> list[Path]:
    """The migrations folders of the installed apps that live in the project at ROOT."""
    import importlib.util

    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    folders = []
    for config in apps.get_app_configs():
        module_name, _ = MigrationLoader.migrations_module(config.label)
        try:
            spec = importlib.util.find_spec(module_name) if module_name else None
        except (ImportError, ValueError):
            spec = None
        for location in (spec.submodule_search_locations or []) if spec else []:
            folder = Path(location).resolve()
            if folder.is_relative_to(root.resolve()):
                folders.append(folder)
    return folders


def load_backup(
    path: Path, database: str
) -> tuple[Backup, dict[str, Any], list[tuple[Path, Path]]]:
    """The checked backup, its document, and (copy, destination) of every saved file."""
    try:
        backup = Backup.open(path, procedures=(PROCEDURE,), database=database)
        saved = backup.read_json(DOCUMENT, SCHEMA)
    except BackupError as exc:
        raise ResetError(f"Cannot restore from {str(path)!r}: {exc}.") from None
    file = backup.path / f"{DOCUMENT}.json"
    current = inspect(saved["app_label"], database)  # the label must be an installed app
    root = current.root.resolve()
    folder = saved["migrations_folder"]
    if not safe_relative(folder) or (root / folder).resolve() != current.folder.resolve():
        raise _bad(
            file,
            "migrations_folder",
            f"is {folder!r}, not the migrations folder of app {current.label!r} here",
        )
    if saved["database"] != database:
        raise _bad(file, "database", f"is {saved['database']!r}, not {database!r}")
    for number, row in enumerate(saved["rows"]):
        try:
            datetime.fromisoformat(row["applied"])
        except ValueError:
            raise _bad(file, f"rows[{number}].applied", "is not a date") from None
        if not re.fullmatch(r"\w+", row["name"]):
            raise _bad(file, f"rows[{number}].name", "is not a migration name")
    folders = migration_folders(root)
    files = []
    for copy, rel in backup.saved_files():
        target = resolve_inside(rel, root, folders)
        if target is None or target.suffix != ".py":
            raise _bad(
                backup.path / "manifest.json",
                f"files.{rel}",
                "is not a migration file inside a migrations folder of this project",
            )
        files.append((copy, target))
    return backup, saved, files


def _bad(file: Path, field: str, problem: str) -> ResetError:
    return ResetError(f"{invalid(file, field, problem)}.")


def build_restore_plan(path: Path, database: str) -> Plan:
    """Put back the files and django_migrations rows saved in the backup at PATH."""
    check_database(database)
    _, saved, files = load_backup(path, database)
    label = saved["app_label"]
    rows = [Row(**r) for r in saved["rows"]]
    current = inspect(label, database)
    folder = current.folder
    writable_or_raise(folder)
    plan = Plan(PROCEDURE, database)
    plan.data["app_label"] = label
    if already_restored(current, rows, files):
        plan.empty_message = "Nothing to undo: the files and rows of this backup are in place."
        return plan
    plan.backup = lambda runtime: save_backup(
        current,
        runtime.backup_dir,
        steps=[s.id for s in plan.steps],
        restoring=str(Path(path).resolve()),
    )
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
            details=[r.describe(label) for r in rows],
        )
    )
    plan.notes.append(f"From backup {str(path)!r}; the current state is backed up first.")
    plan.verify = lambda runtime: _restore_failures(database, label, rows, files)
    return plan


def already_restored(current: Any, rows: list[Row], files: list[tuple[Path, Path]]) -> bool:
    saved_rows = sorted((r.id, r.name) for r in rows)
    if sorted((r.id, r.name) for r in current.rows) != saved_rows:
        return False
    app_files = {p.resolve() for p in current.files}
    restored = {original for _, original in files}
    if not app_files <= restored:
        return False
    folders = {path.parent for path in app_files | restored}
    if any(stale_temporaries(folder) for folder in folders):
        return False  # a killed write left its temporary file: the restore removes it
    return all(o.is_file() and o.read_bytes() == c.read_bytes() for c, o in files)


def _restore_failures(
    database: str, label: str, rows: list[Row], files: list[tuple[Path, Path]]
) -> list[str]:
    from authtools.procedures.reset.history import read_rows

    failures = [
        f"{original} differs from the backup"
        for copy, original in files
        if not original.is_file() or original.read_bytes() != copy.read_bytes()
    ]
    now = sorted((r.id, r.name) for r in read_rows(database, label))
    if now != sorted((r.id, r.name) for r in rows):
        failures.append(f"the django_migrations rows of {label!r} differ from the backup")
    return failures


def restore_files(folder: Path, files: list[tuple[Path, Path]], rt: Runtime) -> None:
    delete_migration_files(folder)
    rt.state["restored"] = True
    for copy, original in files:
        original.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(original, copy.read_bytes(), SOURCE_MODE)
        drop_bytecode(original.parent)
    for parent in {folder, *(original.parent for _, original in files)}:
        remove_stale_temporaries(parent)


def stale_temporaries(folder: Path) -> list[Path]:
    """The temporary files a killed run's atomic writes of migration files left in FOLDER
    (".NAME.py.XXXX.tmp")."""
    return [path for path in folder.glob(".*.py.*.tmp") if path.is_file() and not path.is_symlink()]


def remove_stale_temporaries(folder: Path) -> None:
    """stale_temporaries() removed: the restored folder holds what the backup saved, nothing
    else."""
    for path in stale_temporaries(folder):
        path.unlink()


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
