"""Execute a Plan: backup, lock, one transaction where the backend allows, journal, verify."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authtools.procedures.backup import JOURNAL, Backup
from authtools.procedures.plan import Plan, Runtime, Step

__all__ = ["JOURNAL", "ProcedureError", "RunResult", "done_steps", "execute"]


class ProcedureError(Exception):
    """A step failed. The message names the step and the way back; ``backup`` is the folder."""

    def __init__(self, message: str, backup: Path | None = None) -> None:
        super().__init__(message)
        self.backup = backup


@dataclass
class RunResult:
    backup: Path
    completed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.failures


def transactional_ddl(database: str) -> bool:
    from django.db import connections

    return bool(connections[database].features.can_rollback_ddl)


@contextmanager
def procedure_lock(database: str, name: str) -> Iterator[None]:
    """Stop two procedures (or a procedure and another authtools run) at once on one database."""
    from authtools.db.locks import advisory_lock

    with advisory_lock(database, name):
        yield


def execute(
    plan: Plan,
    backup: Backup,
    *,
    log: Callable[[str], None] = lambda message: None,
    skip: frozenset[str] = frozenset(),
) -> RunResult:
    """Run every step of PLAN not in SKIP; verify at the end.

    Atomic steps run in one transaction when the backend can roll back DDL (PostgreSQL,
    SQLite): a failure leaves the database as it was. Elsewhere (MySQL/MariaDB) each completed
    step is written to the backup's journal so that a run can be resumed or rolled back.
    An advisory lock keeps two authtools procedures from running at once on one database.
    """
    from authtools.db.locks import LockBusy

    try:
        with procedure_lock(plan.database, "procedure"):
            return _execute(plan, backup, log, skip)
    except LockBusy as exc:
        raise ProcedureError(
            f"{exc}: wait for it to finish and run {plan.procedure} again; nothing was changed.",
            backup.path,
        ) from exc


def _execute(
    plan: Plan, backup: Backup, log: Callable[[str], None], skip: frozenset[str]
) -> RunResult:
    from django.db import transaction

    from authtools.db.locks import lock_tables

    runtime = Runtime(plan.database, backup, log=log)
    if plan.journal is not None:
        journal = list(plan.journal)
    else:
        journal = backup.read_journal([s.id for s in plan.steps]) or []
    if plan.backup is not None and not skip:
        plan.backup(runtime)
    # Plans that only change rows (no DDL) run in one transaction on every backend.
    use_transaction = transactional_ddl(plan.database) or all(s.kind == "rows" for s in plan.steps)
    pending = [s for s in plan.steps if s.id not in skip]

    def record(*steps: Step) -> None:
        """One journal write for STEPS (a committed transaction's steps all at once)."""
        for step in steps:
            if plan.undoing:
                journal.remove(step.id)
            else:
                journal.append(step.id)
        backup.write_json(JOURNAL, journal)

    for group in _groups(pending, use_transaction):
        current: Step = group[0]
        try:
            if use_transaction and group[0].atomic:
                with transaction.atomic(using=plan.database):
                    lock_tables(plan.database, plan.lock_tables)
                    for current in group:
                        log(f"Applying: {current.description}")
                        current.apply(runtime)
                record(*group)
            else:
                for current in group:
                    log(f"Applying: {current.description}")
                    current.apply(runtime)
                    record(current)
        except Exception as exc:
            number = plan.steps.index(current) + 1
            if use_transaction and current.atomic:
                undo = "the database was rolled back"
            elif not journal and getattr(exc, "changed_nothing", False):
                # No step done yet, and this one gave up before its first statement (a lock
                # timeout): there is nothing to undo, and running it again is the way on.
                undo = "nothing was changed"
            else:
                undo = f"undo with {plan.way_back_for(backup.path)}"
            if (
                use_transaction
                and current.atomic
                and any(not s.atomic for s in plan.steps if s.id in journal)
            ):  # earlier steps outside the transaction (files, child processes) stay done
                undo += f"; earlier steps are not: undo with {plan.way_back_for(backup.path)}"
            raise ProcedureError(
                f"Step {number} ({current.description}) failed: {type(exc).__name__}: {exc}. "
                f"Nothing after it ran; {undo}.",
                backup.path,
            ) from exc
    failures = plan.verify(runtime) if plan.verify is not None else []
    return RunResult(backup.path, journal, failures, runtime.state)


def done_steps(plan: Plan, backup: Backup, *, undoing: bool = False) -> tuple[list[str], str]:
    """The steps of PLAN that an earlier run of it completed, and where that was read from.

    The journal says so when it is readable. A run killed between a commit (or a step) and its
    journal entry may have done more: for a rollback, every step the database says took effect
    (``Step.applied``) counts as done too, and so does the step after the last done one when the
    journal is not empty (it may be half done; every undo checks what is there). When the
    journal is missing or unreadable, every step's ``applied`` test decides; a step without one
    makes that impossible (ProcedureError).
    """
    ids = [s.id for s in plan.steps]
    runtime = Runtime(plan.database, backup)
    journal = backup.read_journal(ids)
    source = "the journal"
    if journal is None:
        untestable = [s.description for s in plan.steps if s.applied is None]
        if untestable:
            raise ProcedureError(
                f"The journal of {str(backup.path)!r} is missing or unreadable, and whether step "
                f"{untestable[0]!r} ran cannot be read from the database: nothing was changed. "
                "Compare the database with the plan of this backup by hand.",
                backup.path,
            )
        journal = [s.id for s in plan.steps if s.applied is not None and s.applied(runtime)]
        source = "the database (the journal is missing or unreadable)"
    if undoing:
        # A kill after a commit and before its journal entry: the database knows better.
        journal = [
            s.id
            for s in plan.steps
            if s.id in journal or (s.applied is not None and s.applied(runtime))
        ]
        last = max((ids.index(i) for i in journal), default=None)
        if last is not None and last + 1 < len(plan.steps):
            following = plan.steps[last + 1]
            if following.undo is not None:
                journal.append(following.id)
    return journal, source


def _groups(steps: list[Step], use_transaction: bool) -> list[list[Step]]:
    """Consecutive atomic steps form one group (one transaction); others stand alone."""
    groups: list[list[Step]] = []
    for step in steps:
        if use_transaction and step.atomic and groups and groups[-1][0].atomic:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups
