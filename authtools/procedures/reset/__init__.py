"""The migration reset: regenerate one app's migrations, repair the files and the
django_migrations rows that named the old ones, and prove the end state.

``build_plan`` inspects the project (read-only) and returns a Plan; ``build_restore_plan`` puts a
backup back. Both refuse bad input with ResetError before anything changes.

The temporary AUTH_USER_MODEL revert (the seed's procedure 5) changes one thing: how
``settings.AUTH_USER_MODEL`` resolves while Django loads migration files, so that other apps'
swappable dependencies point at ``auth`` instead of the user app. It matters when other apps'
migrations were applied (against another user model) before the user app's tables existed:
under the real value their dependency on the user app's new initial migration makes Django's
history check refuse (InconsistentMigrationHistory, even makemigrations). The plan then uses it
automatically: makemigrations under 'auth.User', the new migration applied with Django's
MigrationExecutor under the real value (so foreign keys inside the user app still point at its
own table), then makemigrations under the real value once the history is consistent, which must
find nothing more to write (``--via-auth-user`` asks for the same sequence in any state).

Modules, one concern each (every public name is importable from this package):

* ``spec``: PROCEDURE and the other names, ResetError, and the data ``inspect`` returns
  (Inspection, Row, Dependent, TableCheck);
* ``inspection``: :func:`inspect`, built from ``project`` (the app, its migrations folder, the
  database), ``history`` (django_migrations rows, files on disk, what Django's loader says) and
  ``tables`` (the app's tables as the database has them);
* ``plan``: :func:`build_plan`, the Steps in order;
* ``steps``: what each step does; ``commands``: manage.py in a child process;
* ``verification``: :func:`verify`, the end-state checks;
* ``backup``: :func:`save_backup` (and dumpdata before --reset-db);
* ``restore``: :func:`build_restore_plan`, putting a backup back;
* ``interrupted``: :func:`interrupted`, the run a kill left half done (the next run names the
  way out).
"""

from __future__ import annotations

from authtools.procedures.reset.backup import dump_data, save_backup
from authtools.procedures.reset.commands import last_line, run_command
from authtools.procedures.reset.history import (
    applied_dependents,
    applied_keys,
    disk_migrations,
    graph_state,
    pending_elsewhere,
    read_rows,
)
from authtools.procedures.reset.inspection import inspect
from authtools.procedures.reset.interrupted import Interruption, interrupted
from authtools.procedures.reset.plan import NOTHING_TO_RESET, build_plan
from authtools.procedures.reset.project import (
    check_database,
    migrations_folder,
    project_root,
    resolve_app,
    writable_or_raise,
)
from authtools.procedures.reset.restore import build_restore_plan, restore_files, restore_rows
from authtools.procedures.reset.spec import (
    DESTRUCTIVE,
    DOCUMENT,
    OTHER_PROCEDURES,
    PLACEHOLDER,
    PREDICTED,
    PROCEDURE,
    REVERT,
    Dependent,
    Inspection,
    ResetError,
    Row,
    TableCheck,
)
from authtools.procedures.reset.steps import (
    apply_generated,
    delete_migration_files,
    delete_rows,
    drop_and_recreate,
    drop_bytecode,
    fresh_executor,
    fresh_loader,
    point_dependents_at,
    record_generated,
    run_makemigrations,
    run_makemigrations_real,
    run_migrate,
)
from authtools.procedures.reset.tables import table_check
from authtools.procedures.reset.verification import verify

__all__ = [
    "DESTRUCTIVE",
    "DOCUMENT",
    "NOTHING_TO_RESET",
    "OTHER_PROCEDURES",
    "PLACEHOLDER",
    "PREDICTED",
    "PROCEDURE",
    "REVERT",
    "Dependent",
    "Inspection",
    "Interruption",
    "ResetError",
    "Row",
    "TableCheck",
    "annotations",
    "applied_dependents",
    "applied_keys",
    "apply_generated",
    "build_plan",
    "build_restore_plan",
    "check_database",
    "delete_migration_files",
    "delete_rows",
    "disk_migrations",
    "drop_and_recreate",
    "drop_bytecode",
    "dump_data",
    "fresh_executor",
    "fresh_loader",
    "graph_state",
    "inspect",
    "interrupted",
    "last_line",
    "migrations_folder",
    "pending_elsewhere",
    "point_dependents_at",
    "project_root",
    "read_rows",
    "record_generated",
    "resolve_app",
    "restore_files",
    "restore_rows",
    "run_command",
    "run_makemigrations",
    "run_makemigrations_real",
    "run_migrate",
    "save_backup",
    "table_check",
    "verify",
    "writable_or_raise",
]
