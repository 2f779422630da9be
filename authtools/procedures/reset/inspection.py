"""Everything a reset plan needs, read without changing anything."""

from __future__ import annotations

from authtools.procedures.migration_files import migration_files
from authtools.procedures.reset.history import (
    applied_dependents,
    disk_migrations,
    graph_state,
    pending_elsewhere,
    read_rows,
)
from authtools.procedures.reset.project import (
    check_database,
    migrations_folder,
    project_root,
    resolve_app,
    writable_or_raise,
)
from authtools.procedures.reset.spec import Inspection
from authtools.procedures.reset.tables import table_check


def inspect(label: str | None, database: str, *, via_auth_user: bool = False) -> Inspection:
    """Everything the plan needs, read without changing anything. Raises ResetError."""
    config = resolve_app(label)
    root = project_root()
    module_name, folder = migrations_folder(config, root)
    check_database(database)
    names, dependents, disk = disk_migrations(config.label)
    for dependent in dependents:
        writable_or_raise(dependent.path.parent)
    graph_error, history_error, pending = graph_state(database, config.label)
    return Inspection(
        label=config.label,
        database=database,
        root=root,
        migrations_module=module_name,
        folder=folder,
        files=migration_files(folder),
        disk_names=names,
        rows=read_rows(database, config.label),
        dependents=dependents,
        graph_error=graph_error,
        history_error=history_error,
        pending=pending,
        tables=table_check(config, database),
        pending_elsewhere=pending_elsewhere(config.label, disk, database),
        applied_dependents=applied_dependents(config.label, disk, database),
        via_auth_user=via_auth_user,
        revert_reason="asked for with --via-auth-user" if via_auth_user else None,
    )
