"""Helpers shared by the diagnosis tests: running the diagnosis, and the database states the
database tests build for real (a project that went live on auth.User, then switched)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tests.conftest import Project, Result


# --- running the diagnosis -------------------------------------------------------------------
def findings_of(result: Result, *causes: str) -> list[dict[str, Any]]:
    """The findings of a JSON report whose cause is one of CAUSES (other probes' findings have
    their own tests)."""
    return [f for f in result.json()["findings"] if f["cause"] in causes]


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
    project.ok("migrate", "--no-input", "-v", "0")
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
