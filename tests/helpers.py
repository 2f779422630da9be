"""Helpers shared by the diagnosis tests: the report as a test expects it, running the
diagnosis, and the database states the database tests build for real (a project that went live
on auth.User, then switched)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import django

import authtools
from authtools.diagnosis.catalog import CATALOG
from tests.conftest import Project, Result

HEADER = f"(Django {django.get_version()}, authtools {authtools.__version__})"


# --- the report as a test expects it ---------------------------------------------------------
def finding(
    id: str, message: str, hint: str, file: str | Path | None = None, line: int | None = None
) -> dict[str, Any]:
    """A finding as the JSON report writes it (located in FILE at LINE, or nowhere)."""
    spec = CATALOG[id]
    return {
        "id": id,
        "severity": spec.severity,
        "cause": spec.cause,
        "message": message,
        "hint": hint,
        "location": None if file is None else {"file": str(file), "line": line},
        "fix_command": None,
        "because": None,
    }


def document(auth_user_model: str | None, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole JSON report."""
    return {
        "authtools_version": authtools.__version__,
        "django_version": django.get_version(),
        "auth_user_model": auth_user_model,
        "findings": findings,
    }


def header(value: str) -> str:
    """The first line of the text report."""
    return f"AUTH_USER_MODEL = {value!r} {HEADER}"


# --- running the diagnosis -------------------------------------------------------------------
def diagnose_json(project: Project, *args: str) -> Result:
    """``manage.py diagnose_user_model --no-db --format json ARGS``."""
    return project.manage("diagnose_user_model", "--no-db", "--format", "json", *args)


def diagnose_m(project: Project, *args: str) -> Result:
    """``python -m authtools diagnose`` on the project, JSON, no database."""
    return project.authtools(
        "diagnose", "--settings", "testproject.settings", "--no-db", "--format", "json", *args
    )


def assert_manage_crashes(project: Project, message: str) -> None:
    """manage.py cannot even start: Django's own error, as a traceback."""
    result = project.manage("diagnose_user_model", "--no-db")
    assert result.code == 1, str(result)
    assert result.out == ""
    assert result.err.startswith("Traceback (most recent call last):"), str(result)
    assert result.err.rstrip().endswith(message), str(result)


def not_installed(value: str) -> str:
    """Django's error when AUTH_USER_MODEL = VALUE names no installed model."""
    return (
        f"ImproperlyConfigured: AUTH_USER_MODEL refers to model {value!r} that has not "
        "been installed"
    )


def assert_no_problems(project: Project, auth_user_model: str) -> None:
    """``manage.py diagnose_user_model --no-db --fail-level warning`` exits 0 and says so."""
    result = project.manage("diagnose_user_model", "--no-db", "--fail-level", "warning")
    assert result.code == 0, str(result)
    assert result.out == f"{header(auth_user_model)}\n\nNo problems found.\n"


def findings_of(result: Result, *causes: str) -> list[dict[str, Any]]:
    """The findings of a JSON report whose cause is one of CAUSES (other probes' findings have
    their own tests)."""
    return [f for f in result.json()["findings"] if f["cause"] in causes]


def explained_findings(result: Result, *causes: str) -> list[dict[str, Any]]:
    """The findings of CAUSES, after checking that no probe left a boot failure unexplained
    (E007)."""
    findings = result.json()["findings"]
    assert "authtools.E007" not in [f["id"] for f in findings], str(result)
    return [f for f in findings if f["cause"] in causes]


def diagnose_db(
    project: Project, causes: Collection[str], *args: str
) -> tuple[int, list[dict[str, Any]]]:
    """``manage.py diagnose_user_model --format json ARGS`` on the project's database: its exit
    code and the findings of CAUSES, after checking that it ended without a traceback."""
    result = project.manage("diagnose_user_model", "--format", "json", *args)
    assert result.code in (0, 1) and "Traceback" not in result.err, str(result)
    return result.code, findings_of(result, *causes)


