"""Stage 1 of the swap, inspect: read the project and the database, decide nothing.

Reads the running Django (the old and new user models, the new app's migrations as the loader
sees them) and the database catalog (table names, primary keys, foreign keys of the
many-to-many tables). Returns models, names and types; the only refusals here are the ones that
leave nothing to inspect (``--from`` names no model, phase 2 without phase 1).
"""

from __future__ import annotations

from typing import Any

from authtools.procedures.swap.spec import SwapRefused


def label(model: Any) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}"


def resolve_models(old_label: str) -> tuple[Any, Any]:
    """(old model, new model) as the running Django knows them; refuses what cannot be swapped."""
    from django.apps import apps
    from django.conf import settings

    try:
        old = apps.get_model(old_label)
    except (LookupError, ValueError) as exc:
        raise SwapRefused(
            f"--from {old_label!r} names no installed model ({exc}); give the old user model as "
            "app_label.ModelName, e.g. --from auth.User"
        ) from exc
    new = apps.get_model(settings.AUTH_USER_MODEL)
    if old is new:
        raise SwapRefused(
            f"AUTH_USER_MODEL is still {settings.AUTH_USER_MODEL!r}, the model given to --from; "
            "write the new model, point AUTH_USER_MODEL at it, then run the swap"
        )
    return old, new


def resolve_phase2(connection: Any) -> tuple[Any, Any, tuple[str, str]]:
    """Phase 2: (the user model as its applied migrations left it, on the old table; the live
    model, on its own table; the app's last applied migration)."""
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    new = apps.get_model(settings.AUTH_USER_MODEL)
    app = new._meta.app_label
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    unapplied = sorted(n for n in loader.graph.nodes if n not in loader.applied_migrations)
    if unapplied:
        listed = ", ".join(f"{a}.{n}" for a, n in unapplied[:5])
        raise SwapRefused(
            f"migrations are not applied ({listed}): phase 2 writes the migrations of {app!r} "
            "itself; delete the new ones of that app, apply the others, then run phase 2"
        )
    ours = new_app_migrations(loader, app) if app in loader.migrated_apps else []
    if not ours:
        raise SwapRefused(f"{label(new)} has no applied migrations: run phase 1 first")
    old = loader.project_state(ours[-1], at_end=True).apps.get_model(app, new._meta.model_name)
    if old._meta.db_table == new._meta.db_table:
        raise SwapRefused(
            f"{label(new)} is on {new._meta.db_table!r} already: remove its "
            f"Meta.db_table = {old._meta.db_table!r} (phase 1's), then run phase 2"
        )
    return old, new, ours[-1]


def new_app_migrations(loader: Any, app_label: str) -> list[tuple[str, str]]:
    """The new app's migrations in dependency order."""
    nodes = [n for n in loader.graph.leaf_nodes() if n[0] == app_label]
    ordered: list[tuple[str, str]] = []
    for leaf in nodes:
        for node in loader.graph.forwards_plan(leaf):
            if node[0] == app_label and node not in ordered:
                ordered.append(node)
    return ordered


def module_file(module: str) -> str:
    import importlib

    return str(importlib.import_module(module).__file__)


def field_signature(field: Any, connection: Any) -> tuple[Any, ...]:
    return (
        field.column,
        field.db_type(connection),
        bool(field.null),
        bool(field.primary_key),
        bool(field.unique),
        bool(field.db_index),
    )


def _table_signature(model: Any, connection: Any) -> dict[str, tuple[Any, ...]]:
    return {
        f.column: field_signature(f, connection) for f in model._meta.local_fields if f.concrete
    }


# The Meta options that build indexes and constraints of the table itself.
TABLE_OPTIONS = ("indexes", "constraints", "unique_together", "index_together")


def _shape(item: Any) -> str:
    """A Meta index or constraint as it deconstructs, its name apart."""
    path, args, kwargs = item.deconstruct()
    return repr((path, args, sorted((k, v) for k, v in kwargs.items() if k != "name")))


def declared(model: Any) -> dict[str, Any]:
    """What MODEL's Meta declares of indexes and constraints, comparable between two models:
    each index and constraint as it deconstructs, its name apart (the swap keeps the names the
    old table has), and the together-sets as sorted column tuples."""
    opts = model._meta
    out: dict[str, Any] = {
        "indexes": sorted(_shape(i) for i in opts.indexes),
        "constraints": sorted(_shape(c) for c in opts.constraints),
    }
    for key in ("unique_together", "index_together"):
        out[key] = sorted(tuple(t) for t in getattr(opts, key, ()) or ())
    return out


def renamed_declarations(old: Any, new: Any) -> list[tuple[str, str]]:
    """(the old model's name, the new model's) of each Meta index or constraint that both
    declare alike but for its name ('%(app_label)s' in it, say)."""

    def by_shape(model: Any) -> dict[str, str]:
        return {_shape(i): str(i.name) for i in (*model._meta.indexes, *model._meta.constraints)}

    before, after = by_shape(old), by_shape(new)
    return sorted(
        (before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]
    )


def mirror_differences(old: Any, new_state_model: Any, connection: Any) -> list[str]:
    """How the new model (as its migrations build it) differs from the old model's table."""
    old_sig = _table_signature(old, connection)
    new_sig = _table_signature(new_state_model, connection)
    out = []
    for column in sorted(set(old_sig) | set(new_sig)):
        a, b = old_sig.get(column), new_sig.get(column)
        if a is None:
            out.append(f"column {column!r} is new ({b[1] if b else ''})")
        elif b is None:
            out.append(f"column {column!r} would be dropped")
        elif a != b:
            out.append(
                f"column {column!r} differs: {a[1]} null={a[2]} unique={a[4]} -> "
                f"{b[1]} null={b[2]} unique={b[4]}"
            )
    old_m2m = {f.name for f in old._meta.local_many_to_many}
    new_m2m = {f.name for f in new_state_model._meta.local_many_to_many}
    for name in sorted(old_m2m ^ new_m2m):
        out.append(
            f"many-to-many {name!r} is only on {'the old' if name in old_m2m else 'the new'} model"
        )
    before, after = declared(old), declared(new_state_model)
    out += [f"Meta.{key} differ" for key in TABLE_OPTIONS if before[key] != after[key]]
    return out


def table_names(connection: Any) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def old_m2m_table(old: Any, field_name: str, connection: Any) -> str:
    from django.db.backends.utils import truncate_name

    old_field = old._meta.get_field(field_name)
    if old_field.remote_field.through is not None and not old._meta.swapped:
        return str(old_field.remote_field.through._meta.db_table)
    if old_field.db_table:
        return str(old_field.db_table)
    return str(
        truncate_name(f"{old._meta.db_table}_{field_name}", connection.ops.max_name_length())
    )


def fk_column(fks: list[Any], table: str, ref_table: str) -> str | None:
    columns = [fk.column for fk in fks if fk.table == table and fk.ref_table == ref_table]
    return columns[0] if len(columns) == 1 else None


def primary_key_type(connection: Any, table: str) -> str | None:
    from authtools.db.catalog import primary_key

    found = primary_key(connection, table)
    return found[1] if found else None
