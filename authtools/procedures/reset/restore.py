"""--restore: put a backup's migration files and django_migrations rows back."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from authtools.procedures.backup import Backup
from authtools.procedures.plan import Plan, Runtime, Step
from authtools.procedures.reset.backup import save_backup
from authtools.procedures.reset.inspection import inspect
from authtools.procedures.reset.project import check_database, writable_or_raise
from authtools.procedures.reset.spec import DOCUMENT, PROCEDURE, ResetError, Row
from authtools.procedures.reset.steps import delete_migration_files, drop_bytecode


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
            details=[r.describe(label) for r in rows],
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
        drop_bytecode(original.parent)


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
