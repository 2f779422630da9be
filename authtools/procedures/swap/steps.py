"""Turn a ``SwapSpec`` into a runner ``Plan``: each step's apply and undo, and the backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authtools.db.schema import Rename, exists, rename_sql
from authtools.procedures.migration_files import write_source
from authtools.procedures.plan import Plan, Runtime, Step, StepKind
from authtools.procedures.swap.spec import PROCEDURE, SPEC, StepSpec, SwapSpec
from authtools.procedures.swap.verify import verify


def _execute(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _run_renames(connection: Any, renames: list[Rename]) -> None:
    """Each rename runs only when its source is still there, so a step can be run again."""
    for rename in renames:
        if exists(
            connection,
            rename.kind,
            rename.old,
            rename.table if rename.kind != "table" else rename.old,
        ):
            _execute(connection, rename_sql(connection, rename))


_KINDS: dict[str, StepKind] = {"contenttypes": "rows", "migrations": "rows", "files": "file"}


def _step(spec: SwapSpec, s: StepSpec) -> Step:
    from django.db import connections

    connection = connections[spec.database]
    renames = [Rename.from_dict(r) for r in s.renames]

    def apply(runtime: Runtime) -> Any:
        if s.kind == "renames":
            _run_renames(connection, renames)
        elif s.kind == "sql":
            _execute(connection, s.sql)
        elif s.kind == "contenttypes":
            from django.db import transaction

            from authtools.procedures.contenttypes import remap

            with transaction.atomic(using=spec.database):
                counts = remap(spec.database, s.data["old"], s.data["new"])
            runtime.state["contenttypes"] = counts
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=True)
        elif s.kind == "files":
            write_files(s.data["write"], s.data["replace"])
        elif s.kind == "migrate":
            migrate_to(spec.database, s.data["migration"])
        return None

    def undo(runtime: Runtime) -> Any:
        if s.kind == "renames":
            _run_renames(connection, [r.reverse(_table_before(spec, r)) for r in reversed(renames)])
        elif s.kind == "contenttypes":
            undo_contenttypes(spec.database, s.data)
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=False)
        elif s.kind == "files":
            restore_files(s.data["write"], s.data["replace"])
        elif s.kind == "migrate":
            migrate_to(spec.database, s.data["mirror"])
        return None

    def applied(runtime: Runtime) -> bool:
        """Whether the step has fully taken effect, read from the database and the files."""
        if s.kind == "renames":
            return all(
                exists(connection, r.kind, r.new, r.new if r.kind == "table" else r.table)
                and not exists(connection, r.kind, r.old, r.old if r.kind == "table" else r.table)
                for r in renames
            )
        if s.kind == "contenttypes":
            from django.contrib.contenttypes.models import ContentType

            rows = ContentType.objects.db_manager(spec.database).filter(pk=s.data["old_id"])
            if not s.data.get("relabel"):
                return not rows.exists()
            app_label, model = s.data["new"].split(".")
            return rows.filter(app_label=app_label, model=model).exists()
        if s.kind == "migrations":
            return _recorded(spec.database, s.data["migrations"])
        if s.kind == "files":
            return all(
                Path(p).is_file() and Path(p).read_text() == text
                for p, text in s.data["write"].items()
            )
        if s.kind == "migrate":
            return _recorded(spec.database, [s.data["migration"]])
        return False  # a statement that can run again (the sequence reset)

    has_undo = {
        "contenttypes": bool(s.data.get("relabel")),
        "migrate": not spec.dropped_columns,  # a dropped column comes back from the backup only
    }.get(s.kind, True)
    return Step(
        id=s.id,
        kind=_KINDS.get(s.kind, "sql"),
        atomic=s.kind != "files",
        description=s.description,
        apply=apply,
        details=list(s.details),
        sql=list(s.sql),
        undo=undo if has_undo else None,
        applied=applied,
    )


def _recorded(database: str, migrations: list[list[str]]) -> bool:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    done = MigrationRecorder(connections[database]).applied_migrations()
    return all((app, name) in done for app, name in migrations)


def write_files(write: dict[str, str], replace: dict[str, str]) -> None:
    """Write the generated migrations; remove the files they replace (kept in the backup)."""
    from authtools.procedures.swap.migrations import forget_modules

    for path in replace:
        if path not in write:
            Path(path).unlink(missing_ok=True)
    for path, source in write.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_source(Path(path), source)
    forget_modules(_package_of(write))


def restore_files(write: dict[str, str], replace: dict[str, str]) -> None:
    from authtools.procedures.swap.migrations import forget_modules

    for path in write:
        if path not in replace and not path.endswith("__init__.py"):
            Path(path).unlink(missing_ok=True)
    for path, source in replace.items():
        write_source(Path(path), source)
    forget_modules(_package_of(write))


def _package_of(files: dict[str, str]) -> str:
    """The dotted migrations package of the app these files belong to."""
    from django.apps import apps

    folder = Path(next(iter(files))).parent.resolve()
    for config in apps.get_app_configs():
        if folder.parent == Path(config.path).resolve():
            return f"{config.name}.{folder.name}"
    return folder.name


def migrate_to(database: str, target: list[str]) -> None:
    """Apply (or unapply back to) TARGET with Django's executor, in this process."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[database])
    executor.migrate([(target[0], target[1])])


