"""The reset as a Plan of Steps, built from an Inspection; nothing changes until it runs."""

from __future__ import annotations

from authtools.procedures.migration_files import rewrite_dependencies, unified_diff
from authtools.procedures.plan import Plan, Step
from authtools.procedures.reset.backup import save_backup
from authtools.procedures.reset.inspection import inspect
from authtools.procedures.reset.spec import (
    DESTRUCTIVE,
    PLACEHOLDER,
    PREDICTED,
    PROCEDURE,
    Inspection,
    ResetError,
)
from authtools.procedures.reset.steps import (
    apply_generated,
    delete_migration_files,
    delete_rows,
    drop_and_recreate,
    point_dependents_at,
    record_generated,
    run_makemigrations,
    run_makemigrations_real,
    run_migrate,
)
from authtools.procedures.reset.verification import verify

NOTHING_TO_RESET = (
    "AUTH_USER_MODEL is Django's default 'auth.User', whose migrations ship with Django: there "
    "is nothing to reset. To reset an app of the project, name it: reset_user_migrations "
    "APP_LABEL."
)


def build_plan(
    label: str | None,
    database: str,
    *,
    via_auth_user: bool = False,
    reset_db: bool = False,
    force: bool = False,
) -> Plan:
    """The reset of LABEL's migrations as a Plan (empty when there is nothing to do)."""
    from django.apps import apps
    from django.conf import settings

    if reset_db:
        if not (settings.DEBUG or force):
            raise ResetError(
                "--reset-db drops the whole database and is for development only: refused "
                "because DEBUG is False. Pass --force if this really is a development database."
            )
        if not apps.is_installed("django_extensions"):  # checked before anything changes
            raise ResetError(
                "--reset-db runs django-extensions' reset_db, but 'django_extensions' is not in "
                'INSTALLED_APPS: add "django_extensions" to INSTALLED_APPS (pip install '
                "django-extensions if it is missing) and run again."
            )
    if label is None and settings.AUTH_USER_MODEL == "auth.User":
        plan = Plan(PROCEDURE, database)
        plan.notes.append(NOTHING_TO_RESET)
        return plan
    ins = inspect(label, database, via_auth_user=via_auth_user)
    plan = Plan(PROCEDURE, database)
    plan.data["app_label"] = ins.label
    if ins.healthy and not reset_db and not via_auth_user:
        plan.notes.append(
            f"{ins.label!r} has one migration, applied and consistent, and no pending changes."
        )
        return plan
    if not reset_db and ins.tables.present and ins.tables.missing:
        raise ResetError(
            f"The database holds only part of {ins.label!r}'s tables and columns (missing: "
            f"{', '.join(ins.tables.missing[:5])}); neither recording nor applying a new initial "
            "migration is safe. Fix the schema by hand, or --reset-db a development database."
        )
    if not reset_db:
        _refuse_other_user_model(ins)
    if not ins.via_auth_user and ins.tables.missing and ins.applied_dependents:
        ins.via_auth_user = True
        ins.revert_reason = (
            f"automatic: {', '.join(ins.applied_dependents[:3])}"
            f"{' and others' if len(ins.applied_dependents) > 3 else ''} were applied against "
            f"another user model before the tables of {ins.label!r} existed"
        )
    plan.backup = lambda runtime: save_backup(
        ins, runtime.backup_dir, dump=reset_db, steps=[s.id for s in plan.steps]
    )
    _add_file_steps(plan, ins)
    if reset_db:
        _add_reset_db_steps(plan, ins)
    else:
        _add_row_steps(plan, ins)
    if ins.via_auth_user:
        _add_real_makemigrations_step(plan, ins)
    if not reset_db:
        _add_migrate_step(plan, ins)
    plan.verify = lambda runtime: verify(ins, runtime)
    if ins.history_error and ins.tables.missing and not reset_db:
        plan.notes.append(
            f"Other apps' migrations were applied before the tables of {ins.label!r} existed, so "
            "their foreign keys point at another user model's table: this reset repairs the "
            "migration history only; then run swap_user_model (diagnose_user_model reports E405)."
        )
    plan.notes.append(
        f"Backup first: {len(ins.files) + len(ins.dependents)} file(s) and {len(ins.rows)} "
        "django_migrations row(s); undo with --restore BACKUP."
    )
    return plan


