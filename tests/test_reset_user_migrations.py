"""reset_user_migrations end to end: temporary copies of the test project, in subprocesses, on
SQLite, PostgreSQL and MariaDB. Each scenario checks Django's own verdict on the end state and
that every user, group membership, admin log entry and order is still there."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UNMEASURED, Project
from tests.helpers import NICKNAME_MODEL, shop_note_migration

APPS = ("accounts", "shop", "profiles")

SEED = """
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from shop.models import Order
group = Group.objects.create(name="staff")
group_type = ContentType.objects.get_for_model(Group)
for name in ("alice", "bob"):
    user = get_user_model().objects.create_user(name, name + "@example.com", "pw-" + name)
    user.groups.add(group)
    Order.objects.create(user=user, total="12.50")
    LogEntry.objects.create(
        user_id=user.pk, content_type_id=group_type.pk, object_id=str(group.pk),
        object_repr="staff", action_flag=ADDITION,
    )
"""


SHOP_0002 = shop_note_migration("0001_squashed_0002_user_nickname")

PROFILES_0002 = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_initial"),
        ('accounts', '0002_user_nickname'),  # needs the nickname column
    ]

    operations = [
        migrations.AddField("profile", "site", models.CharField(max_length=20, blank=True)),
    ]
"""

VERIFIED = [
    "Verify migrate --check: ok",
    "Verify makemigrations --check: ok",
    "Verify check: ok",
    "Verify diagnose_user_model (migrations): ok",
]


# --- helpers ---------------------------------------------------------------------------------


def data(project: Project, user_table: str = "accounts_user") -> dict[str, Any]:
    """Every row a user cares about, to compare before and after."""
    q = project.db.query
    snapshot = {
        "users": q(f"SELECT id, username, password, email FROM {user_table} ORDER BY id"),
        "memberships": q(f"SELECT user_id, group_id FROM {user_table}_groups ORDER BY user_id"),
        "log": q("SELECT id, user_id, object_repr FROM django_admin_log ORDER BY id"),
        "orders": q("SELECT id, user_id, total FROM shop_order ORDER BY id"),
    }
    assert len(snapshot["users"]) == 2 and len(snapshot["log"]) == 2, snapshot
    return snapshot


def rows(project: Project) -> list[tuple[Any, ...]]:
    return project.db.query("SELECT id, app, name, applied FROM django_migrations ORDER BY id")


def files(project: Project) -> dict[str, str]:
    return {
        str(p.relative_to(project.path)): p.read_text()
        for app in APPS
        for p in sorted((project.path / app / "migrations").glob("*.py"))
    }


def assert_end_state(project: Project) -> None:
    """Django's own verdict: nothing unapplied, nothing pending, no check errors."""
    project.ok("migrate", "--check")
    project.ok("makemigrations", "--check", "--dry-run")
    project.ok("check")


def backup_of(output: str) -> Path:
    match = re.search(r"^Backup: (.+)$", output, re.M)
    assert match, output
    return Path(match.group(1))


def plan_lines(output: str) -> list[str]:
    """The numbered step lines of a text plan."""
    return [line.strip() for line in output.splitlines() if re.match(r"  \d+\. ", line)]


# --- scenarios -------------------------------------------------------------------------------


