"""The migrations probe of diagnose_user_model, on real broken copies of the test project.

Each test builds its state the way a project gets there (migrate, edit files, switch the
setting), runs diagnose_user_model in a subprocess and compares with what Django itself says
(``migrate`` and ``makemigrations --check``). History tests run on SQLite, PostgreSQL and MariaDB;
each migrates once and checks several things.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.helpers import findings_of

HISTORY = {"table": "django_migrations"}
SWAP = "python manage.py swap_user_model --from auth.User"
RESET = "python manage.py reset_user_migrations"

SHOP_0002 = """\
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("shop", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="note",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
    ]
"""


def diagnose(project: Project, *args: str, **env: str) -> Result:
    return project.manage("diagnose_user_model", "--format", "json", *args, **env)


def migration_findings(result: Result) -> list[dict[str, Any]]:
    assert result.out.startswith("{"), str(result)
    return findings_of(result, "migrations")


def django_error(result: Result, exception: str) -> str:
    """The message of the exception Django's traceback ends with."""
    match = re.search(rf"{exception}: (.+)$", result.err, re.M)
    assert match, str(result)
    return match.group(1)


def swappable_line(path: Path) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if "swappable_dependency" in line:
            return number
    raise AssertionError(f"no swappable_dependency in {path}")


def migrate_on_auth_user(project: Project) -> None:
    """The state of a project that started on auth.User: migrate with no custom model, then
    write accounts.User and its migration (as the project has them), still on auth.User."""
    saved = {
        rel: project.read(rel)
        for rel in (
            "accounts/models.py",
            "accounts/admin.py",
            "accounts/migrations/0001_initial.py",
        )
    }
    project.remove("accounts/migrations")
    project.write("accounts/models.py", "")
    project.write("accounts/admin.py", "")
    project.set_setting("AUTH_USER_MODEL", "'auth.User'")
    project.migrate()
    for rel, text in saved.items():
        project.write(rel, text)
    project.write("accounts/migrations/__init__.py", "")


def test_no_migrations_unapplied_healthy_and_pending(db_project: Project) -> None:
    project = db_project
    user_line = project.line_of("accounts/models.py", "class User")

    # The user app without migrations, on an empty database.
    saved = project.read("accounts/migrations/0001_initial.py")
    project.remove("accounts/migrations")
    assert migration_findings(diagnose(project)) == [
        {
            "id": "authtools.E401",
            "severity": "error",
            "cause": "migrations",
            "message": "The app 'accounts' of AUTH_USER_MODEL = 'accounts.User' has no migrations "
            "(accounts/migrations/ is missing or empty): `migrate` creates no table for "
            "accounts.User (an app without migrations is only synced with --run-syncdb), and "
            "every migration that depends on swappable_dependency(settings.AUTH_USER_MODEL) "
            "loses the dependency that makes the user table exist first.",
            "hint": "Create the app's initial migration, then run `python manage.py migrate`.",
            "location": {"file": "accounts/models.py", "line": user_line},
            "fix_command": "python manage.py makemigrations accounts",
            "because": None,
        }
    ]
    # Not a system check: makemigrations, the fix, runs them.
    dry_run = project.ok("makemigrations", "--dry-run", "accounts")
    assert "Create model User" in dry_run.out, str(dry_run)
    project.write("accounts/migrations/__init__.py", "")
    project.write("accounts/migrations/0001_initial.py", saved)

    # Migrations not applied (no django_migrations table yet).
    result = diagnose(project)
    assert result.code == 1, str(result)
    assert migration_findings(result) == [
        {
            "id": "authtools.E402",
            "severity": "error",
            "cause": "migrations",
            "message": "1 migration(s) of 'accounts', the app of AUTH_USER_MODEL, are not applied "
            "on database 'default' (0001_initial): the user table 'accounts_user' is missing or "
            "behind the model, so logins, the admin and every foreign key to the user fail.",
            "hint": "Apply them: `python manage.py migrate`.",
            "location": HISTORY,
            "fix_command": "python manage.py migrate",
            "because": None,
        }
    ]
    # --no-db reads files only: no history, so nothing to say here.
    assert migration_findings(diagnose(project, "--no-db")) == []

    # Healthy once migrated.
    project.migrate()
    assert migration_findings(diagnose(project)) == []

    # A model change without migration: what makemigrations --check says, as a warning.
    models = project.read("accounts/models.py")
    project.write(
        "accounts/models.py",
        models.replace(
            "from django.contrib.auth.models import AbstractUser",
            "from django.contrib.auth.models import AbstractUser\nfrom django.db import models",
        )
        + "\n    nickname = models.CharField(max_length=30, blank=True)\n",
    )
    real = project.manage("makemigrations", "--check", "--dry-run")
    assert real.code == 1 and "Add field nickname to user" in real.out, str(real)
    pending = {
        "id": "authtools.W406",
        "severity": "warning",
        "cause": "migrations",
        "message": "App 'accounts' has model changes that no migration reflects: Add field "
        "nickname to user. The database will not match the models until a migration is "
        "written (`makemigrations --check` fails).",
        "hint": "Write the migration and apply it: makemigrations accounts, then "
        "`python manage.py migrate`.",
        "location": {
            "file": "accounts/models.py",
            "line": project.line_of("accounts/models.py", "class User"),
        },
        "fix_command": "python manage.py makemigrations accounts",
        "because": None,
    }
    result = diagnose(project, "--fail-level", "warning")
    assert migration_findings(result) == [pending]
    assert result.code == 1, str(result)
    assert migration_findings(diagnose(project, "--no-db")) == [pending]
    # Not a system check (the autodetector on every `check` would cost too much).
    check = project.manage("check")
    assert "authtools.W4" not in check.out + check.err, str(check)


