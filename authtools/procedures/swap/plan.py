"""Stage 4 of the swap, plan: the steps of a swap as data (renames, SQL, content types,
migration records, the generated files, the key changes).

Reads what ``decide`` and ``generate`` returned (the table and column renames, the foreign keys,
``GeneratedMigrations``) and the catalog's names of indexes, constraints and sequences; appends
``StepSpec``s to the ``SwapSpec``. ``steps.build_plan`` turns them into a runner ``Plan``.
Backend differences in DDL live in ``authtools.db.schema`` (one function per difference)."""

from __future__ import annotations

from typing import Any

from authtools.db.schema import (
    Rename,
    kept_names,
    kept_names_note,
    rename_sql,
    sequence_reset_sql,
)
from authtools.procedures.swap.migrations import GeneratedMigrations
from authtools.procedures.swap.spec import StepSpec, SwapSpec


def _rename_step(id: str, description: str, renames: list[Rename], connection: Any) -> StepSpec:
    return StepSpec(
        id=id,
        kind="renames",
        description=description,
        renames=[r.as_dict() for r in renames],
        sql=[s for r in renames for s in rename_sql(connection, r)],
    )


def add_steps(
    spec: SwapSpec,
    connection: Any,
    old: Any,
    new: Any,
    table_map: dict[str, str],
    column_renames: list[Rename],
    all_fks: list[Any],
) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db.migrations.recorder import MigrationRecorder

    from authtools.db.schema import django_renames, literal, quoter

    q = quoter(connection)
    for number, (old_table, new_table) in enumerate(table_map.items(), 1):
        if old_table == new_table:
            continue  # phase 1: the new model keeps the old tables
        spec.steps.append(
            _rename_step(
                f"rename-table-{number}",
                f"Rename table {old_table!r} to {new_table!r}",
                [Rename("table", old_table, old_table, new_table)],
                connection,
            )
        )
    for number, rename in enumerate(column_renames, 1):
        spec.steps.append(
            _rename_step(
                f"rename-column-{number}",
                f"Rename column {rename.old!r} of {rename.table!r} to {rename.new!r}",
                [rename],
                connection,
            )
        )
    # Names of indexes, constraints and sequences, as migrate would have given them.
    kept: list[Rename] = []
    for number, (old_table, new_table) in enumerate(table_map.items(), 1):
        columns = {r.old: r.new for r in column_renames if r.table == new_table}
        renames = schema_renames(connection, old_table, new_table, columns, table_map)
        kept += kept_names(connection, old_table, new_table, columns, table_map)
        folded = f"rename-table-{number}"
        if renames and connection.vendor == "mysql" and not columns and old_table != new_table:
            # MariaDB/MySQL: one ALTER TABLE renames the table and its indexes (each DDL
            # statement costs tens of milliseconds, whatever it does): one step.
            step = next(s for s in spec.steps if s.id == folded)
            step.renames += [r.as_dict() for r in renames]
            step.description += f" and {len(renames)} index name{'s' if len(renames) > 1 else ''}"
        elif renames:
            spec.steps.append(
                _rename_step(
                    f"rename-names-{number}",
                    f"Rename {len(renames)} index/constraint/sequence names of {new_table!r}",
                    renames,
                    connection,
                )
            )
    if kept:
        spec.notes.append(kept_names_note(kept))
    referencing_tables = sorted(
        {fk.table for fk in all_fks if fk.ref_table == spec.old_table} - set(table_map)
    )
    fk_renames = [
        r
        for table in referencing_tables
        for r in django_renames(
            connection, table, table, {}, table_map, only_foreign_keys_to=spec.old_table
        )
    ]
    if fk_renames:
        spec.steps.append(
            _rename_step(
                "rename-foreign-keys",
                f"Rename {len(fk_renames)} foreign key constraints to {spec.new_table!r}",
                fk_renames,
                connection,
            )
        )
    elif referencing_tables and connection.vendor == "mysql":
        spec.notes.append(
            f"Foreign keys of {', '.join(referencing_tables)} follow the renamed table; MySQL "
            "cannot rename a foreign key in place, so their constraint names keep "
            f"{spec.old_table!r} (Django finds constraints by column, not by name)."
        )
    reset = (
        sequence_reset_sql(connection, spec.new_table, spec.pk_column)
        if spec.new_table != spec.old_table
        else []
    )
    if reset:
        spec.steps.append(
            StepSpec(
                "reset-sequence",
                "sequence",
                f"Make {spec.new_table}.{spec.pk_column}'s next value follow the highest id",
                sql=reset,
                data={"table": spec.new_table, "column": spec.pk_column},
            )
        )
    # Content type: relabel in place (same id) when the new label has no row yet.
    old_ct, new_ct = (f"{m._meta.app_label}.{m._meta.model_name}" for m in (old, new))
    from django.db.models import Q

    # Both rows in one query.
    labels = [(m._meta.app_label, m._meta.model_name) for m in (old, new)]
    rows = {
        (ct.app_label, ct.model): ct
        for ct in ContentType.objects.db_manager(spec.database).filter(
            Q(app_label=labels[0][0], model=labels[0][1])
            | Q(app_label=labels[1][0], model=labels[1][1])
        )
    }
    old_row, new_row = rows.get(labels[0]), rows.get(labels[1])
    if old_row is not None and old_ct != new_ct:
        ct_sql = []
        details = []
        if new_row is None:
            ct_sql = [
                f"UPDATE {q(ContentType._meta.db_table)} SET {q('app_label')} = "
                f"{literal(connection, new._meta.app_label)}, {q('model')} = "
                f"{literal(connection, new._meta.model_name)} "
                f"WHERE {q('id')} = {literal(connection, old_row.pk)}"
            ]
            details.append(
                f"content type id {old_row.pk} keeps its id: its permissions, their user and "
                "group assignments and admin log entries follow"
            )
        else:
            details.append(
                f"{new_ct!r} already has content type id {new_row.pk}: references to id "
                f"{old_row.pk} move to it (permissions, assignments, admin log, generic keys)"
            )
        spec.steps.append(
            StepSpec(
                "contenttypes",
                "contenttypes",
                f"Relabel content type {old_ct!r} as {new_ct!r}",
                details=details,
                sql=ct_sql,
                data={
                    "old": old_ct,
                    "new": new_ct,
                    "old_id": old_row.pk,
                    "relabel": new_row is None,
                },
            )
        )
    recorder_table = MigrationRecorder.Migration._meta.db_table
    if not spec.migrations:
        return  # the way back to auth.User: auth's migrations are applied already
    spec.steps.append(
        StepSpec(
            "record-migrations",
            "migrations",
            f"Record migration{'s' if len(spec.migrations) > 1 else ''} "
            + ", ".join(f"{app}.{name}" for app, name in spec.migrations)
            + " as applied",
            details=[f"they build exactly {spec.old_table!r}: an empty database still migrates"],
            sql=[
                f"INSERT INTO {q(recorder_table)} ({q('app')}, {q('name')}, {q('applied')}) "
                f"VALUES ({literal(connection, app)}, {literal(connection, name)}, "
                "CURRENT_TIMESTAMP)"
                for app, name in spec.migrations
            ],
            data={"migrations": spec.migrations},
        )
    )


