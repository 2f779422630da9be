"""Turn a ``SwapSpec`` into a runner ``Plan``: each step's apply and undo, and the backup."""

from __future__ import annotations

from typing import Any

from authtools.db.schema import Rename, exists, rename_sql
from authtools.procedures.plan import Plan, Runtime, Step
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
        return None

    def undo(runtime: Runtime) -> Any:
        if s.kind == "renames":
            _run_renames(connection, [r.reverse(_table_before(spec, r)) for r in reversed(renames)])
        elif s.kind == "contenttypes":
            undo_contenttypes(spec.database, s.data)
        elif s.kind == "migrations":
            record_migrations(spec.database, s.data["migrations"], applied=False)
        return None

    has_undo = s.kind != "contenttypes" or bool(s.data.get("relabel"))
    return Step(
        id=s.id,
        kind="rows" if s.kind in ("contenttypes", "migrations") else "sql",
        description=s.description,
        apply=apply,
        details=list(s.details),
        sql=list(s.sql),
        undo=undo if has_undo else None,
    )


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
    runtime.backup_dir.write_json(
        "metadata",
        {"content_types": rows, "permissions": permissions, "django_migrations": migrations},
    )


def build_plan(spec: SwapSpec) -> Plan:
    plan = Plan(PROCEDURE, spec.database, notes=list(spec.notes))
    for s in spec.steps:
        plan.add(_step(spec, s))
    plan.backup = lambda runtime: backup_metadata(spec, runtime)
    plan.verify = lambda runtime: verify(spec)
    plan.data["spec"] = spec
    return plan