# --- database states -------------------------------------------------------------------------
def migrate_as_auth_user(project: Project, then: str = "") -> None:
    """Migrate the project as it was before the accounts app (AUTH_USER_MODEL = 'auth.User'),
    then run THEN in its shell (to create rows), then put the accounts app back."""
    settings = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        settings
        + "INSTALLED_APPS = [app for app in INSTALLED_APPS if app != 'accounts']\n"
        + "AUTH_USER_MODEL = 'auth.User'\n",
    )
    project.migrate()
    if then:
        project.shell(then)
    project.write("testproject/settings.py", settings)


def switch_to_accounts_user(project: Project) -> None:
    """Create the accounts.User tables by hand and record accounts.0001 as applied."""
    project.shell(
        """
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.db.migrations.recorder import MigrationRecorder

        with connection.schema_editor() as editor:
            editor.create_model(get_user_model())
        MigrationRecorder(connection).record_applied("accounts", "0001_initial")
        """
    )


def migrate_as_auth_user_then_switch(project: Project) -> None:
    """The state of a project that went live with auth.User and then set AUTH_USER_MODEL to
    accounts.User: every table was created against auth_user (before the accounts app was
    added), and the new user tables were created by hand (``migrate`` refuses:
    InconsistentMigrationHistory) and recorded as applied, as people do following folk recipes."""
    migrate_as_auth_user(project)
    switch_to_accounts_user(project)


def drop_user_table(project: Project) -> None:
    """Drop accounts_user (and its M2M tables) through the schema editor, as a bad script would."""
    project.shell(
        """
        from django.contrib.auth import get_user_model
        from django.db import connection

        with connection.cursor() as cursor:
            if connection.vendor == "mysql":
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            with connection.schema_editor() as editor:
                editor.delete_model(get_user_model())
        """
    )


# --- real-shaped projects for the fix tests ----------------------------------------------------
def settings_package(project: Project) -> None:
    """Turn testproject/settings.py into a package as cookiecutter-django has it: base.py (what
    every environment imports), local.py and production.py (``from .base import *``), and
    manage.py defaulting to testproject.settings.local."""
    base = project.read("testproject/settings.py").replace(
        "BASE_DIR = Path(__file__).resolve().parent.parent",
        "BASE_DIR = Path(__file__).resolve().parent.parent.parent",
    )
    project.remove("testproject/settings.py")
    project.write("testproject/settings/__init__.py", "")
    project.write("testproject/settings/base.py", base)
    project.write(
        "testproject/settings/local.py", "from .base import *  # noqa: F403\n\nDEBUG = True\n"
    )
    project.write(
        "testproject/settings/production.py", "from .base import *  # noqa: F403\n\nDEBUG = False\n"
    )
    project.write(
        "manage.py",
        project.read("manage.py").replace('"testproject.settings"', '"testproject.settings.local"'),
    )


def fix_commands(report: dict[str, Any]) -> list[str]:
    """The distinct fix_command lines of a JSON report, in report order."""
    return list(dict.fromkeys(f["fix_command"] for f in report["findings"] if f["fix_command"]))


def run_fix(project: Project, command: str) -> Result:
    """Run a printed fix_command exactly as printed, adding only --noinput (``python`` is this
    interpreter); fail the test unless it exits 0."""
    import shlex

    words = shlex.split(command)
    assert words[:2] == ["python", "manage.py"], command
    result = project.run(*words[1:], "--noinput")  # Project.run starts sys.executable
    assert result.code == 0, f"{command}\n{result}"
    return result


NICKNAME_MODEL = """from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    nickname = models.CharField(max_length=50, blank=True)
"""


def shop_note_migration(accounts_migration: str) -> str:
    """shop/migrations/0002_order_note.py: a field of shop's that depends on ACCOUNTS_MIGRATION
    (the migration of accounts the reset tests delete, squash or regenerate)."""
    return f"""from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("accounts", "{accounts_migration}"),
    ]

    operations = [
        migrations.AddField("order", "note", models.CharField(max_length=20, blank=True)),
    ]
"""
