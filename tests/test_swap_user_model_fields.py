"""swap_user_model case 2: auth.User -> an email-login model on AbstractBaseUser with a field
more (nickname) and one less (username), on SQLite, PostgreSQL and MariaDB.

The new app's migrations come in two steps: a mirror of auth_user recorded as applied, then the
change (drop username, email unique, add nickname with its default) applied for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import TESTPROJECT, Project
from .swaphelpers import (
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    before_state,
    login,
    relabelled,
    snapshot,
)

EMAIL_MODEL = (
    (TESTPROJECT / "gallery" / "email_user.py")
    .read_text()
    .replace(
        "    date_joined = models.DateTimeField(default=timezone.now)\n",
        "    date_joined = models.DateTimeField(default=timezone.now)\n"
        '    nickname = models.CharField(max_length=50, default="member")\n',
    )
)


def test_swap_to_a_model_with_other_fields(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    expected = snapshot(project)
    usernames = {u[0]: u[1] for u in expected["users"]}
    for user in expected["users"]:
        user[1] = None  # the new model has no username
    assert "nickname = models.CharField" in EMAIL_MODEL

    # What the user did: the new model, makemigrations, AUTH_USER_MODEL.
    project.write("accounts/models.py", EMAIL_MODEL)
    project.write("accounts/admin.py", "")
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    theirs = project.read("accounts/migrations/0001_initial.py")

    refused = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert refused.code == 1
    assert refused.err == (
        "CommandError: Refused: accounts.User has no field for the column(s) 'username' of "
        "'auth_user': run again with --drop-columns to drop them (their values are kept in the "
        "backup). Nothing was changed.\n"
    )
    backups = tmp_path / "backups"
    args = (
        "swap_user_model",
        "--from",
        "auth.User",
        "--drop-columns",
        "--backup-dir",
        str(backups),
    )
    dry = project.manage(*args, "--dry-run")
    assert dry.code == 0, str(dry)
    lines = dry.out.splitlines()
    migrations = project.path / "accounts" / "migrations"
    change = "0002_remove_user_username_user_nickname_alter_user_email"
    assert lines[1:6] == [
        "  1. Write the migrations of 'accounts' in two steps: a mirror of 'auth_user', then the "
        "change",
        f"       in {migrations}",
        "       write 0001_initial.py",
        f"       write {change}.py",
        "       replace 0001_initial.py (kept in the backup)",
    ], dry.out
    [start] = [
        n
        for n, line in enumerate(lines)
        if line.endswith(". Record migration accounts.0001_initial as applied")
    ]
    assert lines[start + 1] == "       it mirrors 'auth_user': the renamed table is what it builds"
    [start] = [
        n for n, line in enumerate(lines) if line.endswith(f". Apply migration accounts.{change}")
    ]
    assert lines[start + 1 : start + 5] == [
        "       - Remove field username from user",
        "       - Add field nickname to user",
        "       - Alter field email on user",
        "       drops column(s) username (--drop-columns; their values are in the backup)",
    ], dry.out
    assert project.read("accounts/migrations/0001_initial.py") == theirs

    run = project.manage(*args, "--noinput")
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert sorted(p.name for p in migrations.glob("0*.py")) == ["0001_initial.py", f"{change}.py"]
    mirror = project.read("accounts/migrations/0001_initial.py")
    assert mirror != theirs and "('username', models.CharField(" in mirror
    assert snapshot(project) == relabelled(expected)
    nicknames = project.ok(
        "shell",
        "-v",
        "0",
        "-c",
        "from accounts.models import User; "
        "print(sorted(set(User.objects.values_list('nickname', flat=True))))",
    )
    assert nicknames.out == "['member']\n"
    assert_clean(project)
    assert login(project, "dave@example.com", "dave-pass-5") == str(expected["users"][-1][0])
    assert_same_schema_as_fresh_migrate(project, tmp_path)

    # The dropped column's values, and the migration file it replaced, are in the backup.
    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    dropped = json.loads((folder / "dropped-columns.json").read_text())
    assert dropped["columns"] == ["id", "username"]
    assert {int(pk): name for pk, name in dropped["rows"]} == usernames
    spec = json.loads((folder / "swap-spec.json").read_text())
    assert list(spec["replaced_files"].values()) == [theirs]


# auth.User's fields, and an index and a constraint auth_user does not have.
DECLARES_MORE = """from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Meta:
        indexes = [models.Index(fields=["last_name", "first_name"], name="accounts_names")]
        constraints = [
            models.UniqueConstraint(fields=["username", "email"], name="accounts_login_email")
        ]
"""

# Fields of its own too (a key to itself, a check, an indexed column, a many-to-many table).
WITH_FIELDS = DECLARES_MORE.replace(
    "    class Meta:",
    "    invited_by = models.ForeignKey(\n"
    '        "self", null=True, on_delete=models.SET_NULL, related_name="+"\n'
    "    )\n"
    "    shoe_size = models.PositiveSmallIntegerField(null=True)\n"
    "    code = models.CharField(max_length=10, db_index=True, blank=True)\n"
    '    teams = models.ManyToManyField("auth.Group", related_name="+")\n\n'
    "    class Meta:",
)


@pytest.mark.parametrize("model", ["same fields", "fields of its own"])
def test_indexes_and_constraints_the_old_table_lacks_are_built(
    db_project: Project, tmp_path: Path, model: str
) -> None:
    """A new model that declares an index and a constraint auth_user does not have: the
    migration recorded as applied must not claim them (nothing would build them), so the swap
    writes a mirror of auth_user and applies the rest for real, and the schema is the one a
    fresh migrate builds. Before, with the same fields the user's own migration was recorded
    (and on PostgreSQL and MariaDB the index and constraint never existed); with fields of its
    own the mirror claimed them."""
    project = db_project
    before_state(project)
    project.write("accounts/models.py", DECLARES_MORE if model == "same fields" else WITH_FIELDS)
    project.write("accounts/admin.py", "")
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    run = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert run.code == 0, str(run)
    assert "in two steps: a mirror of 'auth_user', then the change" in run.out
    assert "Done; verified." in run.out
    assert_same_schema_as_fresh_migrate(project, tmp_path)