def _table_before(spec: SwapSpec, rename: Rename) -> str:
    """The table a reversed rename runs against (tables are renamed back last)."""
    if rename.kind == "table":
        return rename.new
    return rename.table


def record_migrations(database: str, migrations: list[list[str]], *, applied: bool) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[database])
    done = recorder.applied_migrations()
    for app, name in migrations:
        if applied and (app, name) not in done:
            recorder.record_applied(app, name)
        elif not applied and (app, name) in done:
            recorder.record_unapplied(app, name)


def undo_contenttypes(database: str, data: dict[str, Any]) -> None:
    from django.contrib.contenttypes.models import ContentType

    app_label, model = data["old"].split(".")
    ContentType.objects.db_manager(database).filter(pk=data["old_id"]).update(
        app_label=app_label, model=model
    )
    ContentType.objects.clear_cache()


def backup_metadata(spec: SwapSpec, runtime: Runtime) -> None:
    """Save the spec (for --resume/--rollback) and every metadata row the swap changes."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db.migrations.recorder import MigrationRecorder

    runtime.backup_dir.write_json(SPEC, spec.as_dict())
    labels = [tuple(label.lower().split(".")) for label in (spec.old_label, spec.new_label)]
    cts = ContentType.objects.db_manager(spec.database)
    rows = [
        {"id": ct.pk, "app_label": ct.app_label, "model": ct.model}
        for ct in cts.all()
        if (ct.app_label, ct.model) in labels
    ]
    permissions = list(
        Permission.objects.db_manager(spec.database)
        .filter(content_type_id__in=[r["id"] for r in rows])
        .values("id", "content_type_id", "codename", "name")
    )
    apps_involved = {spec.old_label.split(".")[0], spec.new_label.split(".")[0]}
    recorder = MigrationRecorder.Migration.objects.using(spec.database)
    migrations = list(recorder.filter(app__in=apps_involved).values("id", "app", "name", "applied"))
    if spec.dropped_columns:
        runtime.backup_dir.write_json("dropped-columns", dropped_values(spec))
    runtime.backup_dir.write_json(
        "metadata",
        {"content_types": rows, "permissions": permissions, "django_migrations": migrations},
    )


def dropped_values(spec: SwapSpec) -> dict[str, Any]:
    """The values of the columns the swap drops, by primary key, read before anything runs."""
    from django.db import connections

    connection = connections[spec.database]
    q = connection.ops.quote_name
    table = spec.old_table if exists(connection, "table", spec.old_table, "") else spec.new_table
    columns = ", ".join(q(c) for c in [spec.pk_column, *spec.dropped_columns])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {q(table)} ORDER BY {q(spec.pk_column)}")
        rows = [[str(v) if v is not None else None for v in row] for row in cursor.fetchall()]
    return {
        "table": spec.old_table,
        "columns": [spec.pk_column, *spec.dropped_columns],
        "rows": rows,
    }


def build_plan(spec: SwapSpec) -> Plan:
    plan = Plan(
        PROCEDURE,
        spec.database,
        notes=list(spec.notes),
        way_back="--rollback {backup}",
        lock_tables=["django_migrations"],
    )
    if spec.vendor == "postgresql":
        plan.notes.append(
            "django_migrations is locked for the transaction: a migrate started meanwhile waits "
            "for the swap to commit."
        )
    for s in spec.steps:
        plan.add(_step(spec, s))
    plan.backup = lambda runtime: backup_metadata(spec, runtime)
    plan.verify = lambda runtime: verify(spec)
    plan.data["spec"] = spec
    return plan
