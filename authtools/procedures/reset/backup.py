"""The reset's backup: the migration files, the django_migrations rows, and before --reset-db
every row of the database as dumpdata writes it."""

from __future__ import annotations

import os

from authtools.procedures import childproc
from authtools.procedures.backup import Backup
from authtools.procedures.reset.commands import last_line
from authtools.procedures.reset.spec import DOCUMENT, Inspection


def save_backup(
    ins: Inspection,
    backup: Backup,
    *,
    dump: bool = False,
    steps: list[str] | None = None,
    restoring: str | None = None,
) -> None:
    """The migration files (paths relative to the project root, refused outside it) and the
    app's django_migrations rows; the folder is recorded relative to the project root. STEPS
    (the ids of the run's steps) and RESTORING (the backup a --restore puts back, None for a
    reset) let the next run tell an interrupted run from a finished one."""
    from authtools.procedures.backup import BackupError
    from authtools.procedures.runner import ProcedureError

    files = ins.files + [d.path for d in ins.dependents]
    try:
        for path in files:
            backup.save_file(path, ins.root)
    except BackupError as exc:
        raise ProcedureError(f"{exc}; nothing was changed", backup.path) from exc
    backup.write_json(
        DOCUMENT,
        {
            "app_label": ins.label,
            "database": ins.database,
            "migrations_folder": str(ins.folder.resolve().relative_to(ins.root.resolve())),
            "rows": [r.to_dict() for r in ins.rows],
            "steps": list(steps or []),
            "restoring": restoring,
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
            f"({last_line(result)}); nothing was changed. Fix that, or drop the database "
            "yourself if its rows may be lost.",
            backup.path,
        )
    os.chmod(target, 0o600)
