"""Probe: database. The user table exists, and every foreign key to the user model points at it
with the same column type, as the database catalog (not the constraint names) records them.

This probe also reports an unreachable database (E504), once; the other database probes call
``connection_error()`` and skip quietly when it says the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from authtools.db import catalog as db_catalog
from authtools.db import snapshot
from authtools.db.connection import connection_problem
from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context
from authtools.diagnosis.report import Finding, TableLocation

REQUIRES = "ready"
USES_DB = True

_UNREACHABLE = "database.unreachable"


def connection_error(ctx: Context) -> str | None:
    """None when ctx.database answers, else a one-line message naming the alias and the server.
    Tried once per context."""
    cache: dict[str, str | None] = ctx.extra.setdefault(_UNREACHABLE, {})
    if ctx.database not in cache:
        cache[ctx.database] = connection_problem(ctx.database)
    return cache[ctx.database]


@dataclass(frozen=True)
class Relation:
    """A model field that relates to the user model, as the models say it should be stored."""

    label: str  # 'shop.Order.user'
    table: str
    column: str
    ref_table: str
    ref_column: str


def user_relations(user_model: Any, database: str) -> list[Relation]:
    """Every concrete FK/OneToOne to the user model in an installed model, including the
    auto-created M2M through tables (the user model's groups and user_permissions), sorted by
    table and column."""
    from django.apps import apps
    from django.db import router
    from django.db.models import ForeignKey

    relations = []
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if not opts.managed or opts.proxy or not router.allow_migrate_model(database, model):
            continue
        for field in opts.local_concrete_fields:
            if not isinstance(field, ForeignKey):  # OneToOneField is one too
                continue
            if field.remote_field.model is not user_model or not getattr(
                field, "db_constraint", True
            ):
                continue
            relations.append(
                Relation(
                    label=f"{opts.label}.{field.name}",
                    table=opts.db_table,
                    column=cast(str, field.column),
                    ref_table=user_model._meta.db_table,
                    ref_column=field.target_field.column,
                )
            )
    return sorted(relations, key=lambda r: (r.table, r.column))


def _unreachable_hint(alias: str, error: str) -> str:
    """What to check: our own timeout setting when that is the problem, else the file of a
    SQLite database, the server's settings of any other."""
    from django.conf import settings

    if error.startswith("the setting AUTHTOOLS_CONNECT_TIMEOUT"):
        return (
            "Set AUTHTOOLS_CONNECT_TIMEOUT to a number of seconds above 0, or remove it (the "
            "default is 5)."
        )
    try:
        engine = str(settings.DATABASES[alias].get("ENGINE") or "")
    except Exception:  # DATABASES itself is unusable: the message names it
        engine = ""
    where = (
        f"Check DATABASES[{alias!r}]['NAME'] (a SQLite database file this process can read "
        "and write)"
        if engine.endswith("sqlite3")
        else f"Check DATABASES[{alias!r}] (HOST, PORT, NAME, USER, PASSWORD) and that the "
        "server runs"
    )
    return f"{where}, or run with --no-db to diagnose without the database."


def run(ctx: Context) -> Iterator[Finding]:
    from django.db import connections

    error = connection_error(ctx)
    if error is not None:
        yield catalog.finding("authtools.E504", error, _unreachable_hint(ctx.database, error))
        return
    user_model = ctx.user_model()
    if user_model is None or user_model._meta.abstract or user_model._meta.proxy:
        return  # the setting and model probes explain why
    connection = connections[ctx.database]
    user_table = user_model._meta.db_table
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    if user_table not in tables:
        yield _missing_user_table(ctx, user_model)
    relations = user_relations(user_model, ctx.database)
    with snapshot.pinned(connection):  # one catalog read for both questions
        keys = db_catalog.foreign_keys(connection)
        types = db_catalog.column_types(connection, {user_table, *(r.table for r in relations)})
    yield from _check_relations(user_model, relations, keys, types, connection.vendor)


def _missing_user_table(ctx: Context, user_model: Any) -> Finding:
    opts = user_model._meta
    applied = _applied_migrations(ctx, opts.app_label)
    if applied:
        return catalog.finding(
            "authtools.E501",
            f"The table {opts.db_table!r} of the user model {opts.label!r} does not exist, "
            f"although django_migrations records {len(applied)} migration(s) of "
            f"{opts.app_label!r} as applied.",
            "The table was dropped or renamed after it was migrated (or the migrations were "
            "faked): restore it from a backup, or recreate it with the SQL of "
            f"'python manage.py sqlmigrate {opts.app_label} {applied[0]}'.",
            location=TableLocation(opts.db_table),
        )
    return catalog.finding(
        "authtools.E501",
        f"The table {opts.db_table!r} of the user model {opts.label!r} does not exist: the "
        f"migrations of {opts.app_label!r} are not applied.",
        "Apply them; if migrate refuses (InconsistentMigrationHistory), see the migrations "
        "findings first.",
        location=TableLocation(opts.db_table),
        fix_command=f"python manage.py migrate {opts.app_label}",
    )


def _applied_migrations(ctx: Context, app_label: str) -> list[str]:
    from django.db import DatabaseError, connections
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[ctx.database])
    try:
        if not recorder.has_table():
            return []
        names = recorder.migration_qs.filter(app=app_label).values_list("name", flat=True)
        return sorted(names)
    except DatabaseError:
        return []