def test_old_migrations_squashed_and_depended_on(db_project: Project) -> None:
    """accounts has 0001, 0002 and a squash of both; shop depends on the squash, profiles on
    0002. Dry run, reset, run again, restore: all on one migrated project."""
    p = db_project
    p.write("accounts/models.py", NICKNAME_MODEL)
    p.ok("makemigrations", "accounts", "--name", "user_nickname", "-v", "0")
    p.ok("squashmigrations", "accounts", "0002", "--noinput", "-v", "0")
    p.write("shop/migrations/0002_order_note.py", SHOP_0002)
    p.write("profiles/migrations/0002_profile_site.py", PROFILES_0002)
    models = p.read("shop/models.py")
    p.write(
        "shop/models.py",
        models.replace(
            "    created =",
            "    note = models.CharField(max_length=20, blank=True)\n    created =",
        ),
    )
    models = p.read("profiles/models.py")
    p.write(
        "profiles/models.py", models + "    site = models.CharField(max_length=20, blank=True)\n"
    )
    p.migrate()
    assert_end_state(p)
    p.ok("shell", "-c", SEED, **UNMEASURED)
    before_data, before_rows, before_files = data(p), rows(p), files(p)
    account_rows = [r for r in before_rows if r[1] == "accounts"]
    assert [r[2] for r in account_rows] == [
        "0001_initial",
        "0002_user_nickname",
        "0001_squashed_0002_user_nickname",
    ]

    # --dry-run: the whole plan as JSON, nothing changed.
    dry = p.ok("reset_user_migrations", "--dry-run", "--format", "json")
    document = dry.json()
    assert document["dry_run"] is True and document["result"] is None
    steps = {s["id"]: s for s in document["plan"]["steps"]}
    assert list(steps) == [
        "delete-files",
        "detach-dependents",
        "makemigrations",
        "repoint-dependents",
        "delete-rows",
        "record-initial",
    ]
    assert steps["delete-files"]["details"] == [
        "accounts/migrations/0001_initial.py",
        "accounts/migrations/0001_squashed_0002_user_nickname.py",
        "accounts/migrations/0002_user_nickname.py",
    ]
    assert steps["repoint-dependents"]["details"] == [
        "--- a/profiles/migrations/0002_profile_site.py",
        "+++ b/profiles/migrations/0002_profile_site.py",
        "@@ -6,3 +6,3 @@",
        '         ("profiles", "0001_initial"),',
        "-        ('accounts', '0002_user_nickname'),  # needs the nickname column",
        "+        ('accounts', '0001_initial'),  # needs the nickname column",
        "     ]",
        "--- a/shop/migrations/0002_order_note.py",
        "+++ b/shop/migrations/0002_order_note.py",
        "@@ -6,3 +6,3 @@",
        '         ("shop", "0001_initial"),',
        '-        ("accounts", "0001_squashed_0002_user_nickname"),',
        '+        ("accounts", "0001_initial"),',
        "     ]",
    ]
    assert [d.split(" (applied")[0] for d in steps["delete-rows"]["details"]] == [
        f"id {r[0]}: accounts.{r[2]}" for r in account_rows
    ]
    assert steps["record-initial"]["description"] == (
        "Record accounts.0001_initial as applied: the database has its tables and columns"
    )
    assert (files(p), rows(p)) == (before_files, before_rows)
    assert not (p.path / ".authtools-backups").exists()

    # The reset.
    run = p.ok("reset_user_migrations", "--noinput")
    assert plan_lines(run.out) == [
        "1. Delete the 3 migration file(s) of 'accounts'",
        "2. Point 2 other migration file(s) at ('accounts', '__first__') while makemigrations runs",
        "3. Run makemigrations accounts with the real AUTH_USER_MODEL",
        "4. Point those dependencies at the new last migration of 'accounts'",
        "5. Delete 3 row(s) of 'accounts' from django_migrations",
        "6. Record accounts.0001_initial as applied: the database has its tables and columns",
    ]
    backup = backup_of(run.out)
    assert run.out.splitlines()[-7:] == [
        "Generated: 0001_initial",
        *VERIFIED,
        f"Backup: {backup}",
        "Done; verified.",
    ]
    assert backup.parent == p.path / ".authtools-backups"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    after_files = files(p)
    assert sorted(f for f in after_files if f.startswith("accounts/")) == [
        "accounts/migrations/0001_initial.py",
        "accounts/migrations/__init__.py",
    ]
    assert '("accounts", "0001_initial"),' in after_files["shop/migrations/0002_order_note.py"]
    assert (
        "('accounts', '0001_initial'),  # needs the nickname"
        in after_files["profiles/migrations/0002_profile_site.py"]
    )
    after_rows = rows(p)
    assert [r for r in after_rows if r[1] != "accounts"] == [
        r for r in before_rows if r[1] != "accounts"
    ]
    assert [r[2] for r in after_rows if r[1] == "accounts"] == ["0001_initial"]
    assert data(p) == before_data
    assert_end_state(p)

    # Twice is harmless.
    again = p.manage("reset_user_migrations", "--noinput")
    assert (again.code, again.out, again.err) == (0, "Nothing to do.\n", "")

    # --restore puts back the files and rows exactly.
    restored = p.ok("reset_user_migrations", "--restore", str(backup), "--noinput")
    assert restored.out.splitlines()[-1] == "Restored."
    assert files(p) == before_files
    assert rows(p) == before_rows
    assert data(p) == before_data
    assert_end_state(p)


