"""An advisory lock per database, so that two procedures never run at once on it."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager


class LockBusy(Exception):
    pass


@contextmanager
def advisory_lock(database: str, name: str) -> Iterator[None]:
    """PostgreSQL: pg_try_advisory_lock; MySQL/MariaDB: GET_LOCK; SQLite: the file lock of its
    write transactions is enough. Raises LockBusy when another session holds it."""
    from django.db import connections

    connection = connections[database]
    vendor = connection.vendor
    # PostgreSQL's advisory locks are per database; MySQL's GET_LOCK names are server-wide, so
    # the key carries the database name (hashed: lock names are limited to 64 characters).
    database_name = str(connection.settings_dict.get("NAME"))
    key = f"authtools:{name}:{zlib.crc32(database_name.encode()):08x}"
    if vendor == "postgresql":
        lock_id = zlib.crc32(key.encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            if not cursor.fetchone()[0]:
                raise LockBusy(f"another authtools procedure holds the lock {key!r}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
    elif vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", [key])
            if cursor.fetchone()[0] != 1:
                raise LockBusy(f"another authtools procedure holds the lock {key!r}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [key])
    else:
        yield


def lock_tables(database: str, tables: list[str]) -> None:
    """Inside a transaction: PostgreSQL locks TABLES (ACCESS EXCLUSIVE) until it ends, so that
    another session, even one that only reads them, waits. Elsewhere nothing: MySQL's LOCK
    TABLES would commit the transaction, and SQLite's first write locks the whole file."""
    from django.db import connections

    connection = connections[database]
    if connection.vendor != "postgresql" or not tables:
        return
    names = ", ".join(connection.ops.quote_name(t) for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
