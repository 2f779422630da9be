"""Backend-specific DDL the schema editor does not offer: renames of indexes, constraints and
sequences, sequence resets, and the existence checks that make each rename safe to repeat.

Every function returns SQL (to show in a plan before anything runs) or reads the catalog; one
function per backend difference. Identifiers always go through ``quote()`` (embedded quote
characters doubled: ``connection.ops.quote_name`` leaves them as they are); values are bind
parameters when a statement runs, and ``literal()`` only where a statement is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

from authtools.db import snapshot
from authtools.db.names import generated_name, is_fk_suffix, pg_auto_name_of, pg_object_name

ObjectKind = Literal["table", "column", "index", "constraint", "sequence"]


def quote(connection: Any, name: str) -> str:
    """NAME as an identifier, whatever it holds (embedded quote characters doubled)."""
    mark = "`" if connection.vendor == "mysql" else '"'
    return mark + name.replace(mark, mark * 2) + mark


def quoter(connection: Any) -> Any:
    return lambda name: quote(connection, name)


def literal(connection: Any, value: object) -> str:
    """VALUE as a SQL literal, for showing a statement (running it binds the value)."""
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("'", "''")
    if connection.vendor == "mysql":
        text = text.replace("\\", "\\\\")
    return f"'{text}'"


def unquotable(connection: Any, name: str) -> str | None:
    """Why NAME cannot be used as a table name by this tool and by Django (whose own SQL, in
    migrate and the schema editor, does not escape quote characters), or None."""
    mark = "`" if connection.vendor == "mysql" else '"'
    if mark in name:
        return (
            f"it holds {mark!r}, which Django's own SQL (migrate, the schema editor) does not "
            "escape"
        )
    if "\x00" in name:
        return "it holds a NUL character"
    return None


_INTEGER_WIDTHS = (
    (re.compile(r"^(bigint|int8|bigserial|serial8|bigint\(\d+\))"), 64),
    (re.compile(r"^(smallint|int2|smallserial|serial2|smallint\(\d+\))"), 16),
    (re.compile(r"^(integer|int|int4|serial|serial4|int\(\d+\)|mediumint)\b"), 32),
)


def integer_width(type_name: str) -> int | None:
    """32 for 'integer', 'int(11)', 'int4', 'serial'; 64 for 'bigint', 'int8'; None otherwise."""
    name = type_name.lower().strip()
    for pattern, width in _INTEGER_WIDTHS:
        if pattern.match(name):
            return width
    return None


def same_key_type(vendor: str, a: str, b: str) -> bool:
    """Whether two column types hold the same keys (SQLite: every integer is 64-bit)."""
    if vendor == "sqlite":
        return ("INT" in a.upper()) == ("INT" in b.upper())
    wa, wb = integer_width(a), integer_width(b)
    if wa is not None or wb is not None:
        unsigned = ("unsigned" in a.lower()) == ("unsigned" in b.lower())
        return wa == wb and unsigned
    return a.lower().strip() == b.lower().strip()


@dataclass(frozen=True)
class Rename:
    """Rename one database object. ``table`` is the table it belongs to at the time it runs."""

    kind: ObjectKind
    table: str
    old: str
    new: str
    # SQLite cannot rename an index: it is dropped and created again with these columns.
    columns: tuple[str, ...] = ()
    unique: bool = False

    def reverse(self, table: str | None = None) -> Rename:
        return Rename(self.kind, table or self.table, self.new, self.old, self.columns, self.unique)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rename:
        return cls(**{**data, "columns": tuple(data.get("columns", ()))})

    def describe(self) -> str:
        if self.kind == "table":
            return f"table {self.old!r} to {self.new!r}"
        return f"{self.kind} {self.old!r} of {self.table!r} to {self.new!r}"


def rename_sql(connection: Any, rename: Rename) -> list[str]:
    """The statements that perform RENAME on this backend (no schema editor is opened: on SQLite
    its exit checks every foreign key of the database)."""
    statements = _rename_sql(connection, rename)
    snapshot.expect(connection, statements, rename.kind, rename.table, rename.old, rename.new)
    return statements


def _rename_sql(connection: Any, rename: Rename) -> list[str]:
    q = quoter(connection)
    vendor = connection.vendor
    if rename.kind == "table":
        if vendor == "mysql":  # (RENAME TABLE is refused under LOCK TABLES; this is not)
            return [f"ALTER TABLE {q(rename.old)} RENAME TO {q(rename.new)}"]
        # The backend's statement, read from the schema editor class: entering an editor would
        # need SQLite's foreign key checks off, and its exit checks every foreign key.
        template = connection.SchemaEditorClass.sql_rename_table
        return [template % {"old_table": q(rename.old), "new_table": q(rename.new)}]
    if rename.kind == "column":
        return [f"ALTER TABLE {q(rename.table)} RENAME COLUMN {q(rename.old)} TO {q(rename.new)}"]
    if rename.kind == "sequence":
        return [f"ALTER SEQUENCE {q(rename.old)} RENAME TO {q(rename.new)}"]
    if rename.kind == "constraint":
        if vendor != "postgresql":
            raise NotImplementedError(f"renaming a constraint on {vendor}")
        return [
            f"ALTER TABLE {q(rename.table)} RENAME CONSTRAINT {q(rename.old)} TO {q(rename.new)}"
        ]
    # index
    if vendor == "postgresql":
        return [f"ALTER INDEX {q(rename.old)} RENAME TO {q(rename.new)}"]
    if vendor == "mysql":
        return [f"ALTER TABLE {q(rename.table)} RENAME INDEX {q(rename.old)} TO {q(rename.new)}"]
    # SQLite cannot rename an index: a rebuild reads every row. django_renames() never plans one
    # there (the names are kept); a spec saved by an earlier version may still hold one.
    columns = ", ".join(q(c) for c in rename.columns)
    unique = "UNIQUE " if rename.unique else ""
    return [
        f"DROP INDEX {q(rename.old)}",
        f"CREATE {unique}INDEX {q(rename.new)} ON {q(rename.table)} ({columns})",
    ]


@contextmanager
def collecting_editor(connection: Any, atomic: bool = True) -> Iterator[Any]:
    """A schema editor that only collects SQL (for a plan). On SQLite leaving a schema editor
    checks every foreign key of the database (PRAGMA foreign_key_check, reading every row): not
    here, where no statement runs."""
    editor = connection.schema_editor(collect_sql=True, atomic=atomic)
    if connection.vendor != "sqlite":
        with editor:
            yield editor
        return
    connection.check_constraints = lambda table_names=None: None
    try:
        with editor:
            yield editor
    finally:
        del connection.check_constraints


def exists(connection: Any, kind: ObjectKind, name: str, table: str) -> bool:
    """Whether the object is there now (so a rename can be repeated after an interruption)."""
    snap = snapshot.current(connection)
    if kind == "table":
        return name in snap.columns
    if table not in snap.columns:
        return False
    if kind == "column":
        return name in snap.columns[table]
    if kind == "sequence":
        return name in snap.sequences
    return name in snap.constraints_of(table)


# --- the names Django gives ------------------------------------------------------------------


def django_renames(
    connection: Any,
    table: str,
    new_table: str,
    columns: dict[str, str],
    ref_tables: dict[str, str],
    *,
    only_foreign_keys_to: str | None = None,
) -> list[Rename]:
    """Indexes, constraints and sequences of TABLE named the way Django (or the backend) names
    them for TABLE, renamed to what they would be called for NEW_TABLE, with COLUMNS renamed
    (old -> new) and foreign keys to a table in REF_TABLES pointing at its new name.

    Names Django did not generate are left alone, and so are SQLite's indexes (see
    ``kept_names``). ``only_foreign_keys_to`` limits the result to the foreign keys pointing at
    that table (for tables that are not renamed themselves). Renames are returned against
    NEW_TABLE (they run after the table rename).
    """
    return [
        r
        for r in _django_names(
            connection, table, new_table, columns, ref_tables, only_foreign_keys_to
        )
        if not _kept(connection.vendor, r)
    ]


def kept_names(
    connection: Any, table: str, new_table: str, columns: dict[str, str], ref_tables: dict[str, str]
) -> list[Rename]:
    """The renames of ``django_renames`` the backend cannot do in place, so not planned: SQLite
    rebuilds an index to rename it (reading every row), so its indexes keep their names there,
    as MySQL keeps its foreign keys' (Django finds both by their columns, never by name)."""
    return [
        r
        for r in _django_names(connection, table, new_table, columns, ref_tables, None)
        if _kept(connection.vendor, r)
    ]


