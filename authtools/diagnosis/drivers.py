"""A database driver that is not installed: which alias needs it and the command that installs it.

Django imports the backend of the default database while it loads the models (a model class
body asks ``connection.features``), so a missing psycopg or mysqlclient makes ``django.setup()``
fail with ImproperlyConfigured("Error loading psycopg2 or psycopg module") raised from an
ImportError, deep inside Django's source. ``missing_driver()`` recognises that failure and says
what to install instead: the package's extra that brings the driver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from authtools import DISTRIBUTION
from authtools.diagnosis import catalog
from authtools.diagnosis.boot import BootFailure
from authtools.diagnosis.context import Context
from authtools.diagnosis.report import Finding


@dataclass(frozen=True)
class Driver:
    family: str  # the backend family, e.g. 'postgresql'
    extra: str | None  # the extra of authtools.DISTRIBUTION that installs it
    requirement: str  # what the extra installs, e.g. 'psycopg[binary]'
    note: str = ""


DRIVERS = {
    "postgresql": Driver("postgresql", "postgresql", "psycopg[binary]"),
    "postgis": Driver("postgresql", "postgresql", "psycopg[binary]"),
    "mysql": Driver(
        "mysql",
        "mysql",
        "mysqlclient",
        " (mysqlclient builds from source: it needs the MariaDB/MySQL client headers and "
        "pkg-config, e.g. `apt-get install libmariadb-dev pkg-config`)",
    ),
    "oracle": Driver("oracle", None, "oracledb"),
}


def install_command(driver: Driver) -> str:
    """The driver itself: it installs from the package index as printed (the extra of this
    package's distribution brings the same requirement, and is named in the hint)."""
    return f'python -m pip install "{driver.requirement}"'


def import_errors(error: BaseException | None) -> list[ImportError]:
    """The ImportErrors behind ERROR (itself, its causes and contexts), first raised first."""
    found: list[ImportError] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ImportError):
            found.insert(0, error)
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return found


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _backend_alias(tb: str) -> tuple[str, str] | None:
    """(alias, ENGINE) of the first database whose backend module the traceback went through."""
    from django.conf import settings

    databases: Any = getattr(settings, "DATABASES", {})
    if not isinstance(databases, dict):
        return None
    for alias, config in databases.items():
        engine = config.get("ENGINE") if isinstance(config, dict) else None
        if not isinstance(engine, str) or not engine:
            continue
        if f"{os.sep}{engine.replace('.', os.sep)}{os.sep}base.py" in tb:
            return str(alias), str(engine)
    return None


def missing_driver(ctx: Context, failure: BootFailure) -> Finding | None:
    """E505 when the boot FAILURE is a database backend that cannot import its driver."""
    from django.core.exceptions import ImproperlyConfigured

    causes = import_errors(failure.error)
    if not isinstance(failure.error, ImproperlyConfigured | ImportError) or not causes:
        return None
    found = _backend_alias(failure.traceback)
    if found is None:
        return None
    alias, engine = found
    driver = DRIVERS.get(engine.rpartition(".")[2])
    detail = "; ".join(f"{type(c).__name__}: {_one_line(str(c))}" for c in causes)
    summary = _one_line(failure.summary)
    if summary != detail:
        detail = f"{summary} ({detail})"
    message = (
        f"The database driver of DATABASES[{alias!r}] (ENGINE {engine!r}) cannot be imported "
        f"in this Python ({_python()}): {detail}."
    )
    if driver is None:
        return catalog.finding(
            "authtools.E505",
            message,
            f"Install the driver that {engine!r} imports "
            f"({', '.join(repr(c.name) for c in causes if c.name) or 'see above'}) into this "
            "Python, as that backend's documentation says.",
        )
    if driver.extra is None:
        hint = f"Install {driver.requirement!r} into this Python."
    else:
        hint = (
            f"Install {driver.requirement!r} into this Python (the {driver.extra!r} extra of "
            f"{DISTRIBUTION} brings the same){driver.note}."
        )
    return catalog.finding("authtools.E505", message, hint, fix_command=install_command(driver))


def _python() -> str:
    import sys

    return sys.executable or "python"
