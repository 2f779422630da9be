"""Running a swap: the lock, SQLite's DDL session, --resume and --rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from authtools.procedures.runner import RunResult
from authtools.procedures.swap.spec import PROCEDURE, load_spec
from authtools.procedures.swap.steps import build_plan


@contextmanager
def locked(database: str) -> Iterator[None]:
    """Hold the database's authtools lock (PostgreSQL advisory lock, MySQL GET_LOCK), and read
    the catalog once for the whole swap (see authtools.db.snapshot)."""
    from django.db import connections

    from authtools.db.snapshot import pinned
    from authtools.procedures.runner import procedure_lock

    with procedure_lock(database, PROCEDURE), pinned(connections[database]):
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


def resume(path: Path, log: Callable[[str], None] = lambda m: None) -> RunResult:
    """Run the steps of the swap in backup PATH that its journal does not list as done."""
    from authtools.procedures.backup import Backup
    from authtools.procedures.runner import JOURNAL, execute

    plan = build_plan(load_spec(path))
    backup = Backup.open(path)
    done = frozenset(backup.read_json(JOURNAL)) if backup.has(JOURNAL) else frozenset()
    if not done:
        done = frozenset({"-"})  # the backup was taken: do not take it again
    return execute(plan, backup, log=log, skip=done)


def rollback(path: Path, log: Callable[[str], None] = lambda m: None) -> list[str]:
    """Undo the completed steps of the swap in backup PATH, newest first (in one transaction
    where the backend can roll back DDL)."""
    from django.db import transaction

    from authtools.procedures.backup import Backup
    from authtools.procedures.runner import JOURNAL, transactional_ddl
    from authtools.procedures.runner import rollback as run_rollback

    spec = load_spec(path)
    plan = build_plan(spec)
    backup = Backup.open(path)
    journal = backup.read_json(JOURNAL) if backup.has(JOURNAL) else []
    pending = [s for s in plan.steps if s.id not in journal]
    if pending and pending[0].undo is not None:
        # An interrupted run may have done the next step without journalling it (killed between
        # the two): undo it too. Every undo checks what is there, so it is harmless otherwise.
        backup.write_json(JOURNAL, [*journal, pending[0].id])
    if transactional_ddl(spec.database):
        with transaction.atomic(using=spec.database):
            return run_rollback(plan, backup, log)
    return run_rollback(plan, backup, log)
