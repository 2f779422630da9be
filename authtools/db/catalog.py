"""Foreign keys and primary keys as the database catalog records them, one function per backend.

Constraint names keep the table names they were created with (``..._fk_auth_user_id``) and prove
nothing: these functions read where each constraint really points and the real column types.
Each public function costs one query, whatever the number of tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ForeignKey:
    """One column of a foreign key constraint. Types are the backend's own names
    ('integer', 'bigint', 'int(11)'); ``ref_column_type`` is '' when the referenced column (or
    table) does not exist, which MySQL/MariaDB and SQLite allow."""

    table: str
    column: str
    ref_table: str
    ref_column: str
    constraint: str | None
    column_type: str
    ref_column_type: str


# --- foreign keys ---------------------------------------------------------------------------

_PG_FOREIGN_KEYS = """
SELECT cl.relname, a.attname, rcl.relname, ra.attname, c.conname,
       format_type(a.atttypid, a.atttypmod), format_type(ra.atttypid, ra.atttypmod)
FROM pg_constraint c
JOIN pg_class cl ON cl.oid = c.conrelid
JOIN pg_class rcl ON rcl.oid = c.confrelid
CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, refcol)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refcol
WHERE c.contype = 'f' AND pg_catalog.pg_table_is_visible(cl.oid)
"""

_MYSQL_FOREIGN_KEYS = """
SELECT k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
       k.CONSTRAINT_NAME, c.COLUMN_TYPE, rc.COLUMN_TYPE
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME
 AND c.COLUMN_NAME = k.COLUMN_NAME
LEFT JOIN information_schema.COLUMNS rc
  ON rc.TABLE_SCHEMA = k.REFERENCED_TABLE_SCHEMA AND rc.TABLE_NAME = k.REFERENCED_TABLE_NAME
 AND rc.COLUMN_NAME = k.REFERENCED_COLUMN_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
"""

# pragma_foreign_key_list()/pragma_table_info() are table-valued (SQLite 3.16+): one query for
# every table. A REFERENCES clause without a column names the referenced table's primary key.
_SQLITE_FOREIGN_KEYS = """
SELECT m.name, f."from", f."table", COALESCE(f."to", r.name), NULL, c.type, r.type
FROM sqlite_master m
JOIN pragma_foreign_key_list(m.name) f
LEFT JOIN pragma_table_info(m.name) c ON c.name = f."from"
LEFT JOIN pragma_table_info(f."table") r
  ON (f."to" IS NOT NULL AND r.name = f."to") OR (f."to" IS NULL AND r.pk = 1)
WHERE m.type = 'table'
"""

_FOREIGN_KEYS = {
    "postgresql": _PG_FOREIGN_KEYS,
    "mysql": _MYSQL_FOREIGN_KEYS,
    "sqlite": _SQLITE_FOREIGN_KEYS,
}


def foreign_keys(connection: Any, referencing: str | None = None) -> list[ForeignKey]:
    """Every foreign key constraint of the database (one row per column), sorted by table and
    column; only those whose ``ref_table`` is ``referencing`` when it is given."""
    sql = _FOREIGN_KEYS.get(connection.vendor)
    if sql is None:
        raise NotImplementedError(f"no catalog reader for the {connection.vendor!r} backend")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    keys = {
        ForeignKey(
            table=table,
            column=column,
            ref_table=ref_table,
            ref_column=ref_column or "",
            constraint=constraint,
            column_type=column_type or "",
            ref_column_type=ref_column_type or "",
        )
        for table, column, ref_table, ref_column, constraint, column_type, ref_column_type in rows
    }
    if referencing is not None:
        keys = {key for key in keys if key.ref_table == referencing}
    return sorted(keys, key=lambda k: (k.table, k.column, k.ref_table, k.constraint or ""))


# --- primary keys ---------------------------------------------------------------------------

_PG_PRIMARY_KEY = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
ORDER BY a.attnum
"""

_MYSQL_PRIMARY_KEY = """
SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_KEY = 'PRI'
ORDER BY ORDINAL_POSITION
"""

_SQLITE_PRIMARY_KEY = "SELECT name, type FROM pragma_table_info(%s) WHERE pk > 0 ORDER BY pk"


def primary_key(connection: Any, table: str) -> tuple[str, str] | None:
    """(column, column type) of the table's primary key (its first column when composite), or
    None when the table does not exist or has no primary key."""
    vendor = connection.vendor
    if vendor == "postgresql":
        sql, param = _PG_PRIMARY_KEY, connection.ops.quote_name(table)
    elif vendor == "mysql":
        sql, param = _MYSQL_PRIMARY_KEY, table
    elif vendor == "sqlite":
        sql, param = _SQLITE_PRIMARY_KEY, table
    else:
        raise NotImplementedError(f"no catalog reader for the {vendor!r} backend")
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


# --- column types ---------------------------------------------------------------------------

_PG_COLUMN_TYPES = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p') AND a.attnum > 0
  AND NOT a.attisdropped AND pg_catalog.pg_table_is_visible(c.oid)
"""

_MYSQL_COLUMN_TYPES = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({placeholders})
"""

_SQLITE_COLUMN_TYPES = """
SELECT m.name, c.name, c.type FROM sqlite_master m JOIN pragma_table_info(m.name) c
WHERE m.type = 'table' AND m.name IN ({placeholders})
"""


def column_types(connection: Any, tables: Iterable[str]) -> dict[tuple[str, str], str]:
    """{(table, column): column type} for every column of the given tables that exist, in one
    query. Foreign key columns without a constraint (MySQL/MariaDB refuse to create one between
    columns of different types) are found here and not by ``foreign_keys()``."""
    names = sorted(set(tables))
    if not names:
        return {}
    vendor = connection.vendor
    params: list[Any]
    if vendor == "postgresql":
        sql, params = _PG_COLUMN_TYPES, [names]
    elif vendor in ("mysql", "sqlite"):
        template = _MYSQL_COLUMN_TYPES if vendor == "mysql" else _SQLITE_COLUMN_TYPES
        sql, params = template.format(placeholders=", ".join(["%s"] * len(names))), names
    else:
        raise NotImplementedError(f"no catalog reader for the {vendor!r} backend")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(table, column): type_ or "" for table, column, type_ in cursor.fetchall()}


# --- comparing types ------------------------------------------------------------------------

_DISPLAY_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")


def same_type(vendor: str, a: str, b: str) -> bool:
    """Whether two column types of one backend can hold the same keys.

    SQLite stores every integer in 64 bits, so types compare by affinity ('integer' for a
    BigAutoField and 'bigint' for a foreign key to it are the same). MySQL's integer display
    widths ('int(11)' vs 'int') mean nothing; signedness does."""
    if vendor == "sqlite":
        return sqlite_affinity(a) == sqlite_affinity(b)
    if vendor == "mysql":
        a, b = (_DISPLAY_WIDTH.sub(r"\1", t.lower()) for t in (a, b))
    return a.lower().strip() == b.lower().strip()


def sqlite_affinity(declared: str) -> str:
    """SQLite's type affinity rules (https://sqlite.org/datatype3.html, section 3.1)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"
