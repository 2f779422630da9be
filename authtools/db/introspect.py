"""The database catalog in one read: tables, columns, constraints, indexes and sequences.

``read(connection)`` builds a ``Snapshot`` with a fixed number of queries per backend (PostgreSQL
1, MySQL/MariaDB 4, SQLite 3), whatever the number of tables. ``authtools.db.snapshot`` keeps one
of them current for a whole run; ``authtools.db.catalog`` and ``authtools.db.schema`` answer from
it.

Names follow each backend's catalog: SQLite's primary key is ``__primary__`` and its foreign
keys ``fk_<column>`` (SQLite names neither). CHECK constraints are read on PostgreSQL only (the
one backend where a column's check is named after its table, and renamed with it; SQLite keeps
them only in the CREATE TABLE text, MariaDB in a view that costs a query of its own). On
MySQL/MariaDB an index and the foreign key it serves share one name: the snapshot holds the
foreign key; the snapshot also holds each table's storage engine there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ConstraintKind = Literal["primary", "unique", "foreign", "check", "index"]


@dataclass(frozen=True)
class Constraint:
    """A constraint or an index of one table. ``index`` is true for a plain or unique index
    that is not a constraint (PostgreSQL, SQLite) or for any index (MySQL, where they are one)."""

    name: str
    table: str
    kind: ConstraintKind
    columns: tuple[str, ...]
    unique: bool = False
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    ref_types: tuple[str, ...] = ()  # types of the referenced columns ('' when missing)


@dataclass(frozen=True)
class Sequence:
    name: str
    table: str | None  # the table.column that owns it (serial or identity), if any
    column: str | None


@dataclass
class Snapshot:
    vendor: str
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type
    constraints: dict[str, dict[str, Constraint]] = field(default_factory=dict)  # table -> name
    sequences: dict[str, Sequence] = field(default_factory=dict)  # name -> sequence
    # table -> Django's TableInfo type: 't' table, 'v' view, 'p' partition (PostgreSQL)
    kinds: dict[str, str] = field(default_factory=dict)
    # table -> storage engine (MySQL/MariaDB only): what Django's schema editor asks per foreign key
    engines: dict[str, str] = field(default_factory=dict)
    # Renames applied in place inside a transaction that has not committed yet.
    pending: bool = False

    @property
    def tables(self) -> set[str]:
        return set(self.columns)

    def constraints_of(self, table: str) -> dict[str, Constraint]:
        return self.constraints.get(table, {})

    def primary_key(self, table: str) -> tuple[str, ...]:
        for c in self.constraints_of(table).values():
            if c.kind == "primary":
                return c.columns
        return ()

    def foreign_keys(self) -> list[Constraint]:
        return [c for by in self.constraints.values() for c in by.values() if c.kind == "foreign"]

    def sequences_of(self, table: str) -> list[Sequence]:
        return [s for s in self.sequences.values() if s.table == table]

    # --- keeping it current ---------------------------------------------------------------------
    def apply(self, kind: str, table: str, old: str, new: str) -> None:
        """What a rename of KIND (table, column, index, constraint, sequence) did."""
        if kind == "table":
            self.columns[new] = self.columns.pop(old, {})
            self.kinds[new] = self.kinds.pop(old, "t")
            if old in self.engines:
                self.engines[new] = self.engines.pop(old)
            self.constraints[new] = {
                n: replace(c, table=new) for n, c in self.constraints.pop(old, {}).items()
            }
            for by in self.constraints.values():
                for n, c in by.items():
                    if c.ref_table == old:
                        by[n] = replace(c, ref_table=new)
            for n, s in self.sequences.items():
                if s.table == old:
                    self.sequences[n] = replace(s, table=new)
        elif kind == "column":
            cols = self.columns.get(table, {})
            self.columns[table] = {(new if k == old else k): v for k, v in cols.items()}

            def renamed(columns: tuple[str, ...]) -> tuple[str, ...]:
                return tuple(new if c == old else c for c in columns)

            for t, by in self.constraints.items():
                for n, c in by.items():
                    if t == table:
                        c = replace(c, columns=renamed(c.columns))
                    if c.ref_table == table:
                        c = replace(c, ref_columns=renamed(c.ref_columns))
                    by[n] = c
            for n, s in self.sequences.items():
                if s.table == table and s.column == old:
                    self.sequences[n] = replace(s, column=new)
        elif kind == "sequence":
            if old in self.sequences:
                self.sequences[new] = replace(self.sequences.pop(old), name=new)
        else:  # index or constraint
            by = self.constraints.get(table, {})
            if old in by:
                by[new] = replace(by.pop(old), name=new)


# --- reading ------------------------------------------------------------------------------------

# Each query's columns are c0, c1, ...: _read_postgresql sends the four as one statement.
_PG_COLUMNS = """
SELECT c.relname AS c0, a.attname AS c1, format_type(a.atttypid, a.atttypmod) AS c2,
       CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v') THEN 'v' ELSE 't' END
       AS c3, a.attnum AS c4
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v') AND pg_catalog.pg_table_is_visible(c.oid)
  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