def _check_relations(
    user_model: Any,
    relations: list[Relation],
    keys: list[db_catalog.ForeignKey],
    types: dict[tuple[str, str], str],
    vendor: str,
) -> Iterator[Finding]:
    """E502 for each constraint of a user relation that points at another table; E503 for each
    user relation column whose type differs from the key it refers to (constraint or not)."""
    by_column: dict[tuple[str, str], list[db_catalog.ForeignKey]] = {}
    for key in keys:
        by_column.setdefault((key.table, key.column), []).append(key)
    tables_to_models = _tables_to_models()
    for relation in relations:
        for key in by_column.get((relation.table, relation.column), []):
            if key.ref_table != relation.ref_table:
                yield _wrong_target(user_model, relation, key, tables_to_models)
        column_type = types.get((relation.table, relation.column))
        ref_type = types.get((relation.ref_table, relation.ref_column))
        if column_type and ref_type and not db_catalog.same_type(vendor, column_type, ref_type):
            yield _wrong_type(relation, column_type, ref_type)


def _wrong_target(
    user_model: Any,
    relation: Relation,
    key: db_catalog.ForeignKey,
    tables_to_models: dict[str, str],
) -> Finding:
    old_model = tables_to_models.get(key.ref_table)
    was = f" (the table of {old_model})" if old_model else ""
    constraint = f" (constraint {key.constraint!r})" if key.constraint else ""
    fix = None
    if old_model and key.ref_table != relation.ref_table:
        fix = f"python manage.py swap_user_model --from {old_model}"
    return catalog.finding(
        "authtools.E502",
        f"{key.table}.{key.column} -> {key.ref_table}{was} in the database{constraint}, but "
        f"{relation.label} relates to AUTH_USER_MODEL {user_model._meta.label!r}, table "
        f"{relation.ref_table!r}.",
        "The tables were created while AUTH_USER_MODEL named another model; changing the "
        "setting never rewrites existing constraints, so inserting a new user's rows fails "
        "(IntegrityError). Repoint the foreign keys (and move the rows) to the user table.",
        location=TableLocation(key.table),
        fix_command=fix,
    )


def _wrong_type(relation: Relation, column_type: str, ref_type: str) -> Finding:
    return catalog.finding(
        "authtools.E503",
        f"{relation.table}.{relation.column} is {column_type} but {relation.ref_table}."
        f"{relation.ref_column}, the user key it refers to ({relation.label}), is {ref_type}.",
        "Keys of one type cannot hold the other's values: on MySQL/MariaDB the foreign key "
        "cannot even be created, on PostgreSQL ids past the smaller type fail. Give both "
        "columns the same type in a migration: an AlterField of the user model's primary key "
        "(Django alters the foreign keys to it), or RunSQL that alters this column.",
        location=TableLocation(relation.table),
    )


def _tables_to_models() -> dict[str, str]:
    """db_table -> model label for every model Django knows, swapped-out ones included."""
    from django.apps import apps

    return {
        model._meta.db_table: model._meta.label
        for model in apps.get_models(include_auto_created=True, include_swapped=True)
    }
