"""The reset's backup: the migration files, the django_migrations rows, and before --reset-db
every row of the database as dumpdata writes it."""

from __future__ import annotations

import os
from pathlib import Path

from authtools.procedures import childproc
from authtools.procedures.backup import Backup
from authtools.procedures.reset.commands import last_line
from authtools.procedures.reset.spec import DOCUMENT, Inspection


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
            f"({last_line(result)}); nothing was changed. Fix that, or drop the database "
            "yourself if its rows may be lost.",
            backup.path,
        )
    os.chmod(target, 0o600)
