"""swap_user_model case 3: one custom user model to another (users.User -> accounts.User), and
back to auth.User as the way back, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    SEED,
    add_app,
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    instrument,
    login,
    relabelled,
    remove_app,
    snapshot,
    verified,
    write_new_model,
)

USERS_APPS = """from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    default_auto_field = "django.db.models.AutoField"
"""

USERS_MODELS = """from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    \"\"\"The project's first custom user model.\"\"\"
"""


def started_on_users_app(project: Project, models: str = USERS_MODELS) -> None:
    """A project that started on a custom users.User, migrated and used."""
    project.write("users/__init__.py", "")
    project.write("users/apps.py", USERS_APPS)
    project.write("users/models.py", models)
    project.write("users/migrations/__init__.py", "")
    add_app(project, "users")
    project.set_setting("AUTH_USER_MODEL", '"users.User"')
    project.write("accounts/models.py", '"""No model yet."""\n')
    project.write("accounts/admin.py", "")
    project.remove("accounts/migrations/0001_initial.py")
    project.ok("makemigrations", "users", "-v", "0")
    project.migrate()
    instrument(project, SEED)


def test_swap_between_custom_models_and_back_to_auth_user(
    db_project: Project, tmp_path: Path
) -> None:
    project = db_project
    started_on_users_app(project)
    expected = snapshot(project)
    assert [u[1] for u in expected["users"]] == ["alice", "bob", "root", "dave"]
    assert {"users_user", "users_user_groups", "users_user_user_permissions"} <= project.db.tables()

    # users.User -> accounts.User: the old app stays installed for the swap, then goes.
    write_new_model(project)
    # Both models now claim the groups' reverse accessors: migrate stops at the checks.
    assert "(fields.E304)" in project.manage("migrate", "--no-input").err
    dry = project.manage("swap_user_model", "--from", "users.User", "--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.out.splitlines()[1] == "  1. Rename table 'users_user' to 'accounts_user'"
    run = project.manage("swap_user_model", "--from", "users.User", "--noinput")
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    tables = project.db.tables()
    assert {"accounts_user", "accounts_user_groups", "accounts_user_user_permissions"} <= tables
    assert not {"users_user", "users_user_groups", "users_user_user_permissions"} & tables
    remove_app(project, "users")
    assert snapshot(project) == relabelled(expected, "users", "accounts")
    assert_clean(project)
    assert login(project, "dave", "dave-pass-5") == str(expected["users"][-1][0])

    # The way back: accounts.User -> auth.User (auth's migrations are applied already).
    project.set_setting("AUTH_USER_MODEL", '"auth.User"')
    back = project.manage("swap_user_model", "--from", "accounts.User", "--noinput")
    assert back.code == 0, str(back)
    assert "Done; verified." in back.out
    tables = project.db.tables()
    assert {"auth_user", "auth_user_groups", "auth_user_user_permissions"} <= tables
    assert not {"accounts_user", "accounts_user_groups", "accounts_user_user_permissions"} & tables
    remove_app(project, "accounts")
    assert snapshot(project) == relabelled(expected, "users", "auth")
    assert_clean(project)
    assert login(project, "alice", "alice-pass-1") == str(expected["users"][0][0])
    assert_same_schema_as_fresh_migrate(project, tmp_path)


RICH = """from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    team = models.ForeignKey("auth.Group", null=True, on_delete=models.SET_NULL, related_name="+")
    loose = models.ForeignKey(
        "auth.Group", null=True, on_delete=models.SET_NULL, db_constraint=False, related_name="+"
    )
    badge = models.OneToOneField(
        "auth.Group", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_by = models.ForeignKey(
        "self", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    shoe_size = models.PositiveSmallIntegerField(null=True)
    code = models.CharField(max_length=10, db_index=True, blank=True)
    teams = models.ManyToManyField("auth.Group", related_name="+")

    class Meta:
        unique_together = [("username", "code")]
"""


def test_a_model_with_its_own_keys_indexes_and_checks_swaps_as_migrate_builds_it(
    db_project: Project, tmp_path: Path
) -> None:
    """A custom model with foreign keys of its own (one without a constraint, one to itself,
    which its migration writes as a key to settings.AUTH_USER_MODEL), a one-to-one, a
    PositiveSmallIntegerField (whose check constraint PostgreSQL names after the table:
    'users_user_shoe_size_check'), an indexed CharField, unique_together and a many-to-many
    table of its own: the swap renames every name as a fresh migrate makes it, and the
    verification, which compares with what Django's schema editor builds, agrees."""
    project = db_project
    started_on_users_app(project, RICH)
    project.write("accounts/models.py", RICH)
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    run = project.manage("swap_user_model", "--from", "users.User", "--noinput")
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    remove_app(project, "users")
    assert_same_schema_as_fresh_migrate(project, tmp_path)
    if project.db.vendor == "postgresql":
        checks = project.db.query(
            "SELECT conname FROM pg_constraint WHERE contype = 'c' "
            "AND conrelid = 'accounts_user'::regclass"
        )
        assert checks == [("accounts_user_shoe_size_check",)]


WITH_DECLARED_NAMES = """from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    class Meta:
        indexes = [
            models.Index(fields=["last_name"], name="%(app_label)s_user_last_name"),
            models.Index(Lower("email"), name="%(app_label)s_user_lower_email"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["email"], name="%(app_label)s_user_email_unique")
        ]
"""


def test_names_the_model_declares_are_kept_and_what_they_name_is_verified(
    db_project: Project, tmp_path: Path
) -> None:
    """Meta.indexes and Meta.constraints named after the app: the swap keeps their names (the
    model names them, not Django) and its plan says so, with what the recorded migration calls
    them; the verification compares them by their columns only (a functional index not at all:
    the catalog snapshot does not read expressions). Dropped afterwards, the plain index is
    reported missing."""
    project = db_project
    started_on_users_app(project, WITH_DECLARED_NAMES)
    project.write("accounts/models.py", WITH_DECLARED_NAMES)
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    backups = tmp_path / "backups"
    run = project.manage(
        "swap_user_model", "--from", "users.User", "--noinput", "--backup-dir", str(backups)
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    renamed = ", ".join(
        f"'users_user_{n}' (the migration names it 'accounts_user_{n}')"
        for n in ("email_unique", "last_name", "lower_email")
    )
    assert (
        "  Note: Meta.indexes/Meta.constraints the old model declares alike keep their names: "
        f"{renamed}. A later migration that removes or renames one by name will not find it: "
        "rename them in the database after the swap (docs/swap-user-model.md, Limits)."
    ) in run.out.splitlines()
    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    spec = folder / "swap-spec.json"
    assert verified(project, spec) == []
    q = "`" if project.db.vendor == "mysql" else '"'
    on = " ON accounts_user" if project.db.vendor == "mysql" else ""
    project.db.query(f"DROP INDEX {q}users_user_last_name{q}{on}")
    assert verified(project, spec) == [
        "index on accounts_user(last_name) is missing (a fresh migrate of accounts.User builds "
        "it ('accounts_user_last_name'))"
    ]
