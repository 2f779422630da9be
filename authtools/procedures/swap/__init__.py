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

A one-way pipeline; each module imports only the ones before it (tests/test_layers.py):

- ``spec``: the data every stage passes on (``SwapSpec``, ``StepSpec``, ``SwapRefused``);
- inspect: ``causes`` (the diagnosis's located causes of a refusal), ``inspect`` (the models,
  the tables, the foreign keys, the migration loader);
- decide: ``keys`` (the primary key's width and its route), ``decide`` (the migrations to
  record or generate, the renames, every refusal);
- generate: ``migrations`` (the two-step migrations of case 2 and phase 2);
- plan: ``plan`` (the steps as data), ``preflight`` (stages 1 to 4 in order: the spec);
- run and verify: ``verify`` (the end state), ``steps`` (the runner's steps: apply, undo,
  backup), ``run`` (lock, resume, rollback);
- beside the chain: ``scaffold`` and ``settings_edit`` (--scaffold, --write-settings).

Per-backend DDL is in ``authtools.db.schema``.
"""

from __future__ import annotations

from authtools.db.locks import LockBusy, TableLocks
from authtools.procedures.swap.keys import KeyWidthRefused
from authtools.procedures.swap.preflight import preflight
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
