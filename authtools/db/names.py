"""The names Django and the backends generate for indexes, constraints and sequences, read
back from a name: which table and columns it was made for (whatever the table is called now),
and what PostgreSQL would call an object of a table."""

from __future__ import annotations

import re
from typing import Any


def is_fk_suffix(suffix: str, ref_column: str) -> bool:
    return (
        suffix.startswith("_fk_")
        and suffix.endswith(f"_{ref_column}")
        and len(suffix) > len(f"_fk__{ref_column}")
    )


_DIGEST = re.compile(r"_([0-9a-f]{8})(?=_|$)")


def generated_name(
    connection: Any, name: str, columns: list[str], table: str, fk_suffixes: tuple[str, ...] = ()
) -> tuple[str, list[str], str] | None:
    """(table, columns, suffix) that Django's ``_create_index_name`` made NAME from, or None when
    it did not make it. The table need not be TABLE: the digest in the name is checked against
    the table part read from the name itself, so names made under an earlier table name are
    recognised (the columns are COLUMNS, or for a single column any earlier column name). A
    name Django shortened to the backend's limit holds no whole table name: it is recognised
    only when made under TABLE (with one of FK_SUFFIXES for a foreign key)."""
    from django.db.backends.utils import names_digest

    joined = "_".join(columns)
    for match in _DIGEST.finditer(name):
        prefix, digest, suffix = name[: match.start()], match.group(1), name[match.end() :]
        if joined and prefix.endswith(f"_{joined}"):
            made_table = prefix[: -len(joined) - 1]
            if made_table and names_digest(made_table, *columns, length=8) == digest:
                return (
                    made_table,
                    list(columns),
                    _whole(connection, name, made_table, columns, suffix, fk_suffixes),
                )
        if len(columns) == 1:
            # The column itself was renamed since (the name keeps the earlier one).
            for split in (
                i for i, ch in enumerate(prefix) if ch == "_" and 0 < i < len(prefix) - 1
            ):
                made_table, column = prefix[:split], prefix[split + 1 :]
                if names_digest(made_table, column, length=8) == digest:
                    return (
                        made_table,
                        [column],
                        _whole(connection, name, made_table, [column], suffix, fk_suffixes),
                    )
    # Shortened names: only the current table can be checked.
    editor = connection.schema_editor()
    for suffix in ("", "_like", "_uniq", *fk_suffixes):
        if editor._create_index_name(table, columns, suffix=suffix) == name:
            return table, list(columns), suffix
    return None


def _whole(
    connection: Any,
    name: str,
    table: str,
    columns: list[str],
    suffix: str,
    fk_suffixes: tuple[str, ...],
) -> str:
    """SUFFIX as read from NAME, or the foreign key suffix of FK_SUFFIXES that Django cut
    short to fit the backend's limit: a whole table and column name with a cut suffix
    ('wagtaildocs_document_uploaded_by_user_id_17258b41_fk_auth_user' on PostgreSQL)."""
    editor = connection.schema_editor()
    for whole in fk_suffixes:
        if (
            whole != suffix
            and whole.startswith(suffix)
            and editor._create_index_name(table, columns, suffix=whole) == name
        ):
            return whole
    return suffix


# PostgreSQL's identifiers hold at most NAMEDATALEN - 1 bytes.
_PG_NAME_BYTES = 63


def pg_object_name(name1: str, name2: str | None, label: str) -> str:
    """The name PostgreSQL chooses for a primary key ('pkey'), a unique column ('key') or a
    serial or identity sequence ('seq') of table NAME1 (column NAME2): makeObjectName() in
    PostgreSQL's indexcmds.c, which shortens the longer of the two names until all fits."""
    one, two = name1.encode(), (name2 or "").encode()
    avail = _PG_NAME_BYTES - len(label) - 1 - (1 if name2 is not None else 0)
    n1, n2 = len(one), len(two)
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    first = one[:n1].decode(errors="ignore")
    second = two[:n2].decode(errors="ignore")
    return f"{first}_{second}_{label}" if name2 is not None else f"{first}_{label}"


def pg_auto_name_of(name: str, table: str, column: str | None, label: str) -> bool:
    """Whether NAME is the name PostgreSQL chose for TABLE (COLUMN), or for the same column
    under an earlier table name ('<any table>_<column>_<label>', unshortened)."""
    if name == pg_object_name(table, column, label):
        return True
    tail = f"_{column}_{label}" if column is not None else f"_{label}"
    return name.endswith(tail) and len(name) > len(tail) and len(name.encode()) < _PG_NAME_BYTES