def test_switch_from_auth_user_predicted_then_diagnosed(db_project: Project) -> None:
    import django.contrib.admin.migrations as admin_migrations

    project = db_project
    migrate_on_auth_user(project)
    assert migration_findings(diagnose(project)) == []

    # Before the switch: --target predicts the failure, one finding per applied dependent.
    admin_0001 = Path(admin_migrations.__file__).parent / "0001_initial.py"
    predicted = migration_findings(diagnose(project, "--target", "accounts.User"))
    expected_locations = {
        "admin": {"file": str(admin_0001), "line": swappable_line(admin_0001)},
        "profiles": {
            "file": "profiles/migrations/0001_initial.py",
            "line": swappable_line(project.path / "profiles/migrations/0001_initial.py"),
        },
        "shop": {
            "file": "shop/migrations/0001_initial.py",
            "line": swappable_line(project.path / "shop/migrations/0001_initial.py"),
        },
    }
    assert [f["id"] for f in predicted] == ["authtools.E407"] * 3
    for finding, app in zip(predicted, ("admin", "profiles", "shop"), strict=True):
        assert finding == {
            "id": "authtools.E407",
            "severity": "error",
            "cause": "migrations",
            "message": "Once AUTH_USER_MODEL = 'accounts.User', Django will raise "
            f"InconsistentMigrationHistory: Migration {app}.0001_initial is applied before its "
            "dependency accounts.0001_initial on database 'default'. "
            f"{app}.0001_initial depends on swappable_dependency(settings.AUTH_USER_MODEL), "
            "which then means the first migration of 'accounts', while its tables were created "
            "against 'auth_user'.",
            "hint": "Do not switch the setting alone: write the new model, set "
            "AUTH_USER_MODEL = 'accounts.User', then run swap_user_model --from auth.User, which "
            "moves the data and the history.",
            "location": expected_locations[app],
            "fix_command": None,
            "because": None,
        }

    # The switch: Django's migrate fails as predicted.
    project.set_setting("AUTH_USER_MODEL", "'accounts.User'")
    real = project.manage("migrate", "--no-input")
    assert real.code == 1, str(real)
    django_says = django_error(real, "InconsistentMigrationHistory")
    assert any(django_says in f["message"] for f in predicted), django_says

    found = migration_findings(diagnose(project))
    assert [f["id"] for f in found] == ["authtools.E405"] * 3 + ["authtools.E403"] * 3
    # One root cause: the first E403 prints the swap, the others follow from it.
    assert [f["because"] for f in found] == ["authtools.E403"] * 3 + [None] + ["authtools.E403"] * 2
    assert any(f["message"].startswith(django_says) for f in found if f["id"] == "authtools.E403")
    assert found[3] == {
        "id": "authtools.E403",
        "severity": "error",
        "cause": "migrations",
        "message": "Migration admin.0001_initial is applied before its dependency "
        "accounts.0001_initial on database 'default'. Django raises "
        "InconsistentMigrationHistory: migrate and makemigrations refuse to run. No migration "
        "of 'accounts' is applied: the database was built while AUTH_USER_MODEL named "
        "auth.User.",
        "hint": "Move the existing users, their relations and the history to the current user "
        "model: swap_user_model --from auth.User.",
        "location": HISTORY,
        "fix_command": SWAP,
        "because": None,
    }
    evidence = {
        "admin": "django_admin_log.user_id",
        "profiles": "profiles_profile.user_id",
        "shop": "shop_order.user_id",
    }
    for finding, app in zip(found[:3], ("admin", "profiles", "shop"), strict=True):
        assert finding == {
            "id": "authtools.E405",
            "severity": "error",
            "cause": "migrations",
            "message": f"Migration {app}.0001_initial was applied while 'accounts' had no "
            "migration applied, against another user model: the database's foreign key "
            f"{evidence[app]} references 'auth_user', not 'accounts_user' (accounts.User). "
            "Django will not fix this: the history says the migration ran, so `migrate` never "
            "runs it again.",
            "hint": "Move the project to the current user model with its data and history: "
            "swap_user_model --from auth.User (the model whose table the foreign keys "
            "reference).",
            "location": HISTORY,
            "fix_command": None,  # the swap is printed once, by the E403 it follows from
            "because": "authtools.E403",
        }

    # The folk "fix": record accounts.0001_initial by hand. Django is content; the tables are not.
    project.db.query(
        "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
        ("accounts", "0001_initial", "2030-01-01 00:00:00"),
    )
    found = migration_findings(diagnose(project))
    assert [f["id"] for f in found] == ["authtools.E405"] * 3
    assert "was applied before the first migration of 'accounts'" in found[0]["message"]