def test_switched_from_auth_user(db_project: Project) -> None:
    """Migrated on auth.User, then switched to accounts.User: migrate refuses with
    InconsistentMigrationHistory. The users are in auth_user, so the reset refuses and points at
    swap_user_model, changing nothing."""
    p = db_project
    models, admin, initial = (
        p.read(f)
        for f in ("accounts/models.py", "accounts/admin.py", "accounts/migrations/0001_initial.py")
    )
    p.write("accounts/models.py", "")
    p.write("accounts/admin.py", "")
    p.remove("accounts/migrations/0001_initial.py")
    p.set_setting("AUTH_USER_MODEL", "'auth.User'")
    p.migrate()
    p.ok("shell", "-c", SEED, **UNMEASURED)
    p.write("accounts/models.py", models)
    p.write("accounts/admin.py", admin)
    p.write("accounts/migrations/0001_initial.py", initial)
    p.set_setting("AUTH_USER_MODEL", "'accounts.User'")
    broken = p.manage("migrate", "--noinput")
    assert broken.code == 1
    assert (
        "InconsistentMigrationHistory: Migration admin.0001_initial is applied before its "
        "dependency accounts.0001_initial on database 'default'."
    ) in broken.err
    before_data, before_rows, before_files = data(p, "auth_user"), rows(p), files(p)

    # A reset would create empty accounts tables and nobody could log in: the users are in
    # auth_user. It refuses in its preflight, in one line, and names the swap (which moves them:
    # tests/test_diagnose_fixes.py runs it).
    refused = p.manage("reset_user_migrations", "--noinput")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        "CommandError: The database was built on auth.User (django_admin_log.user_id "
        "references 'auth_user') and has no table of 'accounts': a reset would create empty "
        "tables and nobody could log in. Move the users instead: python manage.py "
        "swap_user_model --from auth.User. Nothing was changed.\n"
    )
    assert (data(p, "auth_user"), rows(p), files(p)) == (before_data, before_rows, before_files)
    assert "accounts_user" not in p.db.tables()
    assert p.manage("reset_user_migrations", "--via-auth-user", "--noinput").err == refused.err