def _refuse_other_user_model(ins: Inspection) -> None:
    """The switched-mid-project state (migrated on one user model, then AUTH_USER_MODEL
    switched): the users are in the old model's table, other apps' foreign keys reference it
    and the user app has no table. A reset would create empty tables and nobody could log in;
    the swap moves the users. Refused, naming the swap."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connections

    from authtools.db.catalog import foreign_keys
    from authtools.diagnosis.probes.database import user_relations

    if not ins.tables.absent or ins.rows or not ins.applied_dependents:
        return
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    if user_model._meta.app_label != ins.label:
        return
    relations = {(r.table, r.column) for r in user_relations(user_model, ins.database)}
    tables = {
        m._meta.db_table: m._meta.label
        for m in apps.get_models(include_auto_created=True, include_swapped=True)
    }
    user_table = user_model._meta.db_table
    for key in foreign_keys(connections[ins.database]):
        old = tables.get(key.ref_table)
        if (key.table, key.column) in relations and key.ref_table != user_table and old:
            raise ResetError(
                f"The database was built on {old} ({key.table}.{key.column} references "
                f"{key.ref_table!r}) and has no table of {ins.label!r}: a reset would create "
                f"empty tables and nobody could log in. Move the users instead: python "
                f"manage.py swap_user_model --from {old}."
            )


def _add_file_steps(plan: Plan, ins: Inspection) -> None:
    label = ins.label
    if ins.files:
        plan.add(
            Step(
                "delete-files",
                "file",
                f"Delete the {len(ins.files)} migration file(s) of {label!r}",
                lambda rt: delete_migration_files(ins.folder),
                details=[ins.display(p) for p in ins.files],
                atomic=False,
            )
        )
    if ins.dependents:
        plan.add(
            Step(
                "detach-dependents",
                "file",
                f"Point {len(ins.dependents)} other migration file(s) at ({label!r}, "
                f"{PLACEHOLDER!r}) while makemigrations runs",
                lambda rt: point_dependents_at(ins, PLACEHOLDER),
                details=[f"{ins.display(d.path)}: {', '.join(d.names)}" for d in ins.dependents],
                atomic=False,
            )
        )
    how = (
        f"with AUTH_USER_MODEL='auth.User' ({ins.revert_reason})"
        if ins.via_auth_user
        else "with the real AUTH_USER_MODEL"
    )
    plan.add(
        Step(
            "makemigrations",
            "command",
            f"Run makemigrations {label} {how}",
            lambda rt: run_makemigrations(ins, rt),
            details=[f"expected: {ins.display(ins.folder / (PREDICTED + '.py'))}"],
            atomic=False,
        )
    )
    if ins.dependents:
        details: list[str] = []
        for d in ins.dependents:
            new = rewrite_dependencies(d.source, label, {n: PREDICTED for n in d.names})
            diff = unified_diff(d.source, new, ins.display(d.path))
            details += diff or [f"{ins.display(d.path)}: unchanged, ({label!r}, {PREDICTED!r})"]
        plan.add(
            Step(
                "repoint-dependents",
                "file",
                f"Point those dependencies at the new last migration of {label!r}",
                lambda rt: point_dependents_at(ins, rt.state["leaf"]),
                details=details,
                atomic=False,
            )
        )


def _add_row_steps(plan: Plan, ins: Inspection) -> None:
    from django.db import connections

    from authtools.db.schema import literal

    label = ins.label
    connection = connections[ins.database]
    table = connection.ops.quote_name("django_migrations")
    if ins.rows:
        plan.add(
            Step(
                "delete-rows",
                "rows",
                f"Delete {len(ins.rows)} row(s) of {label!r} from django_migrations",
                lambda rt: delete_rows(ins),
                details=[r.describe(label) for r in ins.rows],
                sql=[
                    f"DELETE FROM {table} WHERE app = {literal(connection, label)} AND id IN "
                    f"({', '.join(str(r.id) for r in ins.rows)})"
                ],
            )
        )
    if ins.tables.complete:
        plan.add(
            Step(
                "record-initial",
                "rows",
                f"Record {label}.{PREDICTED} as applied: the database has its tables and columns",
                lambda rt: record_generated(ins, rt),
                details=[f"found table {t}" for t in ins.tables.present],
            )
        )
    else:
        # Not atomic: SQLite's schema editor cannot run inside an outer transaction.
        plan.add(
            Step(
                "apply-initial",
                "command",
                f"Apply {label}.{PREDICTED} with Django's MigrationExecutor (tables missing)",
                lambda rt: apply_generated(ins, rt),
                details=[f"creates table {t}" for t in ins.tables.tables],
                atomic=False,
            )
        )


def _add_real_makemigrations_step(plan: Plan, ins: Inspection) -> None:
    plan.add(
        Step(
            "makemigrations-real",
            "command",
            f"Run makemigrations {ins.label} with the real AUTH_USER_MODEL (now that the history "
            "is consistent) and apply what it writes, if anything",
            lambda rt: run_makemigrations_real(ins, rt),
            atomic=False,
        )
    )


def _add_migrate_step(plan: Plan, ins: Inspection) -> None:
    """Other apps' migrations that could not run while the history was broken (the seed's
    last step, "migrate"); never one that can drop a table, a column or rows."""
    if not ins.pending_elsewhere:
        return
    risky = [f"{a}.{n}" for a, n, ops in ins.pending_elsewhere if set(ops) & set(DESTRUCTIVE)]
    if risky:
        plan.notes.append(
            f"Not applied, as they may drop data: {', '.join(risky)}; back up the database "
            "and run migrate yourself (until then migrate --check fails)."
        )
        return
    plan.add(
        Step(
            "migrate-others",
            "command",
            f"Run migrate for {len(ins.pending_elsewhere)} migration(s) of other apps that "
            "could not run before",
            lambda rt: run_migrate(ins),
            details=[f"{a}.{n}: {', '.join(ops)}" for a, n, ops in ins.pending_elsewhere],
            atomic=False,
        )
    )


def _add_reset_db_steps(plan: Plan, ins: Inspection) -> None:
    from django.conf import settings

    plan.notes.append(
        "The backup also gets every row as dumpdata writes it (data.json; load it with "
        "loaddata): --restore puts back files and migration records, not rows."
    )
    name = settings.DATABASES[ins.database].get("NAME")
    plan.add(
        Step(
            "reset-db",
            "command",
            f"Drop and recreate database {str(name)!r} with django-extensions' reset_db "
            "(every table and row in it is lost)",
            lambda rt: drop_and_recreate(ins),
            atomic=False,
        )
    )
    plan.add(
        Step(
            "migrate",
            "command",
            "Run migrate on the empty database",
            lambda rt: run_migrate(ins),
            atomic=False,
        )
    )
