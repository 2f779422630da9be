"""What each step of a reset does: files, child processes, django_migrations rows, and the
new migrations recorded or applied with Django's MigrationExecutor."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from authtools.procedures import childproc
from authtools.procedures.migration_files import (
    forget_modules,
    make_readable,
    migration_files,
    rewrite_dependencies,
    write_source,
)
from authtools.procedures.plan import Runtime
from authtools.procedures.reset.commands import run_command
from authtools.procedures.reset.spec import REVERT, Inspection


def drop_and_recreate(ins: Inspection) -> None:
    """reset_db in a child process. PostgreSQL refuses to drop a database with sessions, ours
    included (it holds the procedure's advisory lock, which ends with the database anyway)."""
    from django.db import connections

    connections[ins.database].close()
    run_command(ins, ["reset_db", "--noinput", "--database", ins.database])


def run_migrate(ins: Inspection) -> None:
    """migrate in a child process (other apps' migrations, or everything after --reset-db)."""
    run_command(ins, ["migrate", "--noinput", "--database", ins.database])


def drop_bytecode(folder: Path) -> None:
    """Remove FOLDER's __pycache__, so that no stale .pyc stands in for a file just changed."""
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)


def delete_migration_files(folder: Path) -> None:
    for path in migration_files(folder):
        path.unlink()
    drop_bytecode(folder)


def point_dependents_at(ins: Inspection, name: str) -> None:
    """Rewrite every dependent file: its dependencies on the app now name migration NAME."""
    mapping = {n: name for d in ins.dependents for n in d.names}
    for d in ins.dependents:
        write_source(d.path, rewrite_dependencies(d.source, ins.label, mapping))
        drop_bytecode(d.path.parent)


def _makemigrations(
    ins: Inspection, overrides: dict[str, str] | None = None
) -> tuple[childproc.ChildResult, list[str]]:
    """makemigrations LABEL in a child process: its result, and the migrations it wrote."""
    before = {p.name for p in migration_files(ins.folder)}
    args = ["makemigrations", ins.label, "--noinput", "--skip-checks"]
    # --skip-checks: under the revert, an AbstractUser-based model clashes with auth.User
    # (fields.E304) and makemigrations would refuse; `check` runs at the end instead.
    result = run_command(ins, args, overrides)
    new = [p for p in migration_files(ins.folder) if p.name not in before]
    make_readable(new)
    return result, sorted(p.name[:-3] for p in new)


def run_makemigrations(ins: Inspection, rt: Runtime) -> None:
    """makemigrations LABEL, under the temporary revert when the plan chose it."""
    result, generated = _makemigrations(ins, REVERT if ins.via_auth_user else None)
    if not generated:
        raise RuntimeError(f"makemigrations wrote no migration for {ins.label!r}")
    rt.state.update(
        generated=generated,
        leaf=generated[-1],
        makemigrations=[
            {
                "auth_user_model": "auth.User" if ins.via_auth_user else "real",
                "output": result.stdout.strip(),
            }
        ],
        revert=ins.revert_reason,
    )


def run_makemigrations_real(ins: Inspection, rt: Runtime) -> None:
    """The second half of the revert: makemigrations with the real value, once the history is
    consistent (before, Django refuses: InconsistentMigrationHistory). Whatever it writes is
    what the real value needs beyond the reverted run; it is applied at once."""
    result, extra = _makemigrations(ins)
    rt.state["makemigrations"].append({"auth_user_model": "real", "output": result.stdout.strip()})
    rt.state["generated_real"] = extra
    if extra:
        rt.state["generated"] += extra
        rt.state["leaf"] = extra[-1]
        point_dependents_at(ins, extra[-1])
        apply_generated(ins, rt)


def delete_rows(ins: Inspection) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[ins.database])
    recorder.migration_qs.filter(app=ins.label, id__in=[r.id for r in ins.rows]).delete()


def fresh_loader(ins: Inspection) -> Any:
    """A MigrationLoader that sees the files as they are now, not as first imported: the
    dependents' modules and the app's migration modules are forgotten first (the latter with
    ``migration_files.forget_modules``)."""
    from django.db import connections
    from django.db.migrations.loader import MigrationLoader

    paths = {d.path.resolve() for d in ins.dependents}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() in paths:
            del sys.modules[name]
    forget_modules(ins.migrations_module)
    return MigrationLoader(connections[ins.database])


def fresh_executor(ins: Inspection) -> tuple[Any, Any]:
    """(loader, executor): Django's MigrationExecutor working from a fresh_loader."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    loader = fresh_loader(ins)
    executor = MigrationExecutor(connections[ins.database])
    executor.loader = loader
    return loader, executor


def record_generated(ins: Inspection, rt: Runtime) -> None:
    """Record the new migrations as applied after Django's own introspection agrees."""
    loader, executor = fresh_executor(ins)
    for name in rt.state["generated"]:
        migration = loader.get_migration(ins.label, name)
        if migration.initial:
            soft, _ = executor.detect_soft_applied(None, migration)
            if not soft:
                raise RuntimeError(
                    f"{ins.label}.{name}'s tables or columns are not all in the database"
                )
        executor.recorder.record_applied(ins.label, name)
    rt.state["recorded"] = list(rt.state["generated"])


def apply_generated(ins: Inspection, rt: Runtime) -> None:
    """Apply the new migrations in graph order (skipping migrate's history check, which
    would refuse because other apps' applied migrations already depend on them)."""
    loader, executor = fresh_executor(ins)
    applied = set(executor.recorder.applied_migrations())
    done = []
    for key in loader.graph.forwards_plan((ins.label, rt.state["leaf"])):
        if key[0] != ins.label or key in applied:
            continue
        state = loader.project_state(key, at_end=False)
        executor.apply_migration(state, loader.graph.nodes[key])
        done.append(key[1])
    rt.state["applied"] = rt.state.get("applied", []) + done