def kept_names_note(renames: list[Rename]) -> str:
    """The plan's note for ``kept_names`` (SQLite)."""
    tables = ", ".join(sorted({repr(r.table) for r in renames}))
    names = ", ".join(repr(r.old) for r in renames)
    return (
        "SQLite cannot rename an index without rebuilding it (reading every row): "
        + (
            f"the index of {tables} keeps its name ({names}); "
            if len(renames) == 1
            else f"the {len(renames)} indexes of {tables} keep their names ({names}); "
        )
        + "Django finds indexes by their columns, not their names, and a fresh migrate would "
        "name them after the new tables."
    )


def _kept(vendor: str, rename: Rename) -> bool:
    return vendor == "sqlite" and rename.kind == "index"


def _django_names(
    connection: Any,
    table: str,
    new_table: str,
    columns: dict[str, str],
    ref_tables: dict[str, str],
    only_foreign_keys_to: str | None,
    snap: snapshot.Snapshot | None = None,
) -> list[Rename]:
    """Names are recognised by their columns and the table they reference, whatever table name
    they were made under (a table renamed by an earlier migration keeps the names made under
    its earlier name, in the database as in a fresh migrate of the same migrations).

    Tables created by the new app's migrations (the user table and its many-to-many tables)
    get the names a fresh migrate gives them under NEW_TABLE. Tables that only hold a foreign
    key to the user table (``only_foreign_keys_to``) keep the table part of each name, as a
    fresh migrate of their own migrations builds it: only the referenced table changes."""
    vendor = connection.vendor
    # Instantiated, never entered: on SQLite entering and leaving checks every foreign key.
    editor = connection.schema_editor()
    snap = snap if snap is not None else snapshot.current(connection)
    renames: list[Rename] = []
    for name, info in sorted(snap.constraints_of(table).items()):
        if vendor == "sqlite" and info.kind == "primary":
            continue
        cols = list(info.columns)
        if not cols:
            continue  # an index on expressions only: its name is the model's, never generated
        new_cols = [columns.get(c, c) for c in cols]
        new: str | None = None
        kind: ObjectKind = "index"
        if info.kind == "foreign":
            ref_table, ref_column = info.ref_table or "", (info.ref_columns or ("",))[0]
            if only_foreign_keys_to is not None and ref_table != only_foreign_keys_to:
                continue
            if vendor != "postgresql":
                continue  # MySQL cannot rename a foreign key; SQLite's have no names
            kind = "constraint"
            new_suffix = f"_fk_{ref_tables.get(ref_table, ref_table)}_{ref_column}"
            made = generated_name(connection, name, cols, table, (f"_fk_{ref_table}_{ref_column}",))
            if made is not None and is_fk_suffix(made[2], ref_column):
                made_table, made_cols, _ = made
                if only_foreign_keys_to is not None:
                    new = editor._create_index_name(made_table, made_cols, suffix=new_suffix)
                else:
                    new = editor._create_index_name(new_table, new_cols, suffix=new_suffix)
        elif only_foreign_keys_to is not None:
            continue
        else:
            new = _index_name(connection, editor, name, info, table, new_table, cols, new_cols)
            if info.kind == "check":
                kind = "constraint"  # no index behind it: ALTER TABLE ... RENAME CONSTRAINT
        if new is not None and new != name:
            renames.append(Rename(kind, new_table, name, new, tuple(new_cols), info.unique))
    if vendor == "postgresql" and only_foreign_keys_to is None:
        for sequence in sorted(snap.sequences_of(table), key=lambda s: s.name):
            column = sequence.column or "id"
            if pg_auto_name_of(sequence.name, table, column, "seq"):
                new = pg_object_name(new_table, columns.get(column, column), "seq")
                if new != sequence.name:
                    renames.append(Rename("sequence", new_table, sequence.name, new))
    return renames