def schema_renames(
    connection: Any,
    old_table: str,
    new_table: str,
    columns: dict[str, str],
    table_map: dict[str, str],
) -> list[Rename]:
    from authtools.db.schema import django_renames

    return django_renames(connection, old_table, new_table, columns, table_map)


def add_migration_steps(spec: SwapSpec, generated: GeneratedMigrations) -> None:
    """Case 2: write the generated migrations first; apply the change migration last."""
    import os

    # Phase 2: Django's own table move (AlterModelTable) replaces the renames, as in a fresh
    # migrate; only the names of other tables' foreign keys to the table still change after it.
    after_apply = [s for s in spec.steps if s.id == "rename-foreign-keys"] if generated.keep else []
    if generated.keep:
        spec.steps = []
    root = os.path.dirname(next(p for p in generated.write if not p.endswith("__init__.py")))
    spec.files = dict(generated.write)
    spec.replaced_files = dict(generated.replace)
    spec.dropped_columns = list(generated.dropped_columns)
    for step in spec.steps:
        if step.id == "record-migrations":
            step.details = [
                "the renames above are what it does (phase 2)"
                if generated.keep
                else f"it mirrors {spec.old_table!r}: the renamed table is what it builds"
            ]
    details = [f"write {os.path.relpath(p, root)}" for p in generated.write]
    details += [
        f"replace {os.path.relpath(p, root)} (kept in the backup)" for p in generated.replace
    ]
    details.insert(0, f"in {root}")
    spec.steps.insert(
        0,
        StepSpec(
            "write-migrations",
            "files",
            _write_title(spec, generated),
            details=[d for d in details if not d.endswith("__init__.py")],
            data={"write": dict(generated.write), "replace": dict(generated.replace)},
        ),
    )
    if generated.change is None:
        return
    spec.change_migration = list(generated.change)
    app, name = generated.change
    applied = [f"{app}.{m.name}" for m in generated.migrations if (app, m.name) != generated.mirror]
    details = [f"- {op}" for op in generated.change_operations]
    if generated.dropped_columns:
        details.append(
            f"drops column(s) {', '.join(generated.dropped_columns)} (--drop-columns; their "
            "values are in the backup)"
        )
    spec.steps.append(
        StepSpec(
            "apply-migration",
            "migrate",
            "Apply migration" + ("s " if len(applied) > 1 else " ") + ", ".join(applied),
            details=details,
            sql=list(generated.change_sql),
            data={
                "migration": [app, name],
                "mirror": list(generated.mirror or generated.base or []),
            },
        )
    )
    spec.steps.extend(after_apply)