def test_deleted_migrations_are_recorded_not_reapplied(db_project: Project) -> None:
    """accounts' migration file was deleted after migrate and shop's new migration names it:
    the tables exist, so the new initial migration is recorded as applied (introspected),
    never run again; then shop's migration, blocked until now, is applied."""
    p = db_project
    p.migrate()
    p.ok("shell", "-c", SEED, **UNMEASURED)
    p.remove("accounts/migrations/0001_initial.py")
    p.write(
        "shop/migrations/0002_order_note.py",
        SHOP_0002.replace("0001_squashed_0002_user_nickname", "0001_initial"),
    )
    models = p.read("shop/models.py")
    p.write(
        "shop/models.py",
        models.replace(
            "    created =",
            "    note = models.CharField(max_length=20, blank=True)\n    created =",
        ),
    )
    broken = p.manage("migrate", "--noinput")
    assert broken.code == 1
    # Django's loader stops at the first of the two (which one depends on the system checks run)
    assert re.search(
        r"NodeNotFoundError|ValueError: Dependency on app with no migrations: accounts", broken.err
    ), broken.err
    before_data, before_rows = data(p), rows(p)
    (old,) = [r for r in before_rows if r[1] == "accounts"]

    run = p.ok("reset_user_migrations", "accounts", "--via-auth-user", "--noinput")
    assert plan_lines(run.out) == [
        "1. Point 1 other migration file(s) at ('accounts', '__first__') while makemigrations runs",
        "2. Run makemigrations accounts with AUTH_USER_MODEL='auth.User' (asked for with "
        "--via-auth-user)",
        "3. Point those dependencies at the new last migration of 'accounts'",
        "4. Delete 1 row(s) of 'accounts' from django_migrations",
        "5. Record accounts.0001_initial as applied: the database has its tables and columns",
        "6. Run makemigrations accounts with the real AUTH_USER_MODEL (now that the history is "
        "consistent) and apply what it writes, if anything",
        "7. Run migrate for 1 migration(s) of other apps that could not run before",
    ]
    assert f"       id {old[0]}: accounts.0001_initial (applied " in run.out
    assert (
        "       shop/migrations/0002_order_note.py: unchanged, ('accounts', '0001_initial')\n"
        in (run.out)
    )
    assert "       shop.0002_order_note: AddField\n" in run.out
    assert run.out.splitlines()[-7:-2] == ["Generated: 0001_initial", *VERIFIED]
    assert run.out.splitlines()[-1] == "Done; verified."
    after = rows(p)
    (new,) = [r for r in after if r[1] == "accounts"]
    assert new[0] != old[0] and new[2] == "0001_initial"
    assert [r[:3] for r in after if r[1] != "accounts"] == [
        r[:3] for r in before_rows if r[1] != "accounts"
    ] + [(after[-1][0], "shop", "0002_order_note")]
    assert data(p) == before_data
    assert_end_state(p)


def test_failed_verification_says_what_and_how_to_restore(project: Project) -> None:
    """A blocked migration of another app that would drop a column is not applied for the
    user: the plan says so, verification fails on migrate --check and names the way back."""
    p = project
    p.migrate()
    p.ok("shell", "-c", SEED, **UNMEASURED)
    p.remove("accounts/migrations/0001_initial.py")
    p.write(
        "shop/migrations/0002_remove_order_created.py",
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("shop", "0001_initial"), ("accounts", "0001_initial")]\n'
        '    operations = [migrations.RemoveField("order", "created")]\n',
    )
    p.write("shop/models.py", re.sub(r"    created = .*\n", "", p.read("shop/models.py")))
    before_data = data(p)
    run = p.manage("reset_user_migrations", "--noinput")
    backup = backup_of(run.out)
    assert run.code == 1
    assert (
        "  Note: Not applied, as they may drop data: shop.0002_remove_order_created; back up the "
        "database and run migrate yourself (until then migrate --check fails).\n"
    ) in run.out
    assert run.out.splitlines()[-6:] == [
        "Generated: 0001_initial",
        "Verify migrate --check: FAILED: unapplied migrations",
        "Verify makemigrations --check: ok",
        "Verify check: ok",
        "Verify diagnose_user_model (migrations): ok",
        f"Backup: {backup}",
    ]
    assert run.err == (
        "CommandError: Verification failed: migrate --check: unapplied migrations. "
        f"Undo with --restore {backup}.\n"
    )
    assert data(p) == before_data  # the column is still there too
    assert "created" in {c[1] for c in p.db.query("SELECT * FROM pragma_table_info('shop_order')")}


# --- bad input: a clear one-line error, nothing changed ---------------------------------------


def _unchanged(p: Project, snapshot: tuple[Any, ...]) -> None:
    assert (files(p), rows(p)) == snapshot
    assert not (p.path / ".authtools-backups").exists()