def _index_name(
    connection: Any,
    editor: Any,
    name: str,
    info: snapshot.Constraint,
    table: str,
    new_table: str,
    cols: list[str],
    new_cols: list[str],
) -> str | None:
    """The name a fresh migrate gives index or constraint NAME of NEW_TABLE, if Django (or
    PostgreSQL, for a primary key, a unique column or a column's check) generated it; None
    otherwise."""
    if connection.vendor == "postgresql":
        if info.kind == "primary" and pg_auto_name_of(name, table, None, "pkey"):
            return pg_object_name(new_table, None, "pkey")
        if (
            info.kind == "unique"
            and len(cols) == 1
            and pg_auto_name_of(name, table, cols[0], "key")
        ):
            return pg_object_name(new_table, new_cols[0], "key")
        if (
            info.kind == "check"
            and len(cols) == 1
            and pg_auto_name_of(name, table, cols[0], "check")
        ):  # a column's own check (PositiveIntegerField): <table>_<column>_check
            return pg_object_name(new_table, new_cols[0], "check")
    made = generated_name(connection, name, cols, table)
    if made is not None and made[2] in ("", "_like", "_uniq"):
        return str(editor._create_index_name(new_table, new_cols, suffix=made[2]))
    return None


def leftover_names(
    connection: Any,
    snap: snapshot.Snapshot,
    created: list[str],
    referencing: list[str],
    old_ref: str,
    new_ref: str,
) -> list[Rename]:
    """After a swap: the names a fresh migrate would give differently, where this backend can
    rename them (empty when every name is right). CREATED are the tables the new app's
    migrations build (names made under NEW names); REFERENCING the other tables whose foreign
    keys point at NEW_REF, whose names must no longer name OLD_REF."""
    left: list[Rename] = []
    for table in created:
        left += [
            r
            for r in _django_names(connection, table, table, {}, {}, None, snap)
            if not _kept(connection.vendor, r)
        ]
    if old_ref != new_ref:
        for table in referencing:
            fresh = _django_names(connection, table, table, {}, {}, new_ref, snap)
            # Still named for OLD_REF: nothing to rename to get the name made for OLD_REF.
            as_before = {
                r.old
                for r in _django_names(
                    connection, table, table, {}, {new_ref: old_ref}, new_ref, snap
                )
            }
            left += [r for r in fresh if r.old not in as_before]
    return left