def test_deleted_user_migrations_others_depend_on(db_project: Project) -> None:
    project = db_project
    project.write("shop/migrations/0002_order_note.py", SHOP_0002)
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "    created = models.DateTimeField(auto_now_add=True)\n",
            "    created = models.DateTimeField(auto_now_add=True)\n"
            '    note = models.CharField(max_length=100, blank=True, default="")\n',
        ),
    )
    project.migrate()
    assert migration_findings(diagnose(project)) == []

    project.remove("accounts/migrations")
    real = project.manage("migrate", "--no-input")
    assert real.code == 1, str(real)
    assert django_error(real, "NodeNotFoundError") == (
        "Migration shop.0002_order_note dependencies reference nonexistent parent node "
        "('accounts', '0001_initial')"
    )
    found = migration_findings(diagnose(project))
    assert [f["id"] for f in found] == ["authtools.E401", "authtools.E404"]
    # Planned before printing: the reset refuses without a migrations package, so the fix is
    # withheld and the hint says what to do first.
    assert (found[0]["fix_command"], found[0]["because"]) == (None, None)
    assert found[0]["hint"] == (
        "Regenerate the app's migrations and repair django_migrations to match the tables that "
        "exist; reset_user_migrations does both and keeps a backup. No fix is printed: "
        "`python manage.py reset_user_migrations` would refuse in this state (App 'accounts' "
        "has no migrations package 'accounts.migrations'; create accounts/migrations/__init__.py "
        "(or run makemigrations accounts))."
    )
    assert found[0]["location"] == {
        "file": "accounts/models.py",
        "line": project.line_of("accounts/models.py", "class User"),
    }
    assert found[0]["message"].endswith(
        "The database already records migrations that need it (accounts.0001_initial)."
    )
    assert found[1] == {
        "id": "authtools.E404",
        "severity": "error",
        "cause": "migrations",
        "message": "Migration shop.0002_order_note depends on accounts.0001_initial, which does "
        'not exist: Django raises NodeNotFoundError ("Migration shop.0002_order_note '
        "dependencies reference nonexistent parent node ('accounts', '0001_initial')\") and no "
        "migrate, showmigrations or makemigrations can run.",
        "hint": "accounts.0001_initial was deleted or renamed while other migrations depend on "
        "it; reset_user_migrations regenerates the user app's migrations and rewrites these "
        "dependencies.",
        "location": {
            "file": "shop/migrations/0002_order_note.py",
            "line": project.line_of("shop/migrations/0002_order_note.py", '"0001_initial"'),
        },
        "fix_command": None,  # the same reset as E401's, withheld there
        "because": "authtools.E401",
    }


def test_no_db_never_connects_and_bad_target(project: Project) -> None:
    fresh = project.path / "never-created.sqlite3"
    result = diagnose(project, "--no-db", TESTPROJECT_DB_NAME=str(fresh))
    assert result.code == 0, str(result)
    assert migration_findings(result) == []
    assert not fresh.exists()

    bad = project.manage("diagnose_user_model", "--target", "accounts.Nope")
    assert bad.code == 2, str(bad)
    assert (
        bad.err.strip()
        .splitlines()[-1]
        .startswith("CommandError: --target 'accounts.Nope' names no installed model")
    )


def test_unreachable_database_is_no_crash(project: Project) -> None:
    result = diagnose(project, TESTPROJECT_DB_NAME=str(project.path / "no" / "such" / "db.sqlite3"))
    assert result.out.startswith("{"), str(result)
    assert "Traceback" not in result.err
    assert migration_findings(result) == []


@pytest.mark.parametrize("value", ["accounts.User", "accounts.user"])
def test_target_equal_to_current_model_predicts_nothing(project: Project, value: str) -> None:
    project.migrate()
    assert migration_findings(diagnose(project, "--target", value)) == []