def test_bad_input_changes_nothing(project: Project) -> None:
    p = project
    p.migrate()
    snapshot = (files(p), rows(p))

    def error(*args: str, **env: str) -> str:
        result = p.manage("reset_user_migrations", "--noinput", *args, **env)
        assert (result.code, result.out) == (1, ""), str(result)
        _unchanged(p, snapshot)
        return result.err

    assert error("nosuch") == (
        "CommandError: No installed app with label 'nosuch'; pass the label of an app in "
        "INSTALLED_APPS. Nothing was changed.\n"
    )
    assert error("authtools") == (
        "CommandError: App 'authtools' has no models: there are no migrations to reset. "
        "Nothing was changed.\n"
    )
    assert error("sessions").startswith(
        "CommandError: Migrations of 'sessions' live outside the project ("
    )
    assert error("--force") == "CommandError: --force only applies to --reset-db.\n"
    assert error("--restore", str(p.path / "nowhere")) == (
        f"CommandError: Cannot restore from '{p.path / 'nowhere'}': '{p.path / 'nowhere'}' is not "
        "an authtools backup (no manifest.json). Nothing was changed.\n"
    )
    unreachable = error(TESTPROJECT_DB="postgresql", TESTPROJECT_DB_PORT="1")
    assert unreachable.startswith("CommandError: Cannot connect to the database 'default' (")
    assert unreachable.endswith("; start it or fix DATABASES. Nothing was changed.\n")
    assert len(unreachable.splitlines()) == 1
    p.set_setting("DEBUG", "False")
    assert error("--reset-db") == (
        "CommandError: --reset-db drops the whole database and is for development only: "
        "refused because DEBUG is False. Pass --force if this really is a development "
        "database. Nothing was changed.\n"
    )
    p.set_setting("DEBUG", "True")

    # A missing migrations package.
    p.remove("profiles/migrations")
    snapshot = (files(p), rows(p))
    assert error("profiles") == (
        "CommandError: App 'profiles' has no migrations package 'profiles.migrations'; create "
        "profiles/migrations/__init__.py (or run makemigrations profiles). Nothing was changed.\n"
    )


def _write_probe(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def test_read_only_migrations_folder(project: Project) -> None:
    """chmod does not stop root, who runs these tests in CI: as root the folder is made
    immutable (chattr +i) instead, and the test first proves that it really refuses writes."""
    p = project
    p.migrate()
    folder = p.path / "accounts" / "migrations"
    snapshot = (files(p), rows(p))
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"running as root and chattr +i is refused: {made.stderr.strip()}")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    try:
        assert not _write_probe(folder)
        result = p.manage("reset_user_migrations", "--noinput")
    finally:
        subprocess.run(undo, check=True)
    assert (result.code, result.out) == (1, "")
    assert re.fullmatch(
        r"CommandError: Migrations folder '.*/accounts/migrations' is (not writable|Operation not "
        r"permitted|Permission denied); make it writable and run again\. Nothing was changed\.\n",
        result.err,
    ), result.err
    _unchanged(p, snapshot)


def test_reset_db(db_project: Project) -> None:
    """--reset-db (DEBUG is True in the test project): save the rows, drop, recreate, migrate."""
    p = db_project
    p.migrate()
    p.ok("shell", "-c", SEED, **UNMEASURED)
    p.remove("accounts/migrations/0001_initial.py")
    run = p.ok("reset_user_migrations", "--reset-db", "--noinput")
    assert plan_lines(run.out) == [
        "1. Run makemigrations accounts with the real AUTH_USER_MODEL",
        f"2. Drop and recreate database {p.db.name!r} with django-extensions' reset_db (every "
        "table and row in it is lost)",
        "3. Run migrate on the empty database",
    ]
    assert run.out.splitlines()[-1] == "Done; verified."
    assert p.db.query("SELECT COUNT(*) FROM accounts_user") == [(0,)]
    # The rows went into the backup first, as loaddata reads them.
    dump = backup_of(run.out) / "data.json"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    saved = json.loads(dump.read_text())
    assert sorted(o["fields"]["username"] for o in saved if o["model"] == "accounts.user") == [
        "alice",
        "bob",
    ]
    assert_end_state(p)