def sequence_reset_sql(connection: Any, table: str, column: str) -> list[str]:
    """Make the next generated key follow the highest one in TABLE.COLUMN (as shown in a plan;
    ``reset_sequence`` runs it with the names as bind parameters).

    PostgreSQL: setval on the column's sequence (serial or identity). MySQL/MariaDB keep
    AUTO_INCREMENT across RENAME TABLE and never hand out a key below the highest one; SQLite
    moves its sqlite_sequence row with the table: neither needs a statement.
    """
    if connection.vendor != "postgresql":
        return []
    sql, params = _sequence_reset(connection, table, column)
    return [sql % tuple(literal(connection, p) for p in params)]


def _sequence_reset(connection: Any, table: str, column: str) -> tuple[str, list[str]]:
    q = quoter(connection)
    return (
        f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({q(column)}), 1), "
        f"MAX({q(column)}) IS NOT NULL) FROM {q(table)}",
        [q(table), column],
    )


def reset_sequence(connection: Any, table: str, column: str) -> None:
    """Run ``sequence_reset_sql`` with its values bound (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    sql, params = _sequence_reset(connection, table, column)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def next_key_follows(connection: Any, table: str, column: str) -> bool:
    """Whether the next generated key of TABLE.COLUMN will be above the highest one there."""
    q = quoter(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip: the highest key, the sequence, and its last value (NULL until
            # the sequence has handed one out or was set with is_called false: read it then).
            cursor.execute(
                f"SELECT (SELECT MAX({q(column)}) FROM {q(table)}), s.seq, "
                "pg_sequence_last_value(s.seq::regclass) "
                "FROM (SELECT pg_get_serial_sequence(%s, %s) AS seq) s",
                [q(table), column],
            )
            highest, sequence, last = cursor.fetchone()
            if sequence is None:
                return False
            if last is None:
                cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
                last, called = cursor.fetchone()
                last = last if called else last - 1
            return bool(last >= (highest or 0))
        cursor.execute(f"SELECT MAX({q(column)}) FROM {q(table)}")
        highest = cursor.fetchone()[0] or 0
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                [table],
            )
            row = cursor.fetchone()
            return row is not None and (row[0] or 0) > highest
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        # AUTOINCREMENT without a sqlite_sequence row starts after the highest rowid.
        return row is None or row[0] >= highest


def widen_key_sql(
    connection: Any, table: str, column: str, old_kind: str, new_kind: str, *, run: bool = False
) -> list[str]:
    """The statements that turn TABLE.COLUMN, a primary key of field class OLD_KIND
    (AutoField), into NEW_KIND (BigAutoField), as Django's schema editor writes them (the
    column, its identity sequence or AUTO_INCREMENT); with RUN, run them too."""
    from django.apps.registry import Apps
    from django.db import models

    meta = type("Meta", (), {"apps": Apps(), "app_label": "authtools_keys", "db_table": table})
    new_field = getattr(models, new_kind)(primary_key=True, db_column=column)
    model = type("Key", (models.Model,), {"__module__": __name__, "Meta": meta, "id": new_field})
    old_field = getattr(models, old_kind)(primary_key=True, db_column=column)
    old_field.set_attributes_from_name("id")
    old_field.model = model
    with connection.schema_editor(collect_sql=not run, atomic=False) as editor:
        if run:
            editor.alter_field(model, old_field, new_field)
            return []
        editor.alter_field(model, old_field, new_field)
    return [s.rstrip(";") for s in editor.collected_sql]
