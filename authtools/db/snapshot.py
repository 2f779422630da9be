"""One catalog snapshot per run (the snapshot itself and its readers: ``authtools.db.introspect``).

Inside ``pinned(connection)`` (a procedure's run) one snapshot serves every question: the
renames authtools itself runs through ``schema.rename_sql`` are applied to it as they execute,
any other DDL on the connection makes it read again, and so does a transaction that ended
without committing them. While pinned, Django's own ``connection.introspection.table_names()``
(the migration recorder's ``has_table``, the loader) answers from the snapshot too, when one is
current: no catalog query either; so does MySQL's ``get_storage_engine()``, which Django's schema
editor asks once per foreign key. Outside, ``current(connection)`` reads a new one each time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from authtools.db.introspect import Constraint as Constraint
from authtools.db.introspect import ConstraintKind as ConstraintKind
from authtools.db.introspect import Sequence as Sequence
from authtools.db.introspect import Snapshot as Snapshot
from authtools.db.introspect import read as read

# --- one snapshot per run ---------------------------------------------------------------------

_DDL = re.compile(r"^\s*(ALTER|CREATE|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)


class _Pin:
    """The snapshot of one connection while pinned, and the statements known to rename."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.depth = 0
        self.stale = False  # made stale by DDL this module did not expect
        # statement -> (kind, table, old, new), registered by schema.rename_sql
        self.expected: dict[str, tuple[str, str, str, str] | None] = {}

    def __call__(self, execute: Any, sql: Any, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if isinstance(sql, str) and _DDL.match(sql):
            self.after_ddl(context["connection"], sql)
        return result

    def after_ddl(self, connection: Any, sql: str) -> None:
        if self.snapshot is None:
            return
        statement = sql.strip().rstrip(";")
        # Several expected statements sent at once (``batch()``) count one by one.
        parts = [statement] if statement in self.expected else statement.split(BATCH)
        if any(part.strip().rstrip(";") not in self.expected for part in parts):
            self.snapshot = None  # somebody else's DDL: read again when asked
            self.stale = True
            return
        for part in parts:
            rename = self.expected[part.strip().rstrip(";")]
            if rename is not None:
                self.snapshot.apply(*rename)
        if connection.in_atomic_block and not self.snapshot.pending:
            snap = self.snapshot
            snap.pending = True

            def committed() -> None:
                snap.pending = False

            connection.on_commit(committed)


def _pin(connection: Any) -> _Pin | None:
    pin = getattr(connection, "_authtools_catalog_pin", None)
    return pin if isinstance(pin, _Pin) and pin.depth > 0 else None


@contextmanager
def pinned(connection: Any) -> Iterator[None]:
    """Within: one snapshot answers every catalog question on CONNECTION (see the module)."""
    pin = getattr(connection, "_authtools_catalog_pin", None)
    if not isinstance(pin, _Pin):
        pin = _Pin()
        connection._authtools_catalog_pin = pin
    pin.depth += 1
    if pin.depth == 1:
        connection.execute_wrappers.append(pin)
        introspection = connection.introspection
        original = introspection.table_names

        def answering() -> Snapshot | None:
            # The snapshot when it is current (read now if none was read yet); None after
            # somebody else's DDL (a migration run by Django's executor): ask the database.
            return None if pin.stale and pin.snapshot is None else current(connection)

        def table_names(cursor: Any = None, include_views: bool = False) -> list[str]:
            snap = answering()
            if snap is None:
                return list(original(cursor, include_views))
            return sorted(
                t for t, kind in snap.kinds.items() if kind == "t" or (include_views and kind)
            )

        introspection.table_names = table_names
        asked = getattr(introspection, "get_storage_engine", None)
        if asked is not None:  # MySQL/MariaDB: Django's schema editor asks it per foreign key

            def get_storage_engine(cursor: Any, table_name: str) -> str:
                snap = answering()
                engine = snap.engines.get(table_name) if snap is not None else None
                return engine or str(asked(cursor, table_name))

            introspection.get_storage_engine = get_storage_engine
    try:
        yield
    finally:
        pin.depth -= 1
        if pin.depth == 0:
            if pin in connection.execute_wrappers:  # (an unbalanced execute_wrapper() may pop it)
                connection.execute_wrappers.remove(pin)
            connection.introspection.__dict__.pop("table_names", None)
            connection.introspection.__dict__.pop("get_storage_engine", None)
            pin.snapshot = None
            pin.stale = False
            pin.expected.clear()


def is_pinned(connection: Any) -> bool:
    return _pin(connection) is not None


BATCH = ";\n"


def batch(statements: list[str]) -> str:
    """STATEMENTS as one text to send at once (PostgreSQL runs them in one round trip); the
    snapshot follows each of them as if sent alone."""
    return BATCH.join(s.strip().rstrip(";") for s in statements)


def current(connection: Any) -> Snapshot:
    """The pinned snapshot (read now if there is none yet or it went stale), else a new one."""
    pin = _pin(connection)
    if pin is None:
        return read(connection)
    snap = pin.snapshot
    if snap is None or (snap.pending and not connection.in_atomic_block):
        # (pending out of the transaction: it ended without its commit hook, a rollback)
        pin.snapshot = snap = read(connection)
    return snap


def refresh(connection: Any) -> Snapshot:
    """A snapshot read now (the pinned one is replaced): for checking what the database holds."""
    snap = read(connection)
    pin = _pin(connection)
    if pin is not None:
        pin.snapshot = snap
    return snap


def expect(
    connection: Any, statements: list[str], kind: str, table: str, old: str, new: str
) -> None:
    """STATEMENTS perform the rename (the last one completes it): when they run on CONNECTION
    while pinned, the snapshot follows instead of being read again."""
    pin = _pin(connection)
    if pin is None:
        return
    for statement in statements[:-1]:
        pin.expected.setdefault(statement.strip().rstrip(";"), None)
    if statements:
        pin.expected[statements[-1].strip().rstrip(";")] = (kind, table, old, new)
