"""The whole journey a README runbook shows, on SQLite, PostgreSQL and MariaDB: a project on
auth.User (no AUTH_USER_MODEL line, no accounts app) runs --scaffold accounts --write-settings,
then the swap, and ends on accounts.User with every row, clean checks and working logins."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    SEED,
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    login,
    relabelled,
    remove_app,
    snapshot,
)

SCAFFOLDED_MODELS = '''from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The project's user model: auth.User's fields for now, ready to grow."""

    # auth_user.id is {db_type!r}: the same type keeps every foreign key to it valid.
    id = models.AutoField(primary_key=True, verbose_name="ID")
'''


def on_auth_user(project: Project) -> None:
    remove_app(project, "accounts")
    project.remove_setting("AUTH_USER_MODEL")
    project.migrate()
    project.ok("shell", "-v", "0", "-c", SEED)


def test_scaffold_write_settings_then_swap(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    on_auth_user(project)
    expected = snapshot(project)
    settings_before = project.settings_file.read_text()

    refused = project.manage("swap_user_model", "--write-settings")
    assert refused.code == 1
    assert refused.err == "CommandError: --write-settings goes with --scaffold APP.\n"

    dry = project.manage("swap_user_model", "--scaffold", "accounts", "--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.out.splitlines()[:4] == [
        "Would write accounts/__init__.py",
        "Would write accounts/apps.py",
        "Would write accounts/models.py",
        "Would write accounts/admin.py",
    ]
    assert not (project.path / "accounts").exists()

    run = project.manage("swap_user_model", "--scaffold", "accounts", "--write-settings")
    assert run.code == 0, str(run)
    n_shop = settings_before.splitlines().index('    "shop",') + 1  # the first project app
    n_end = len(settings_before.splitlines())
    assert run.out == (
        "Wrote accounts/__init__.py\n"
        "Wrote accounts/apps.py\n"
        "Wrote accounts/models.py\n"
        "Wrote accounts/admin.py\n"
        "Changed testproject/settings.py:\n"
        f"  --- {project.settings_file} (before)\n"
        f"  +++ {project.settings_file} (after)\n"
        f"  @@ -{n_shop - 3},6 +{n_shop - 3},7 @@\n"
        '       "django.contrib.messages",\n'
        '       "django_extensions",\n'
        '       "authtools",\n'
        '  +    "accounts",\n'
        '       "shop",\n'
        '       "profiles",\n'
        "   ]\n"
        f"  @@ -{n_end - 2},3 +{n_end - 1},4 @@\n"
        + "".join(f"   {line}\n" for line in settings_before.splitlines()[-3:])
        + '  +AUTH_USER_MODEL = "accounts.User"\n'
        "Next: python manage.py swap_user_model --from auth.User "
        "(it writes the migration of 'accounts')\n"
    )
    db_type = {"sqlite": "INTEGER", "postgresql": "integer", "mysql": "int(11)"}[project.db.vendor]
    assert project.read("accounts/models.py") == SCAFFOLDED_MODELS.format(db_type=db_type)

    swap = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert swap.code == 0, str(swap)
    assert swap.out.splitlines()[1:3] == [
        "  1. Write the migration of 'accounts': a mirror of 'auth_user'",
        f"       in {project.path / 'accounts' / 'migrations'}",
    ]
    assert "Done; verified." in swap.out
    assert sorted(p.name for p in (project.path / "accounts" / "migrations").iterdir()) == [
        "0001_initial.py",
        "__init__.py",
    ]
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    assert login(project, "bob", "bob-pass-2") == str(expected["users"][1][0])
    assert_same_schema_as_fresh_migrate(project, tmp_path)
