"""Preflight: stages 1 to 4 of the swap in order, returning the swap as a ``SwapSpec``.

inspect (``inspect``: the models, the tables, the foreign keys) -> decide (``keys``: the key
route; ``decide``: the migrations to record or generate, the renames, or a refusal) -> generate
(``migrations``: the two-step migrations) -> plan (``plan``: the steps as data). Reads the
project and the database; returns plain data (every statement included, saved in the backup so
that ``--resume`` and ``--rollback`` rebuild the very same plan) or raises ``SwapRefused``.
"""

from __future__ import annotations

from typing import Any

from authtools.procedures.swap.decide import (
    check_generated,
    check_key_type,
    check_migrations,
    check_phase1,
    check_tables,
    referencing_columns,
    renames,
)
from authtools.procedures.swap.inspect import (
    label,
    renamed_declarations,
    resolve_models,
    resolve_phase2,
    table_names,
)
from authtools.procedures.swap.keys import KEEP, WIDEN, key_route
from authtools.procedures.swap.migrations import (
    GeneratedMigrations,
    final_loader,
    generate,
    generate_phase2,
)
from authtools.procedures.swap.plan import add_key_steps, add_migration_steps, add_steps
from authtools.procedures.swap.spec import SwapSpec


def _migrations(
    connection: Any,
    old: Any,
    new: Any,
    after: tuple[str, str] | None,
    *,
    drop_columns: bool,
    widen: bool,
    keep: bool,
) -> tuple[list[tuple[str, str]], Any, GeneratedMigrations | None]:
    """(the migrations to record as applied, the new model as they build it, the migrations
    generated first, if any). Phase 2 (AFTER: the app's last applied migration) always
    generates: the table move, then the other changes."""
    if after is not None:
        check_key_type(connection, old, new, widen=widen)
        generated = generate_phase2(connection, old, new, after)
    else:
        checked = check_migrations(connection, old, new, widen=widen, keep=keep)
        if checked.replace is None:
            return checked.record, checked.state_model, None
        generated = generate(connection, old, new, checked.replace)
    final = final_loader(connection, new._meta.app_label, generated)
    state_model = check_generated(
        connection, old, new, generated.dropped_columns, final, drop_columns=drop_columns
    )
    return ([generated.mirror] if generated.mirror else []), state_model, generated


def preflight(
    database: str,
    old_label: str | None,
    *,
    drop_columns: bool = False,
    phase: int | None = None,
    keys: str | None = None,
) -> SwapSpec:
    """Read the project and the database; return the swap as data, or raise SwapRefused.

    PHASE 1 swaps to a model that keeps the old tables (Meta.db_table); PHASE 2 then moves that
    model to its own tables (and changes its fields); None does both at once.
    """
    from django.db import connections

    from authtools.db.catalog import foreign_keys

    connection = connections[database]
    after: tuple[str, str] | None = None
    if phase == 2:
        old, new, after = resolve_phase2(connection)
    else:
        old, new = resolve_models(old_label or "")
    old_table, new_table = old._meta.db_table, new._meta.db_table
    if phase == 1:
        check_phase1(old, new)
    tables = table_names(connection)
    check_tables(old, new, tables)
    all_fks = foreign_keys(connection)
    edit, widen_rows, key_notes = key_route(connection, old, new, old_table, all_fks, keys)
    migrations, state_model, generated = _migrations(
        connection,
        old,
        new,
        after,
        drop_columns=drop_columns,
        widen=keys == WIDEN,
        keep=keys == KEEP,
    )
    pk_column = new._meta.pk.column
    table_map, column_renames, widen_ids = renames(
        connection, old, new, tables, all_fks, state_model
    )
    referencing = referencing_columns(
        connection, old_table, new, table_map, column_renames, all_fks
    )
    spec = SwapSpec(
        database=database,
        vendor=connection.vendor,
        old_label=label(old),
        new_label=label(new),
        old_table=old_table,
        new_table=new_table,
        pk_column=pk_column,
        renamed_tables=table_map,
        referencing=sorted(referencing),
        migrations=[list(m) for m in migrations],
        keys=keys,
        model_edit=edit,
        widen_rows=widen_rows,
        widen_ids=widen_ids,
        notes=key_notes,
    )
    add_steps(spec, connection, old, new, table_map, column_renames, all_fks)
    if generated is not None:
        add_migration_steps(spec, generated)
    elif state_model is not None and (renamed := renamed_declarations(old, state_model)):
        # Recorded as they are, the migrations name them after the new model; nothing renames
        # them in the database (a generated change migration would: RenameIndex).
        names = ", ".join(f"{a!r} (the migration names it {b!r})" for a, b in renamed)
        spec.notes.append(
            f"Meta.indexes/Meta.constraints the old model declares alike keep their names: "
            f"{names}. A later migration that removes or renames one by name will not find it: "
            "rename them in the database after the swap (docs/swap-user-model.md, Limits)."
        )
    add_key_steps(spec, connection)
    return spec
