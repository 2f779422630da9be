"""Stage 5 of the swap, run: the lock, SQLite's DDL session, and the plans of --resume and
--rollback (built from a checked backup; run by the same protocol as a first run).

Reads a backup's spec (``spec.load_spec``) and returns runner ``Plan``s built by
``steps.build_plan``; the last stage, after ``verify`` and ``steps``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from authtools.procedures.plan import Plan, Step
from authtools.procedures.swap.spec import PROCEDURE, SwapRefused, latest_backup, load_spec
from authtools.procedures.swap.steps import build_plan


@contextmanager
def locked(database: str) -> Iterator[None]:
    """Hold the database's authtools lock (PostgreSQL advisory lock, MySQL GET_LOCK) from the
    preflight to the verification, and read the catalog once for the whole swap (see
    authtools.db.snapshot). It is the lock the runner takes for every procedure: taking it
    again there costs no statement."""
    from django.db import connections

    from authtools.db.snapshot import pinned
    from authtools.procedures.runner import procedure_lock

    with procedure_lock(database, "procedure"), pinned(connections[database]):
        yield


@contextmanager
def ddl_session(database: str) -> Iterator[None]:
    """SQLite only runs table renames in a transaction with foreign key checks off (they must be
    turned off before the transaction starts); they are checked again in verify()."""
    from django.db import connections

    connection = connections[database]
    disabled = connection.vendor == "sqlite" and connection.disable_constraint_checking()
    try:
        yield
    finally:
        if disabled:
            connection.enable_constraint_checking()


def open_backup(path: Path, database: str) -> Any:
    """The swap backup at PATH, checked (manifest, digests, procedure, database, project)."""
    from authtools.procedures.backup import Backup

    return Backup.open(path, procedures=(PROCEDURE,), database=database)


def resume_plan(path: Path, database: str) -> Plan:
    """The steps of the swap in backup PATH that are not done yet, as a plan of their own."""
    from authtools.procedures.runner import done_steps

    backup = open_backup(path, database)
    full = build_plan(load_spec(backup, database))
    done, source = done_steps(full, backup)
    plan = Plan(
        PROCEDURE,
        database,
        way_back="--rollback {backup}",
        lock_tables=full.lock_tables,
        existing_backup=backup,
        journal=done,
        empty_message="Nothing to resume: every step of this swap is done.",
    )
    plan.steps = [s for s in full.steps if s.id not in done]
    plan.verify = full.verify
    plan.notes.append(
        f"Resume the swap of backup {str(backup.path)!r}: {len(done)} of {len(full.steps)} "
        f"step(s) done, read from {source}."
    )
    return plan


def rollback_plan(path: Path, database: str) -> Plan:
    """Undo the completed steps of the swap in backup PATH, newest first (in one transaction
    where the backend can roll back DDL)."""
    from django.conf import settings

    from authtools.procedures.runner import done_steps

    backup = open_backup(path, database)
    spec = load_spec(backup, database)
    full = build_plan(spec)
    done, source = done_steps(full, backup, undoing=True)
    by_id = {s.id: s for s in full.steps}
    plan = Plan(
        PROCEDURE,
        database,
        way_back="--rollback {backup}",
        lock_tables=full.lock_tables,
        existing_backup=backup,
        journal=done,
        undoing=True,
        empty_message="Nothing to undo.",
    )
    for step_id in reversed(done):
        step = by_id[step_id]
        if step.undo is None:
            raise SwapRefused(
                f"step {step.description!r} cannot be undone automatically (restore the "
                f"database from your own backup); backup {str(backup.path)!r}"
            )
        plan.add(
            Step(
                step.id,
                step.kind,
                f"Undo: {step.description}",
                step.undo,
                atomic=step.atomic,
                applied=step.applied,
            )
        )
    undone = [by_id[i] for i in done]
    plan.verify = lambda runtime: [
        f"step {s.description!r} is still in effect"
        for s in undone
        if s.applied is not None and s.applied(runtime)
    ]
    plan.notes.append(
        f"Undo the swap of backup {str(backup.path)!r}: {len(done)} of {len(full.steps)} "
        f"step(s) done, read from {source}."
    )
    if getattr(settings, "AUTH_USER_MODEL", "auth.User") == spec.new_label:
        plan.by_hand.append(
            f"AUTH_USER_MODEL still names {spec.new_label!r}: set it back to "
            f"{spec.old_label!r} in the settings"
        )
    new_app = spec.new_label.split(".")[0]
    if new_app != spec.old_label.split(".")[0]:
        plan.by_hand.append(
            f"the app {new_app!r} stays in INSTALLED_APPS and on disk (its model and "
            "migrations): remove it, or keep it for the next swap"
        )
    return plan


def interrupted(root: Path, database: str) -> tuple[Path, int, int] | None:
    """The newest swap backup under ROOT when its run stopped half-way: (folder, steps done,
    steps in all). None when there is none, it is complete or undone, or it cannot be read."""
    from authtools.procedures.backup import BackupError
    from authtools.procedures.runner import ProcedureError, done_steps

    path = latest_backup(root)
    if path is None:
        return None
    try:
        backup = open_backup(path, database)
        if not backup.has("swap-spec"):
            return None
        full = build_plan(load_spec(backup, database))
        done, _ = done_steps(full, backup)
    except (BackupError, ProcedureError, SwapRefused, OSError):
        return None
    if done and len(done) < len(full.steps):
        return path, len(done), len(full.steps)
    return None
