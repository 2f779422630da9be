"""An interrupted reset or --restore (killed, or a step failed outside a transaction): the
next run names the way out instead of working on a half-changed project.

A run is interrupted when its backup is complete (the document is written before the first
step), its journal does not list every step of the run, and the project no longer holds what
the backup saved (a run killed before its first step changed anything is not interrupted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from authtools.procedures.reset.inspection import inspect
from authtools.procedures.reset.restore import already_restored, load_backup
from authtools.procedures.reset.spec import PROCEDURE, ResetError, Row


@dataclass
class Interruption:
    backup: Path
    done: int
    total: int
    restoring: str | None  # the backup an interrupted --restore was putting back

    def message(self) -> str:
        what = "reset" if self.restoring is None else f"restore from {self.restoring!r}"
        head = (
            f"The {what} of backup {str(self.backup)!r} was interrupted after {self.done} of "
            f"{self.total} steps: "
        )
        if self.restoring is None:
            way = (
                "undo it with `python manage.py reset_user_migrations --restore "
                f"{self.backup}`, then run the reset again"
            )
        else:
            way = (
                "finish it with `python manage.py reset_user_migrations --restore "
                f"{self.restoring}`, or undo it with `python manage.py reset_user_migrations "
                f"--restore {self.backup}`"
            )
        return f"{head}{way}. Nothing was changed."


def interrupted(root: Path, database: str) -> Interruption | None:
    """The newest complete reset backup under ROOT on DATABASE, when its run stopped half-way."""
    from django.db import DatabaseError

    if not root.is_dir():
        return None
    for path in sorted(root.glob(f"{PROCEDURE}-*"), reverse=True):
        try:
            backup, saved, files = load_backup(path, database)
        except (ResetError, DatabaseError):
            continue  # cut short before its first step (or unreadable): no run to finish
        steps = saved["steps"]
        done = backup.read_journal(steps)
        if done is not None and set(done) == set(steps):
            return None
        try:
            current = inspect(saved["app_label"], database)
            if already_restored(current, [Row(**r) for r in saved["rows"]], files):
                # Killed before its first change: as if it never ran, so the run before it
                # (a reset whose --restore this was) may still be the interrupted one.
                continue
        except ResetError:
            return None  # the app is gone: nothing this backup could continue
        except DatabaseError:
            pass  # e.g. --reset-db killed after the drop: the project is not as it was saved
        return Interruption(path, len(done or []), len(steps), saved["restoring"])
    return None