"""

_PG_CONSTRAINTS = """
SELECT co.conname AS c0, cl.relname AS c1, co.contype AS c2,
       ARRAY(SELECT a.attname FROM unnest(co.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n ORDER BY k.o)
       AS c3,
       rcl.relname AS c4,
       ARRAY(SELECT a.attname FROM unnest(co.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.o)
       AS c5,
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod)
             FROM unnest(co.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.o)
       AS c6
FROM pg_constraint co
JOIN pg_class cl ON cl.oid = co.conrelid
LEFT JOIN pg_class rcl ON rcl.oid = co.confrelid
WHERE pg_catalog.pg_table_is_visible(cl.oid)
  AND cl.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
"""

_PG_INDEXES = """
SELECT i.relname AS c0, t.relname AS c1, ix.indisunique AS c2,
       ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.o)
       AS c3
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
WHERE pg_catalog.pg_table_is_visible(t.oid)
  AND t.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = ix.indexrelid
                  AND co.conrelid = ix.indrelid AND co.conname = i.relname)
"""

_PG_SEQUENCES = """
SELECT s.relname AS c0, t.relname AS c1, a.attname AS c2
FROM pg_class s
LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE s.relkind = 'S' AND pg_catalog.pg_table_is_visible(s.oid)
  AND s.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
"""

_PG_KINDS: dict[str, ConstraintKind] = {"p": "primary", "u": "unique", "f": "foreign", "c": "check"}


def _pg_rows(query: str, width: int, order: str = "") -> str:
    """QUERY's rows as one JSON array of arrays (a column of the single statement)."""
    row = ", ".join(f"q.c{i}" for i in range(width))
    return f"(SELECT json_agg(json_build_array({row}){order}) FROM ({query}) q)"


_PG_ALL = "SELECT " + ",\n".join(
    [
        _pg_rows(_PG_COLUMNS, 4, " ORDER BY q.c0, q.c4"),
        _pg_rows(_PG_CONSTRAINTS, 7),
        _pg_rows(_PG_INDEXES, 4),
        _pg_rows(_PG_SEQUENCES, 3),
    ]
)


def _read_postgresql(cursor: Any, snap: Snapshot) -> None:
    # One round trip for the whole catalog (the four queries, each as a JSON column).
    cursor.execute(_PG_ALL)
    loaded = [json.loads(v) if isinstance(v, str | bytes) else v for v in cursor.fetchone()]
    columns, constraints, indexes, sequences = (v or [] for v in loaded)
    for table, column, type_, table_kind in columns:
        snap.kinds[table] = table_kind
        cols = snap.columns.setdefault(table, {})
        if column is not None:
            cols[column] = type_
    for name, table, contype, cols, ref_table, ref_cols, ref_types in constraints:
        kind = _PG_KINDS.get(contype)
        if kind is None:
            continue  # exclusion and trigger constraints
        snap.constraints.setdefault(table, {})[name] = Constraint(
            name,
            table,
            kind,
            tuple(cols or ()),
            unique=kind in ("primary", "unique"),
            ref_table=ref_table if kind == "foreign" else None,
            ref_columns=tuple(ref_cols or ()) if kind == "foreign" else (),
            ref_types=tuple(ref_types or ()) if kind == "foreign" else (),
        )
    for name, table, unique, cols in indexes:
        snap.constraints.setdefault(table, {}).setdefault(
            name, Constraint(name, table, "index", tuple(cols or ()), unique=bool(unique))
        )
    for name, table, column in sequences:
        snap.sequences[name] = Sequence(name, table, column)


# MariaDB/MySQL: each query names this schema alone, so the server opens only its tables (a join
# between information_schema views cannot be limited that way and reads every schema).
_MYSQL_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

_MYSQL_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE()
"""

_MYSQL_INDEXES = """
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

_MYSQL_FOREIGN_KEYS = """
SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
"""


