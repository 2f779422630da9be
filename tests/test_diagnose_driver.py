"""A missing database driver: a database finding (E505) with the command that installs it.

Django imports the default database's backend while it loads the models, so without psycopg or
mysqlclient ``django.setup()`` fails deep in Django's source and manage.py cannot start. The
driver's absence is simulated with modules on PYTHONPATH that raise ImportError when imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Project, Result
from tests.helpers import header

MISSING = {
    "postgresql": (
        "ENGINE 'django.db.backends.postgresql'",
        "ImproperlyConfigured: Error loading psycopg2 or psycopg module (ModuleNotFoundError: "
        "No module named 'psycopg'; ModuleNotFoundError: No module named 'psycopg2')",
        "Install 'psycopg[binary]' into this Python (the 'postgresql' extra of "
        "django-user-model-doctor brings the same).",
        'python -m pip install "psycopg[binary]"',
    ),
    "mysql": (
        "ENGINE 'django.db.backends.mysql'",
        "ImproperlyConfigured: Error loading MySQLdb module. Did you install mysqlclient? "
        "(ModuleNotFoundError: No module named 'MySQLdb')",
        "Install 'mysqlclient' into this Python (the 'mysql' extra of django-user-model-doctor "
        "brings the same) (mysqlclient builds from source: it needs the MariaDB/MySQL client "
        "headers and pkg-config, e.g. `apt-get install libmariadb-dev pkg-config`).",
        'python -m pip install "mysqlclient"',
    ),
}


def without_drivers(project: Project, tmp_path: Path, vendor: str, *args: str) -> Result:
    """ARGS run with TESTPROJECT_DB=VENDOR and the drivers made unimportable."""
    shim = tmp_path / "no-drivers"
    shim.mkdir(exist_ok=True)
    for module in ("psycopg", "psycopg2", "MySQLdb"):
        (shim / f"{module}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n"
        )
    path = os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])
    return project.run(*args, env=project.env(TESTPROJECT_DB=vendor, PYTHONPATH=path))


@pytest.mark.parametrize("vendor", ["postgresql", "mysql"])
def test_missing_driver_is_a_database_finding(
    project: Project, tmp_path: Path, vendor: str
) -> None:
    engine, error, hint, fix = MISSING[vendor]
    # manage.py cannot start: Django's own traceback, from inside its backend.
    crash = without_drivers(project, tmp_path, vendor, "manage.py", "check")
    assert crash.code == 1, str(crash)
    django_error = error.split(" (")[0].replace(" Did you", "\nDid you")
    assert crash.err.endswith(f"django.core.exceptions.{django_error}\n"), str(crash)

    result = without_drivers(project, tmp_path, vendor, "-m", "authtools", "diagnose")
    assert result.code == 1, str(result)
    assert result.out == (
        f"{header('accounts.User')}\n\n"
        f"ERROR authtools.E505 [database] The database driver of DATABASES['default'] ({engine}) "
        f"cannot be imported in this Python ({sys.executable}): {error}.\n"
        f"  hint: {hint}\n"
        f"  fix: {fix}\n\n"
        "1 error, 0 warnings, 0 infos.\n"
    )
    manage_py = project.path / "manage.py"
    assert result.err == (
        f"Settings: testproject.settings (from {manage_py}; --settings chooses another)\n"
    )