def _write_title(spec: SwapSpec, generated: GeneratedMigrations) -> str:
    """'Write the migration(s) of APP' and what they do: the move to the new table, a mirror of
    the old one, or (two steps) the mirror and then the change."""
    files = [p for p in generated.write if not str(p).endswith("__init__.py")]
    title = f"Write the migration{'s' if len(files) > 1 else ''} of "
    title += repr(spec.new_label.split(".")[0])
    if generated.keep:
        return f"{title}: the move to {spec.new_table!r}" + (
            ", then the change" if generated.change else ""
        )
    if generated.change:
        return f"{title} in two steps: a mirror of {spec.old_table!r}, then the change"
    return f"{title}: a mirror of {spec.old_table!r}"


def add_key_steps(spec: SwapSpec, connection: Any) -> None:
    """A new key wider than the old one: the model file edit of --write-model comes first; the
    many-to-many tables' own ids are widened before the renames (as a fresh migrate builds
    them)."""
    import difflib

    from authtools.db.schema import widen_key_sql

    if spec.keys == "widen" and connection.vendor == "postgresql":
        # The key change re-creates the foreign keys to the user table under its own names; a
        # fresh migrate names some of them otherwise (widened_names says which, and how).
        from authtools.procedures.swap.widened_names import widened_fk_renames

        renames = widened_fk_renames(connection, spec)
        if renames:
            spec.steps.append(
                _rename_step(
                    "rename-widened-foreign-keys",
                    f"Rename the {len(renames)} foreign keys the key change re-created, as "
                    "migrate names them",
                    renames,
                    connection,
                )
            )
    first_db = next((i for i, s in enumerate(spec.steps) if s.kind != "files"), len(spec.steps))
    for number, widen in enumerate(reversed(spec.widen_ids), 1):
        spec.steps.insert(
            first_db,
            StepSpec(
                f"widen-id-{len(spec.widen_ids) - number + 1}",
                "widen",
                f"Make {widen['table']}.{widen['column']} a {widen['to']} "
                f"(the new app's key type, as migrate builds it)",
                sql=widen_key_sql(
                    connection, widen["table"], widen["column"], widen["from"], widen["to"]
                ),
                data=dict(widen),
            ),
        )
    if spec.model_edit:
        edit = spec.model_edit
        diff = [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                edit["before"].splitlines(True),
                edit["after"].splitlines(True),
                fromfile=f"{edit['path']} (before)",
                tofile=f"{edit['path']} (after)",
            )
        ]
        spec.steps.insert(
            0,
            StepSpec(
                "write-model",
                "model",
                f"Give {spec.new_label} the 32-bit key of {spec.old_table!r} in its model file "
                "(--write-model)",
                details=diff,
                data={"path": edit["path"]},
            ),
        )
