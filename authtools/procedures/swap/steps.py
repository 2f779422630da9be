"""Turn a ``SwapSpec`` into a runner ``Plan``: each step's apply and undo, and the backup."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from authtools.db.locks import (
    DEFAULT_LOCK_ATTEMPTS,
    LockTimeout,
    TableLocks,
    follow_alter,
    locked_sql,
    mysql_alters,
    run_locked,
    run_retried,
    session_lock_timeout,
)
from authtools.db.schema import Rename, exists, rename_sql, reset_sequence
from authtools.procedures.migration_files import write_source
from authtools.procedures.plan import Plan, Runtime, Step, StepKind
from authtools.procedures.swap.spec import PROCEDURE, SPEC, StepSpec, SwapSpec
from authtools.procedures.swap.verify import verify


def _run_renames(connection: Any, renames: list[Rename], locks: Sequence[str] = ()) -> None:
    """Each rename runs only when its source is still there, so a step can be run again.

    PostgreSQL: the renames of a step that renames no table or column (its indexes,
    constraints, sequences: independent of one another) are sent in one round trip.
    MySQL/MariaDB: one ALTER TABLE a table (``mysql_alters``); one that renames a table runs
    with LOCKS (the tables of the lock order, a ``TableLocks``) write-locked (``run_locked``)."""
    from authtools.db.snapshot import batch

    def present(rename: Rename) -> bool:
        table = rename.table if rename.kind != "table" else rename.old
        return exists(connection, rename.kind, rename.old, table)

    if connection.vendor == "mysql":
        for number, (statement, group) in enumerate(mysql_alters(connection, renames, check=True)):
            try:
                if any(r.kind == "table" for r in group):
                    run_locked(connection, locks, [statement])
                else:
                    run_retried(connection, [statement], locks)
            except LockTimeout as exc:
                exc.changed_nothing = number == 0  # the step's first statement did not run
                raise
            follow_alter(connection, group)
        return
    if connection.vendor == "postgresql" and all(
        r.kind not in ("table", "column") for r in renames
    ):
        statements = [sql for r in renames if present(r) for sql in rename_sql(connection, r)]
        if statements:
            run_retried(connection, [batch(statements)], locks)
        return
    for rename in renames:
        if present(rename):
            run_retried(connection, rename_sql(connection, rename), locks)


_KINDS: dict[str, StepKind] = {
    "contenttypes": "rows",
    "migrations": "rows",
    "files": "file",
    "model": "file",
}


def _step(spec: SwapSpec, s: StepSpec, locks: TableLocks) -> Step:
    from django.db import connections

    connection = connections[spec.database]
    renames = [Rename.from_dict(r) for r in s.renames]

    def apply(runtime: Runtime) -> Any:
        session_lock_timeout(connection, spec.lock_timeout)
        if s.kind == "renames":
            _run_renames(connection, renames, locks)
        elif s.kind == "sequence":
            reset_sequence(connection, s.data["table"], s.data["column"])
        elif s.kind == "sql":  # an older backup: its statements are not run from a file
            raise RuntimeError(f"step {s.id!r} holds SQL text; this version regenerates it")
        elif s.kind == "contenttypes":
            from django.db import transaction

            from authtools.procedures.contenttypes import remap

            # Its own transaction when run alone; inside the run's, no savepoint (a failure
            # rolls the whole transaction back anyway).
            with transaction.atomic(using=spec.database, savepoint=False):
                counts = remap(spec.database, s.data["old"], s.data["new"])
            runtime.state["contenttypes"] = counts
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=True)
        elif s.kind == "files":
            write_files(s.data["write"], s.data["replace"])
        elif s.kind == "migrate":
            migrate_to(spec.database, s.data["migration"])
        elif s.kind == "model":
            write_model(spec.model_edit, after=True)
        elif s.kind == "widen":
            widen_key(connection, s.data, forward=True)
        return None

    def undo(runtime: Runtime) -> Any:
        session_lock_timeout(connection, spec.lock_timeout)
        if s.kind == "renames":
            reverse = [r.reverse(_table_before(spec, r)) for r in reversed(renames)]
            _run_renames(connection, reverse, locks)
        elif s.kind == "contenttypes":
            undo_contenttypes(spec.database, s.data)
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=False)
        elif s.kind == "files":
            restore_files(s.data["write"], s.data["replace"])
        elif s.kind == "migrate":
            migrate_to(spec.database, s.data["mirror"])
        elif s.kind == "model":
            write_model(spec.model_edit, after=False)
        elif s.kind == "widen":
            widen_key(connection, s.data, forward=False)
        return None

    has_undo = {
        "contenttypes": bool(s.data.get("relabel")),
        "migrate": not spec.dropped_columns,  # a dropped column comes back from the backup only
    }.get(s.kind, True)
    return Step(
        id=s.id,
        kind=_KINDS.get(s.kind, "sql"),
        atomic=s.kind not in ("files", "model"),
        description=s.description,
        apply=apply,
        details=list(s.details),
        sql=shown_sql(connection, s, renames, spec),
        undo=undo if has_undo else None,
        applied=lambda runtime: applied(spec, s, renames),
    )


def shown_sql(connection: Any, s: StepSpec, renames: list[Rename], spec: SwapSpec) -> list[str]:
    """The statements of step S as shown in the plan, regenerated from its data (the SQL
    of a migration, run by Django's executor, is shown as planned)."""
    from authtools.db.schema import literal, quoter, sequence_reset_sql

    q = quoter(connection)
    if s.kind == "renames" and connection.vendor == "mysql":
        statements = []
        for sql, group in mysql_alters(connection, renames, check=False):
            if any(r.kind == "table" for r in group):
                statements += locked_sql(connection, _tables_at(spec, s), [sql], known=True)
            else:
                statements.append(sql)
        return statements
    if s.kind == "renames":
        return [sql for r in renames for sql in rename_sql(connection, r)]
    if s.kind == "sequence":
        return sequence_reset_sql(connection, s.data["table"], s.data["column"])
    if s.kind == "contenttypes" and s.data.get("relabel"):
        app_label, model = s.data["new"].split(".")
        return [
            f"UPDATE {q('django_content_type')} SET {q('app_label')} = "
            f"{literal(connection, app_label)}, {q('model')} = {literal(connection, model)} "
            f"WHERE {q('id')} = {literal(connection, int(s.data['old_id']))}"
        ]
    if s.kind == "migrations":
        return [
            f"INSERT INTO {q('django_migrations')} ({q('app')}, {q('name')}, {q('applied')}) "
            f"VALUES ({literal(connection, app)}, {literal(connection, name)}, "
            "CURRENT_TIMESTAMP)"
            for app, name in s.data["migrations"]
        ]
    if s.kind in ("migrate", "widen"):
        return list(s.sql)
    return []


def applied(spec: SwapSpec, s: StepSpec, renames: list[Rename]) -> bool:
    """Whether step S is done, read from the live database and files (for a resume or a
    rollback without a journal)."""
    from django.db import connections

    from authtools.db.schema import next_key_follows

    connection = connections[spec.database]
    if s.kind == "renames":
        return all(
            exists(connection, r.kind, r.new, r.new if r.kind == "table" else r.table)
            and (r.kind != "table" or not exists(connection, "table", r.old, ""))
            for r in renames
        )
    if s.kind == "sequence":
        return exists(connection, "table", s.data["table"], "") and next_key_follows(
            connection, s.data["table"], s.data["column"]
        )
    if s.kind == "contenttypes":
        from django.contrib.contenttypes.models import ContentType

        rows = ContentType.objects.db_manager(spec.database).filter(pk=s.data["old_id"])
        if not s.data.get("relabel"):  # merged into the successor's row: the old one is gone
            return not rows.exists()
        app_label, model = s.data["new"].split(".")
        return rows.filter(app_label=app_label, model=model).exists()
    if s.kind in ("migrations", "migrate"):
        from django.db.migrations.recorder import MigrationRecorder

        wanted = s.data["migrations"] if s.kind == "migrations" else [s.data["migration"]]
        done = MigrationRecorder(connection).applied_migrations()
        return all(tuple(m) in done for m in wanted)
    if s.kind == "files":
        return all(
            Path(p).is_file() and Path(p).read_text() == text for p, text in s.data["write"].items()
        )
    if s.kind == "model":
        path = Path(spec.model_edit["path"])
        return path.is_file() and path.read_text() == spec.model_edit["after"]
    if s.kind == "widen":
        from authtools.db.catalog import primary_key
        from authtools.db.schema import integer_width

        for table in (s.data["table"], spec.renamed_tables.get(s.data["table"], "")):
            found = primary_key(connection, table) if table else None
            if found is not None:
                return (integer_width(found[1]) or 0) >= 64
        return False
    return False


def write_files(write: dict[str, str], replace: dict[str, str]) -> None:
    """Write the generated migrations; remove the files they replace (kept in the backup)."""
    from authtools.procedures.migration_files import forget_modules

    for path in replace:
        if path not in write:
            Path(path).unlink(missing_ok=True)
    for path, source in write.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_source(Path(path), source)
    forget_modules(_package_of(write))


def write_model(edit: dict[str, str], *, after: bool) -> None:
    """--write-model: the model file with (AFTER) or without its explicit primary key line.
    Written only when the file still holds the other version (or already this one)."""
    path = Path(edit["path"])
    current = path.read_text()
    wanted, other = (edit["after"], edit["before"]) if after else (edit["before"], edit["after"])
    if current == wanted:
        return
    if current != other:
        raise RuntimeError(f"{str(path)!r} changed since the plan was made; edit it by hand")
    path.write_text(wanted)


def widen_key(connection: Any, data: dict[str, str], *, forward: bool) -> None:
    """Alter a many-to-many table's own id to the new app's key type (or back)."""
    from authtools.db.schema import widen_key_sql

    table = data["table"]
    if not exists(connection, "table", table, ""):
        return
    old, new = (data["from"], data["to"]) if forward else (data["to"], data["from"])
    widen_key_sql(connection, table, data["column"], old, new, run=True)


def restore_files(write: dict[str, str], replace: dict[str, str]) -> None:
    from authtools.procedures.migration_files import forget_modules

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


def _tables_at(spec: SwapSpec, step: StepSpec) -> list[str]:
    """The tables of the lock order that will exist when STEP runs (those there now, under the
    names the table renames of the steps before it give them)."""
    from django.db import connections

    from authtools.db import snapshot

    tables = snapshot.current(connections[spec.database]).tables
    for earlier in spec.steps[: spec.steps.index(step)]:
        for r in earlier.renames:
            if earlier.kind == "renames" and r["kind"] == "table" and r["old"] in tables:
                tables = (tables - {r["old"]}) | {r["new"]}
    return [t for t in lock_order(spec) if t in tables]


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

    runtime.backup_dir.write_json(SPEC, spec.as_data())
    from django.db.models import Q

    labels = [label.lower().split(".") for label in (spec.old_label, spec.new_label)]
    cts = ContentType.objects.db_manager(spec.database)
    rows = [
        {"id": ct.pk, "app_label": ct.app_label, "model": ct.model}
        for ct in cts.filter(
            Q(app_label=labels[0][0], model=labels[0][1])
            | Q(app_label=labels[1][0], model=labels[1][1])
        ).order_by("pk")
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
    from authtools.db.schema import quoter

    q = quoter(connection)
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


def lock_order(spec: SwapSpec) -> TableLocks:
    """The tables the swap's transaction locks before anything else, in an order that cannot
    deadlock with inserts and updates (a table with a foreign key to the user table before it),
    under their names before and after the swap (those that exist are locked)."""
    if spec.old_table == spec.new_table and not spec.keys:
        return TableLocks(["django_migrations"], timeout=spec.lock_timeout)
    m2m = {old: new for old, new in spec.renamed_tables.items() if old != spec.old_table}
    referencing = sorted({t for t, _ in spec.referencing} - set(m2m.values()))
    tables = [*referencing]
    for old, new in sorted(m2m.items()):
        tables += [old, new]
    tables += [spec.old_table, spec.new_table, "django_migrations"]
    return TableLocks(dict.fromkeys(tables), timeout=spec.lock_timeout)


def app_processes_note(spec: SwapSpec) -> str:
    """What to do with the application's running processes (they know the old tables)."""
    if spec.old_table == spec.new_table:
        return (
            "Running app processes: the tables keep their names; restart them with the new "
            "settings right after the swap (no downtime), then run phase 2 in a later deploy."
        )
    return (
        f"Running app processes still read {spec.old_table!r}: restart them right after the "
        f"swap commits (until then their user queries fail), or swap without downtime in two "
        "deploys: --phase 1 (keeps the tables), then --phase 2 (deploy its code right after)."
    )


def app_processes_next(spec: SwapSpec) -> str:
    """The result's line about the application's running processes."""
    if spec.old_table == spec.new_table:
        return "Now: restart the app processes with the new settings (the tables kept their names)."
    return (
        f"Now: restart the app processes (they still read {spec.old_table!r}, which is "
        f"{spec.new_table!r} from now on)."
    )


def mysql_locks_note(spec: SwapSpec, locks: TableLocks) -> str:
    """The plan's note on MySQL/MariaDB locks."""
    from django.db import connections

    from authtools.db.locks import nowait

    timeout = f"{spec.lock_timeout:g} s"
    if nowait(connections[spec.database]):
        how = (
            "LOCK TABLES ... NOWAIT takes them all or none, sent again every few ms for up to "
            f"{timeout} (the swap never waits while it holds a lock, so no request waits for "
            "it in a cycle)"
        )
    else:
        how = f"LOCK TABLES waits at most {timeout} (lock_wait_timeout)"
    return (
        f"Each table rename write-locks these tables (those that exist): {', '.join(locks)}; "
        f"{how}; {DEFAULT_LOCK_ATTEMPTS} attempts. Other statements wait at most {timeout} for "
        "their locks (lock_wait_timeout, innodb_lock_wait_timeout)."
    )


def build_plan(spec: SwapSpec) -> Plan:
    locks = lock_order(spec)
    plan = Plan(
        PROCEDURE,
        spec.database,
        notes=list(spec.notes),
        way_back="--rollback {backup}",
        lock_tables=locks,
    )
    now = {t for t in plan.lock_tables if t not in spec.renamed_tables.values()}
    now |= {spec.old_table, *spec.renamed_tables}
    if spec.vendor == "postgresql":
        plan.notes.append(
            f"Locks taken first, in this order (each wait at most {spec.lock_timeout:g} s, "
            f"{DEFAULT_LOCK_ATTEMPTS} attempts): "
            + ", ".join(t for t in plan.lock_tables if t in now)
            + "; a migrate started meanwhile waits for the swap to commit."
        )
    elif spec.vendor == "mysql":
        plan.notes.append(mysql_locks_note(spec, locks))
    plan.notes.append(app_processes_note(spec))
    for s in spec.steps:
        plan.add(_step(spec, s, locks))
    plan.backup = lambda runtime: backup_metadata(spec, runtime)
    plan.verify = lambda runtime: verify(spec)
    plan.data["spec"] = spec
    return plan
