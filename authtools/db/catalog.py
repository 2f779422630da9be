"""Foreign keys and primary keys as the database catalog records them, one function per backend.

Constraint names keep the table names they were created with (``..._fk_auth_user_id``) and prove
nothing: these functions read where each constraint really points and the real column types.
They answer from ``authtools.db.snapshot``: one catalog read (a few queries, whatever the number
of tables) per call, or one per run inside ``snapshot.pinned(connection)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from authtools.db import snapshot


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


# --- answers from the snapshot ----------------------------------------------------------------


def foreign_keys(connection: Any, referencing: str | None = None) -> list[ForeignKey]:
    """Every foreign key constraint of the database (one row per column), sorted by table and
    column; only those whose ``ref_table`` is ``referencing`` when it is given."""
    snap = snapshot.current(connection)
    keys = set()
    for c in snap.foreign_keys():
        if referencing is not None and c.ref_table != referencing:
            continue
        types = snap.columns.get(c.table, {})
        for i, column in enumerate(c.columns):
            keys.add(
                ForeignKey(
                    table=c.table,
                    column=column,
                    ref_table=c.ref_table or "",
                    ref_column=c.ref_columns[i] if i < len(c.ref_columns) else "",
                    constraint=None if snap.vendor == "sqlite" else c.name,
                    column_type=types.get(column, ""),
                    ref_column_type=c.ref_types[i] if i < len(c.ref_types) else "",
                )
            )
    return sorted(keys, key=lambda k: (k.table, k.column, k.ref_table, k.constraint or ""))


def primary_key(connection: Any, table: str) -> tuple[str, str] | None:
    """(column, column type) of the table's primary key (its first column when composite), or
    None when the table does not exist or has no primary key."""
    snap = snapshot.current(connection)
    columns = snap.primary_key(table)
    if not columns:
        return None
    return columns[0], snap.columns.get(table, {}).get(columns[0], "")


def column_types(connection: Any, tables: Iterable[str]) -> dict[tuple[str, str], str]:
    """{(table, column): column type} for every column of the given tables that exist. Foreign
    key columns without a constraint (MySQL/MariaDB refuse to create one between columns of
    different types) are found here and not by ``foreign_keys()``."""
    names = set(tables)
    if not names:
        return {}
    snap = snapshot.current(connection)
    return {
        (table, column): type_
        for table in names
        for column, type_ in snap.columns.get(table, {}).items()
    }


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
