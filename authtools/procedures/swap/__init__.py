"""swap_user_model: move a live database from one user model to another by renaming, not copying.

The project is in the state people are in when they ask for this: the new model is written and
AUTH_USER_MODEL points at it, but the database holds the old model's tables and migration
history (``migrate`` fails with InconsistentMigrationHistory). The swap:

1. renames the old user table and its many-to-many tables to the new model's ``db_table``s
   (foreign keys of every app follow a renamed table on every backend);
2. renames indexes, constraints and sequences to the names ``migrate`` would have given them;
3. makes the next generated id follow the highest one;
4. relabels the old model's content type in place (same id: permissions, their assignments and
   admin log entries keep pointing right);
5. records the new app's migrations as applied, after checking that they build exactly the old
   table (they become the history an empty database is built from).

``preflight()`` reads the project and the database and returns a ``SwapSpec``: plain data, every
SQL statement included, saved in the backup so that ``--resume`` and ``--rollback`` rebuild the
very same plan. ``build_plan()`` turns a spec into a runner ``Plan``.

Modules: ``preflight`` (checks, the spec), ``plan`` (steps as data), ``migrations`` (the
two-step migrations of case 2 and phase 2), ``steps`` (apply, undo, backup), ``verify`` (the end
state), ``run`` (lock, resume, rollback), ``spec`` (the data), ``scaffold`` and
``settings_edit`` (--scaffold, --write-settings); per-backend DDL is in ``authtools.db.schema``.
"""

from __future__ import annotations

from authtools.db.locks import LockBusy, TableLocks
from authtools.procedures.swap.preflight import KeyWidthRefused, preflight
from authtools.procedures.swap.run import (
    ddl_session,
    interrupted,
    locked,
    resume_plan,
    rollback_plan,
)
from authtools.procedures.swap.spec import PROCEDURE, SwapRefused, SwapSpec, latest_backup
from authtools.procedures.swap.steps import app_processes_next, build_plan

__all__ = [
    "PROCEDURE",
    "KeyWidthRefused",
    "LockBusy",
    "SwapRefused",
    "SwapSpec",
    "TableLocks",
    "app_processes_next",
    "build_plan",
    "ddl_session",
    "interrupted",
    "latest_backup",
    "locked",
    "preflight",
    "resume_plan",
    "rollback_plan",
]
