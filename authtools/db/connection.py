"""Whether a database answers, said in one line that names the alias and the server.

The check opens its own short-lived connection with a connect timeout (AUTHTOOLS_CONNECT_TIMEOUT
seconds, 5 by default), so a server that accepts TCP and never answers costs seconds, not the
minutes of the driver's default. The project's DATABASES, and Django's own connection used once
the check passed, are left as the project configured them.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

DEFAULT_CONNECT_TIMEOUT = 5
TIMEOUT_SETTING = "AUTHTOOLS_CONNECT_TIMEOUT"
_DUMMY_ENGINE = "django.db.backends.dummy"  # what Django puts where ENGINE is missing


class TimeoutSettingError(ValueError):
    """AUTHTOOLS_CONNECT_TIMEOUT is set to something that is not a positive number."""


def connect_timeout() -> int:
    """Seconds a connection check waits for the server: the AUTHTOOLS_CONNECT_TIMEOUT environment
    variable, else the setting of that name, else 5. Whole seconds (rounded up), at least 1."""
    raw: Any = os.environ.get(TIMEOUT_SETTING)
    where = "the environment variable"
    if raw is None or raw == "":
        from django.conf import settings

        raw = getattr(settings, TIMEOUT_SETTING, None)
        where = "the setting"
    if raw is None:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        seconds = float(raw)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(raw)
    except (TypeError, ValueError):
        raise TimeoutSettingError(
            f"{where} {TIMEOUT_SETTING} is {raw!r}, not a number of seconds above 0 (e.g. 5)"
        ) from None
    return max(1, math.ceil(seconds))


def describe_server(settings_dict: dict[str, Any]) -> str:
    """'postgresql database 'shop' on 127.0.0.1:5432 as 'postgres'' or 'sqlite3 file '/x.db''."""
    engine = str(settings_dict.get("ENGINE", "")).rsplit(".", 1)[-1]
    name = settings_dict.get("NAME")
    if engine == "sqlite3":
        return f"sqlite3 file {str(name)!r}"
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT")
    server = f"{host}:{port}" if port else str(host)
    user = settings_dict.get("USER")
    as_user = f" as {user!r}" if user else ""
    return f"{engine} database {name!r} on {server}{as_user}"


def database_choices() -> tuple[str, ...] | None:
    """The aliases of DATABASES for an option's ``choices``; None when DATABASES is so broken
    that Django cannot list them (the connection check then says what is wrong)."""
    from django.db import connections

    try:
        return tuple(connections)
    except Exception:  # DATABASES is None, a list, lacks 'default', has a non-dict entry...
        return None


def settings_problem(database: str) -> str | None:
    """What is wrong with DATABASES[DATABASE] before any driver is involved, or None."""
    from django.conf import settings

    databases = getattr(settings, "DATABASES", None)
    if not isinstance(databases, dict):
        return (
            f"settings.DATABASES is {_short(databases)}, not a dict of database aliases "
            "such as {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}"
        )
    if not databases:  # Django reads {} as {'default': {}}, and makes it so once it looked
        databases = {"default": {}}
    if database not in databases:
        known = ", ".join(repr(alias) for alias in databases)
        return f"settings.DATABASES has no {database!r} entry (it has {known})"
    entry = databases[database]
    if not isinstance(entry, dict):
        return f"settings.DATABASES[{database!r}] is {_short(entry)}, not a dict"
    engine = entry.get("ENGINE")
    if not engine or engine in (_DUMMY_ENGINE, "django.db.backends."):
        return (
            f"settings.DATABASES[{database!r}] has no ENGINE (e.g. 'django.db.backends.postgresql')"
        )
    if not isinstance(engine, str):
        return (
            f"settings.DATABASES[{database!r}]['ENGINE'] is {_short(engine)}, not a dotted path "
            "such as 'django.db.backends.postgresql'"
        )
    return None


def backend_problem(database: str) -> str | None:
    """settings_problem(), or why Django cannot load the backend of DATABASE (an ENGINE that
    names no backend, a driver that is not installed). Nothing is connected."""
    from django.db import connections

    problem = settings_problem(database)
    if problem:
        return problem
    try:
        connections[database]  # builds the backend's wrapper; does not connect
    except Exception as exc:
        return f"settings.DATABASES[{database!r}] cannot be used: {_one_line(exc)}"
    return None


def connection_problem(database: str) -> str | None:
    """None when DATABASE is configured and answers within the connect timeout; else one line
    saying what is wrong: the setting, or "Cannot connect to the database 'default' (server):
    driver message"."""
    from django.db import connections

    problem = backend_problem(database)
    if problem:
        return problem
    try:
        timeout = connect_timeout()
    except TimeoutSettingError as exc:
        return str(exc)
    connection = connections[database]
    started = time.monotonic()
    try:
        _probe(connection, timeout)
    except Exception as exc:  # any driver error: bad host, password, name, file, timeout
        waited = time.monotonic() - started
        detail = _one_line(exc)
        if connection.vendor in ("postgresql", "mysql") and waited >= timeout - 0.5:
            effective = max(timeout, 2) if connection.vendor == "postgresql" else timeout
            detail = f"no answer within {effective} s ({TIMEOUT_SETTING} sets how long to wait)"
        elif connection.vendor == "sqlite" and "locked" in detail:
            detail = f"{detail} (waited {timeout} s; {TIMEOUT_SETTING} sets how long to wait)"
        return (
            f"Cannot connect to the database {database!r} "
            f"({describe_server(connection.settings_dict)}): {detail}"
        )
    return None


def refusal(database: str) -> str | None:
    """None when DATABASE answers; else connection_problem() and the next step: fixing the
    setting when DATABASES (or AUTHTOOLS_CONNECT_TIMEOUT) cannot be used as written, checking
    the file of a SQLite database, else starting the server or fixing DATABASES."""
    from django.db import connections

    problem = backend_problem(database)
    if problem:
        return f"{problem}: fix DATABASES in the settings"
    try:
        connect_timeout()
    except TimeoutSettingError as exc:
        return f"{exc}: set it to a number of seconds above 0, or remove it"
    problem = connection_problem(database)
    if problem is None:
        return None
    if connections[database].vendor == "sqlite":
        return f"{problem}; check the file DATABASES[{database!r}]['NAME']"
    return f"{problem}; start it or fix DATABASES"


def _probe(connection: Any, timeout: int) -> None:
    """Open a connection of our own with the backend's connect timeout, read one row, close.

    The backend's own connection parameters are used (Django's get_connection_params), plus
    ``connect_timeout`` (PostgreSQL, MySQL/MariaDB) or ``timeout`` (SQLite: how long to wait for
    a locked file); SQLite reads its schema, which fails on a file that is not a database.
    Other backends are checked through Django's connection, without a timeout of ours.
    """
    vendor = connection.vendor
    if vendor not in ("postgresql", "mysql", "sqlite"):
        connection.ensure_connection()
        return
    params = dict(connection.get_connection_params())
    params["timeout" if vendor == "sqlite" else "connect_timeout"] = timeout
    raw = connection.Database.connect(**params)
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master" if vendor == "sqlite" else "SELECT 1"
            )
            cursor.fetchall()
        finally:
            cursor.close()
    finally:
        raw.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
