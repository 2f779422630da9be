"""Batched SQL over sets of ids: a fixed number of statements per batch, whatever the count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

# Rows per statement for IN lists and CASE expressions (SQLite allows 32766 parameters).
BATCH = 500


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def qn(using: str, name: str) -> str:
    from django.db import connections

    return str(connections[using].ops.quote_name(name))


def marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def execute(using: str, sql: str, params: Sequence[Any] = ()) -> Any:
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(sql, list(params))
        if cursor.description:
            return [tuple(row) for row in cursor.fetchall()]
        return cursor.rowcount


def rows_of(
    using: str, table: str, columns: Sequence[str], where: str, ids: Sequence[Any]
) -> list[list[Any]]:
    """SELECT COLUMNS FROM TABLE WHERE WHERE IN (IDS), batched."""
    cols = ", ".join(qn(using, c) for c in columns)
    out: list[list[Any]] = []
    for chunk in batches(sorted(set(ids))):
        out.extend(
            list(row)
            for row in execute(
                using,
                f"SELECT {cols} FROM {qn(using, table)} WHERE {qn(using, where)} "
                f"IN ({marks(len(chunk))})",
                chunk,
            )
        )
    return out


def delete_where(using: str, table: str, column: str, ids: Iterable[Any]) -> int:
    deleted = 0
    for chunk in batches(sorted(set(ids))):
        deleted += execute(
            using,
            f"DELETE FROM {qn(using, table)} WHERE {qn(using, column)} IN ({marks(len(chunk))})",
            chunk,
        )
    return deleted


def case_update(
    using: str, table: str, column: str, mapping: dict[Any, Any], key: str | None = None
) -> int:
    """UPDATE TABLE SET COLUMN = CASE KEY WHEN k THEN v ... END WHERE KEY IN (ks); batched.

    KEY defaults to COLUMN (repoint references); pass the primary key to set per-row values.
    """
    key = key or column
    changed = 0
    for chunk in batches(sorted(mapping.items())):
        whens = " ".join("WHEN %s THEN %s" for _ in chunk)
        params: list[Any] = [x for pair in chunk for x in pair]
        params.extend(k for k, _ in chunk)
        changed += execute(
            using,
            f"UPDATE {qn(using, table)} SET {qn(using, column)} = CASE {qn(using, key)} {whens} "
            f"END WHERE {qn(using, key)} IN ({marks(len(chunk))})",
            params,
        )
    return changed


def update_rows(
    using: str, table: str, key: str, columns: Sequence[str], rows: Mapping[Any, Sequence[Any]]
) -> int:
    """UPDATE TABLE SET each of COLUMNS = CASE KEY WHEN k THEN v ... END WHERE KEY IN (ks);
    ROWS maps a key to its new values (in the order of COLUMNS). One statement per batch, built
    without the ORM (whose bulk_update resolves an expression per row and column)."""
    changed = 0
    for chunk in batches(sorted(rows.items(), key=lambda item: item[0])):
        sets: list[str] = []
        params: list[Any] = []
        for i, column in enumerate(columns):
            sets.append(
                f"{qn(using, column)} = CASE {qn(using, key)} "
                + " ".join("WHEN %s THEN %s" for _ in chunk)
                + " END"
            )
            params.extend(x for k, values in chunk for x in (k, values[i]))
        params.extend(k for k, _ in chunk)
        changed += execute(
            using,
            f"UPDATE {qn(using, table)} SET {', '.join(sets)} "
            f"WHERE {qn(using, key)} IN ({marks(len(chunk))})",
            params,
        )
    return changed