def _read_mysql(cursor: Any, snap: Snapshot) -> None:
    cursor.execute(_MYSQL_COLUMNS)
    for table, column, type_ in cursor.fetchall():
        snap.columns.setdefault(table, {})[column] = type_
        snap.kinds[table] = "t"
    cursor.execute(_MYSQL_TABLES)
    for table, table_type, engine in cursor.fetchall():
        if table_type == "VIEW":
            snap.kinds[table] = "v"
        elif engine:
            snap.engines[table] = engine
    cursor.execute(_MYSQL_INDEXES)
    indexes: dict[tuple[str, str], tuple[bool, list[str]]] = {}
    for table, name, non_unique, column in cursor.fetchall():
        indexes.setdefault((table, name), (not int(non_unique), []))[1].append(column)
    for (table, name), (unique, cols) in indexes.items():
        kind: ConstraintKind = "primary" if name == "PRIMARY" else "index"
        snap.constraints.setdefault(table, {})[name] = Constraint(
            name, table, kind, tuple(cols), unique=unique
        )
    cursor.execute(_MYSQL_FOREIGN_KEYS)
    fks: dict[tuple[str, str], tuple[str, list[str], list[str]]] = {}
    for name, table, column, ref_table, ref_column in cursor.fetchall():
        entry = fks.setdefault((table, name), (ref_table, [], []))
        entry[1].append(column)
        entry[2].append(ref_column)
    for (table, name), (ref_table, cols, ref_cols) in fks.items():
        ref_types = tuple(snap.columns.get(ref_table, {}).get(c, "") for c in ref_cols)
        snap.constraints.setdefault(table, {})[name] = Constraint(
            name, table, "foreign", tuple(cols), False, ref_table, tuple(ref_cols), ref_types
        )


# SQLite's table-valued pragmas read every table in one query each.
_SQLITE_COLUMNS = """
SELECT m.name, c.name, c.type, c.pk, m.type FROM sqlite_master m
LEFT JOIN pragma_table_info(m.name) c
WHERE m.type IN ('table', 'view') AND m.name != 'sqlite_sequence'
ORDER BY m.name, c.cid
"""

_SQLITE_FOREIGN_KEYS = """
SELECT m.name, f.id, f."from", f."table", f."to" FROM sqlite_master m
JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table'
ORDER BY m.name, f.id, f.seq
"""

_SQLITE_INDEXES = """
SELECT m.name, il.name, il."unique", il.origin, ii.name FROM sqlite_master m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_info(il.name) ii
WHERE m.type = 'table'
ORDER BY m.name, il.name, ii.seqno
"""


def _read_sqlite(cursor: Any, snap: Snapshot) -> None:
    cursor.execute(_SQLITE_COLUMNS)
    pks: dict[str, list[tuple[int, str]]] = {}
    for table, column, type_, pk, table_type in cursor.fetchall():
        snap.kinds[table] = "v" if table_type == "view" else "t"
        table_columns = snap.columns.setdefault(table, {})
        if column is not None:
            table_columns[column] = type_ or ""
            if pk:
                pks.setdefault(table, []).append((pk, column))
    for table, pk_cols in pks.items():
        snap.constraints.setdefault(table, {})["__primary__"] = Constraint(
            "__primary__", table, "primary", tuple(c for _, c in sorted(pk_cols)), unique=True
        )
    cursor.execute(_SQLITE_FOREIGN_KEYS)
    fks: dict[tuple[str, int], tuple[str, list[str], list[str | None]]] = {}
    for table, number, column, ref_table, ref_column in cursor.fetchall():
        entry = fks.setdefault((table, number), (ref_table, [], []))
        entry[1].append(column)
        entry[2].append(ref_column)
    for (table, _), (ref_table, cols, ref_cols) in fks.items():
        # A REFERENCES clause without columns names the referenced table's primary key.
        ref_pk = snap.primary_key(ref_table)
        resolved = tuple(
            c if c is not None else (ref_pk[i] if i < len(ref_pk) else "")
            for i, c in enumerate(ref_cols)
        )
        ref_types = tuple(snap.columns.get(ref_table, {}).get(c, "") for c in resolved)
        name = "fk_" + "_".join(cols)
        snap.constraints.setdefault(table, {})[name] = Constraint(
            name, table, "foreign", tuple(cols), False, ref_table, resolved, ref_types
        )
    cursor.execute(_SQLITE_INDEXES)
    indexes: dict[tuple[str, str], tuple[bool, str, list[str]]] = {}
    for table, name, unique, origin, column in cursor.fetchall():
        listed = indexes.setdefault((table, name), (bool(unique), origin, []))[2]
        if column is not None:  # an expression has no column name: left out, as on PostgreSQL
            listed.append(column)
    for (table, name), (unique, origin, cols) in indexes.items():
        if origin == "pk":
            continue  # the primary key, above
        kind: ConstraintKind = "index" if origin == "c" else "unique"
        snap.constraints.setdefault(table, {})[name] = Constraint(
            name, table, kind, tuple(cols), unique=unique
        )


_READERS = {"postgresql": _read_postgresql, "mysql": _read_mysql, "sqlite": _read_sqlite}


def read(connection: Any) -> Snapshot:
    """The catalog of the connection's database (schema) as it is now."""
    reader = _READERS.get(connection.vendor)
    if reader is None:
        raise NotImplementedError(f"no catalog reader for the {connection.vendor!r} backend")
    snap = Snapshot(connection.vendor)
    with connection.cursor() as cursor:
        reader(cursor, snap)
    return snap
