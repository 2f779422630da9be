"""Locks: an advisory lock per database, so that two procedures never run at once on it, and
the table locks a procedure takes (PostgreSQL: its transaction's, up front, in one order;
MariaDB: around each table rename, all or none), with a lock timeout and bounded retries, so
that it neither deadlocks with the application's traffic nor makes the application wait long
behind it. MariaDB's table renames run under those locks as ALTER TABLE statements, one a
table (its indexes renamed in the same statement)."""

from __future__ import annotations

import contextlib
import math
import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authtools.db.schema import Rename

DEFAULT_LOCK_TIMEOUT = 5.0  # seconds an application query may wait behind a procedure
DEFAULT_LOCK_ATTEMPTS = 4
# PostgreSQL: lock_not_available (lock_timeout) and deadlock_detected.
_RETRYABLE_PG = {"55P03", "40P01"}
# MySQL/MariaDB: lock wait timeout (row and metadata locks), deadlock.
_RETRYABLE_MYSQL = {1205, 1213}


class LockBusy(Exception):
    pass


class LockTimeout(Exception):
    """The locks could not be taken within the timeout, after every attempt. The statement
    waiting for them did not run; ``changed_nothing`` says whether its step had run none."""

    changed_nothing = False


class TableLocks(list[str]):
    """Tables a transaction locks before anything else, in this order: tables that reference
    others first (an INSERT locks its table, then the referenced row's table for its foreign
    key check: taking them in the same order cannot deadlock with it). TIMEOUT bounds each
    wait; ATTEMPTS bounds the retries (with backoff); LOG says so; ``waits`` records them."""

    def __init__(
        self,
        tables: Iterable[str] = (),
        *,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        attempts: int = DEFAULT_LOCK_ATTEMPTS,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(tables)
        self.timeout = timeout
        self.attempts = attempts
        self.log = log
        self.waits: list[float] = []

    @property
    def longest_wait(self) -> float:
        return max(self.waits, default=0.0)

    @classmethod
    def of(cls, tables: Iterable[str]) -> TableLocks:
        """TABLES when they are a TableLocks; else those tables with the default settings."""
        return tables if isinstance(tables, TableLocks) else cls(tables)

    def say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt ATTEMPT + 1: 0.5, 1, 2, ... (at most 8)."""
    return float(min(0.5 * 2 ** (attempt - 1), 8.0))


def retryable(exc: BaseException) -> bool:
    """Whether EXC is a lock timeout or a deadlock (the statement did nothing: retry it)."""
    cause = exc.__cause__ or exc
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if code in _RETRYABLE_PG:
        return True
    args: tuple[Any, ...] = tuple(getattr(cause, "args", ()))
    return bool(args) and args[0] in _RETRYABLE_MYSQL


@contextmanager
def advisory_lock(database: str, name: str) -> Iterator[None]:
    """PostgreSQL: pg_try_advisory_lock; MySQL/MariaDB: GET_LOCK; SQLite: the file lock of its
    write transactions is enough. Raises LockBusy when another session holds it. Taken again
    inside itself (the same lock, the same connection), it only counts: no statement."""
    from django.db import connections

    connection = connections[database]
    vendor = connection.vendor
    # PostgreSQL's advisory locks are per database; MySQL's GET_LOCK names are server-wide, so
    # the key carries the database name (hashed: lock names are limited to 64 characters).
    database_name = str(connection.settings_dict.get("NAME"))
    key = f"authtools:{name}:{zlib.crc32(database_name.encode()):08x}"
    held: dict[str, int] = connection.__dict__.setdefault("_authtools_advisory_locks", {})
    if held.get(key) or vendor not in ("postgresql", "mysql"):
        held[key] = held.get(key, 0) + 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    if vendor == "postgresql":
        lock_id = zlib.crc32(key.encode())
        take, free = "SELECT pg_try_advisory_lock(%s)", "SELECT pg_advisory_unlock(%s)"
        params: list[Any] = [lock_id]
    else:
        take, free, params = "SELECT GET_LOCK(%s, 0)", "SELECT RELEASE_LOCK(%s)", [key]
    with connection.cursor() as cursor:
        cursor.execute(take, params)
        if cursor.fetchone()[0] not in (True, 1):
            raise LockBusy(f"another authtools procedure holds the lock {key!r}")
    held[key] = 1
    try:
        yield
    finally:
        held[key] = 0
        with connection.cursor() as cursor:
            cursor.execute(free, params)


def lock_tables(database: str, tables: list[str]) -> None:
    """Inside a transaction: PostgreSQL locks TABLES (ACCESS EXCLUSIVE, in the order given, in
    one statement) until it ends, so that another session, even one that only reads them,
    waits, with ``lock_timeout`` set for the transaction; a timeout or deadlock rolls back to a
    savepoint (releasing what was taken), waits and tries again, up to the attempts of a
    ``TableLocks`` (then LockTimeout). Tables that do not exist are left out. Elsewhere
    nothing: MySQL's LOCK TABLES would commit the transaction, and SQLite's first write locks
    the whole file."""
    from django.db import connections

    from authtools.db.schema import quote

    connection = connections[database]
    if connection.vendor != "postgresql" or not tables:
        return
    tables = TableLocks.of(tables)
    timeout, attempts, log, waits = tables.timeout, tables.attempts, tables.say, tables.waits
    present = _existing(connection, list(tables))
    if not present:
        return
    # One round trip an attempt: a savepoint to roll back to (it releases what was taken), the
    # transaction's lock_timeout (a number of milliseconds), the locks.
    statement = (
        "SAVEPOINT authtools_lock;\n"
        f"SET LOCAL lock_timeout = '{max(1, math.ceil(timeout * 1000))}ms';\n"
        f"LOCK TABLE {', '.join(quote(connection, t) for t in present)} IN ACCESS EXCLUSIVE MODE"
    )
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        except Exception as exc:
            # (if this fails too, the next attempt says why; the transaction is rolled back)
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT authtools_lock")
            waits.append(time.monotonic() - started)
            if not retryable(exc):
                raise
            if attempt == attempts:
                raise LockTimeout(
                    f"could not lock {', '.join(present)} within {timeout:g} s in {attempts} "
                    "attempts (other transactions hold them: find them in pg_stat_activity, or "
                    "run again at a quieter time or with a longer --lock-timeout)"
                ) from exc
            delay = backoff(attempt)
            log(
                f"Lock wait: {', '.join(present)} not free after {waits[-1]:.1f} s (attempt "
                f"{attempt} of {attempts}); retrying in {delay:g} s."
            )
            time.sleep(delay)
            continue
        waits.append(time.monotonic() - started)
        return


def nowait(connection: Any) -> bool:
    """Whether LOCK TABLES takes NOWAIT here (MariaDB 10.3+; MySQL waits)."""
    return bool(getattr(connection, "mysql_is_mariadb", False))


def lock_tables_sql(connection: Any, tables: list[str]) -> str:
    """MySQL/MariaDB: ``LOCK TABLES`` of TABLES (WRITE); on MariaDB with ``NOWAIT``."""
    from authtools.db.schema import quote

    locks = ", ".join(f"{quote(connection, t)} WRITE" for t in tables)
    return f"LOCK TABLES {locks}{' NOWAIT' if nowait(connection) else ''}"


def locked_sql(
    connection: Any, tables: list[str], statements: list[str], *, known: bool = False
) -> list[str]:
    """MySQL/MariaDB: STATEMENTS between ``LOCK TABLES`` (TABLES that exist, WRITE) and
    ``UNLOCK TABLES`` (run by ``run_locked``: the application's new transactions wait until
    UNLOCK; a bare RENAME TABLE of a table that an open transaction's insert references waits
    for innodb_lock_wait_timeout instead, and under traffic failed every attempt: benchmarks/
    README.md). LOCK TABLES commits an open transaction: only for steps run outside one.
    KNOWN: TABLES all exist (not asked). Elsewhere STATEMENTS as they are."""
    if connection.vendor != "mysql":
        return list(statements)
    present = tables if known else _existing(connection, tables)
    if not present:
        return list(statements)
    return [lock_tables_sql(connection, present), *statements, "UNLOCK TABLES"]


def run_locked(connection: Any, locks: Sequence[str], statements: list[str]) -> None:
    """MySQL/MariaDB: run STATEMENTS with the tables of LOCKS (a ``TableLocks``) that exist
    write-locked, as one unit: ``locked_sql``'s LOCK TABLES, STATEMENTS, UNLOCK TABLES.

    MariaDB takes the locks of one LOCK TABLES sorted by table name, holding those it has while
    it waits for the next: an application transaction that inserted into a table referencing
    the user table (holding it) and then touched the user table (held by the swap, waiting for
    the first) was a deadlock victim. So the swap never waits while it holds a lock: ``LOCK
    TABLES ... NOWAIT`` takes them all or none, and is sent again every few milliseconds for up
    to the timeout of LOCKS; then, as on PostgreSQL, it says so, backs off and tries again, up
    to its attempts (then LockTimeout, nothing changed). A statement of the unit that times out
    (the rename waits for readers of the table's definition) unlocks and tries the unit again
    the same way. MySQL (no NOWAIT) waits for the locks instead."""
    locks = TableLocks.of(locks)
    timeout, attempts, log, waits = locks.timeout, locks.attempts, locks.say, locks.waits
    present = _existing(connection, list(locks))
    if not present:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        return
    take = lock_tables_sql(connection, present)
    with connection.cursor() as cursor:
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            locked = False
            try:
                _take(cursor, take, started + timeout, poll=nowait(connection))
                locked = True
                waits.append(time.monotonic() - started)
                for sql in statements:
                    cursor.execute(sql)
                cursor.execute("UNLOCK TABLES")
                return
            except Exception as exc:
                with contextlib.suppress(Exception):
                    cursor.execute("UNLOCK TABLES")
                if not retryable(exc):
                    raise
                waited = time.monotonic() - started
                if locked:
                    waits[-1] = waited
                else:
                    waits.append(waited)
                if attempt == attempts:
                    raise LockTimeout(
                        f"could not lock {', '.join(present)} within {timeout:g} s in "
                        f"{attempts} attempts (other transactions hold them: find them in "
                        "information_schema.innodb_trx, or run again at a quieter time or with "
                        "a longer --lock-timeout)"
                    ) from exc
                delay = backoff(attempt)
                log(
                    f"Lock wait: {', '.join(present)} not free after {waited:.1f} s (attempt "
                    f"{attempt} of {attempts}); retrying in {delay:g} s."
                )
                time.sleep(delay)


def _take(cursor: Any, statement: str, deadline: float, *, poll: bool) -> None:
    """Run the LOCK TABLES STATEMENT; with POLL (NOWAIT), again every 1-10 ms (jittered, not
    in step with the application's requests) while the locks are busy, until DEADLINE."""
    interval = 0.001
    while True:
        try:
            cursor.execute(statement)
            return
        except Exception as exc:
            if not poll or not retryable(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(min(interval * random.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))
        interval = min(interval * 2, 0.01)


def run_retried(connection: Any, statements: list[str], locks: Sequence[str] = ()) -> None:
    """Run STATEMENTS. MySQL/MariaDB (no transaction around DDL): when a statement times out
    waiting for its locks (it did nothing then), STATEMENTS are tried again from the first,
    with backoff, up to the attempts of LOCKS (a ``TableLocks``), saying so."""
    locks = TableLocks.of(locks)
    timeout, attempts, log = locks.timeout, locks.attempts, locks.say
    with connection.cursor() as cursor:
        for attempt in range(1, attempts + 1):
            try:
                for sql in statements:
                    cursor.execute(sql)
                return
            except Exception as exc:
                if connection.vendor != "mysql" or not retryable(exc):
                    raise
                if attempt == attempts:
                    raise LockTimeout(
                        f"the locks of {sql!r} were not free within {timeout:g} s in "
                        f"{attempts} attempts; run again at a quieter time"
                    ) from exc
                delay = backoff(attempt)
                log(
                    f"Lock wait: {sql!r} timed out (attempt {attempt} of {attempts}); "
                    f"retrying in {delay:g} s."
                )
                time.sleep(delay)


def mysql_alters(
    connection: Any, renames: list[Rename], *, check: bool
) -> list[tuple[str, list[Rename]]]:
    """MySQL/MariaDB: RENAMES as ALTER TABLE statements, one a table: a table rename and the
    renames of its indexes and columns next to it in RENAMES go in one statement (each DDL
    statement costs tens of milliseconds whatever it does). CHECK: leave out the renames
    already done (their source is gone), for a step run again."""
    from authtools.db import snapshot
    from authtools.db.schema import exists, quote, rename_sql

    groups: list[tuple[str, str, list[Rename]]] = []  # (table now, table after, renames)
    for r in renames:
        last = groups[-1] if groups else None
        if r.kind == "table":
            if check and not exists(connection, "table", r.old, ""):
                continue
            if last and last[0] == r.old and all(g.kind != "table" for g in last[2]):
                groups[-1] = (last[0], r.new, [*last[2], r])
            else:
                groups.append((r.old, r.new, [r]))
            continue
        joins = last is not None and r.table in (last[0], last[1])
        table = last[0] if last is not None and joins else r.table
        if check and not exists(connection, r.kind, r.old, table):
            continue
        if last is not None and joins:
            last[2].append(r)
        else:
            groups.append((r.table, r.table, [r]))
    alters = []
    for table, _, group in groups:
        if len(group) == 1:
            alters.append((rename_sql(connection, group[0])[0], group))
            continue
        clauses = [
            f"RENAME TO {quote(connection, r.new)}"
            if r.kind == "table"
            else f"RENAME {r.kind.upper()} {quote(connection, r.old)} TO {quote(connection, r.new)}"
            for r in group
        ]
        statement = f"ALTER TABLE {quote(connection, table)} {', '.join(clauses)}"
        first = group[0]  # (the snapshot follows the others: follow_alter)
        snapshot.expect(connection, [statement], first.kind, first.table, first.old, first.new)
        alters.append((statement, group))
    return alters


def follow_alter(connection: Any, group: list[Rename]) -> None:
    """After an ALTER of ``mysql_alters`` ran: the catalog snapshot (when pinned) follows it. It
    performed the renames of GROUP in their order: the first was registered with it (applied
    when it ran), the others are applied here (a table only while its old name is known)."""
    from authtools.db import snapshot

    if len(group) < 2 or not snapshot.is_pinned(connection):
        return
    snap = snapshot.current(connection)
    for r in group[1:]:
        if r.kind != "table" or r.old in snap.columns:
            snap.apply(r.kind, r.table, r.old, r.new)


def _existing(connection: Any, tables: list[str]) -> list[str]:
    """TABLES that exist, in their order: from the run's catalog snapshot when the connection
    is pinned to one (no statement), else asked of the database."""
    from authtools.db import snapshot

    if snapshot.is_pinned(connection) or connection.vendor != "postgresql":
        known = snapshot.current(connection).tables
        return [t for t in tables if t in known]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) "
            "WHERE to_regclass(quote_ident(t)) IS NOT NULL ORDER BY n",
            [tables],
        )
        return [row[0] for row in cursor.fetchall()]


def session_lock_timeout(connection: Any, timeout: float) -> None:
    """MySQL/MariaDB: bound this session's waits for row locks (innodb_lock_wait_timeout) and
    metadata locks (lock_wait_timeout, what RENAME TABLE and ALTER TABLE wait for); set once
    per database session (not again before every step)."""
    if connection.vendor != "mysql":
        return
    seconds = max(1, math.ceil(timeout))
    # Remembered on the driver's connection object: a reconnect starts without it.
    if getattr(connection.connection, "_authtools_lock_wait", None) == seconds:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SET SESSION lock_wait_timeout = %s, innodb_lock_wait_timeout = %s",
            [seconds, seconds],
        )
    # (a driver connection that takes no attributes: set every time)
    with contextlib.suppress(AttributeError):
        connection.connection._authtools_lock_wait = seconds
