"""swap_user_model end to end, in subprocesses, on SQLite, PostgreSQL and MariaDB.

Each test builds the state people are in when they need the swap: a project migrated and used
on auth.User (users, groups, permissions, admin log, orders, profiles), then the custom model
written, its migration made and AUTH_USER_MODEL pointed at it, so that migrate fails with
InconsistentMigrationHistory.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    assert_same_schema_as_fresh_migrate,
    before_state,
    relabelled,
    snapshot,
    write_new_model,
)


def test_swap_from_auth_user_keeps_every_row(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    expected = snapshot(project)
    assert [u[1] for u in expected["users"]] == ["alice", "bob", "root", "dave"]
    write_new_model(project)
    broken = project.manage("migrate", "--no-input")
    assert broken.code == 1
    assert "InconsistentMigrationHistory" in broken.err
    tables_before = project.db.tables()

    dry = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert dry.code == 0, str(dry)
    lines = dry.out.splitlines()
    assert lines[0] == "Plan (swap_user_model):"
    assert lines[1] == "  1. Rename table 'auth_user' to 'accounts_user'"
    assert lines[-1] == "Dry run: nothing was changed."
    assert any(
        line.endswith(". Record migration accounts.0001_initial as applied") for line in lines
    ), dry.out
    assert project.db.tables() == tables_before

    sql = project.manage("swap_user_model", "--from", "auth.User", "--sql")
    assert sql.code == 0, str(sql)
    statements = sql.out.splitlines()
    assert all(s.endswith(";") for s in statements), sql.out
    if project.db.vendor == "mysql":
        # MariaDB: the tables of the lock order write-locked around the rename (RENAME TABLE
        # would wait for the row locks of the application's open transactions), all or none.
        assert statements[:3] == [
            "LOCK TABLES `django_admin_log` WRITE, `profiles_profile` WRITE, `shop_order` WRITE, "
            "`auth_user_groups` WRITE, `auth_user_user_permissions` WRITE, `auth_user` WRITE, "
            "`django_migrations` WRITE NOWAIT;",
            "ALTER TABLE `auth_user` RENAME TO `accounts_user`;",
            "UNLOCK TABLES;",
        ], sql.out
        assert statements[3].startswith("LOCK TABLES `django_admin_log` WRITE, "), sql.out
        assert "`accounts_user` WRITE" in statements[3], sql.out
    else:
        assert statements[0].startswith("ALTER TABLE")
        assert "auth_user" in statements[0] and "accounts_user" in statements[0]
    assert statements[-1].startswith("INSERT INTO") and "'0001_initial'" in statements[-1]
    assert project.db.tables() == tables_before

    backups = tmp_path / "backups"
    run = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(backups)
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    tables = project.db.tables()
    assert {"accounts_user", "accounts_user_groups", "accounts_user_user_permissions"} <= tables
    assert not {"auth_user", "auth_user_groups", "auth_user_user_permissions"} & tables

    # Every row, same ids, same password hashes; logins work; Django's four checks are clean.
    assert snapshot(project) == relabelled(expected)
    assert project.ok("migrate", "--no-input").out.endswith("No migrations to apply.\n")
    project.ok("migrate", "--check")
    assert project.ok("makemigrations", "--check", "--dry-run").out == "No changes detected\n"
    project.ok("check")
    login = project.ok(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.contrib.auth import authenticate; "
        "print(authenticate(username='dave', password='dave-pass-5').pk)",
    )
    assert login.out == f"{expected['users'][-1][0]}\n"
    diagnose = project.manage("diagnose_user_model")
    assert diagnose.code == 0, str(diagnose)
    assert diagnose.out.endswith("No problems found.\n")
    # The next user gets the id after the highest one.
    created = project.ok(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "print(get_user_model().objects.create_user('erin', password='x').pk)",
    )
    assert int(created.out) == expected["users"][-1][0] + 1

    # The backup: private folder, private files, the spec and the metadata rows.
    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "journal.json",
        "metadata.json",
        "swap-spec.json",
    }
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    metadata = json.loads((folder / "metadata.json").read_text())
    assert [(r["app_label"], r["model"]) for r in metadata["content_types"]] == [("auth", "user")]

    # An empty database still builds from the migrations, and builds the same schema.
    assert_same_schema_as_fresh_migrate(project, tmp_path)


def test_refuses_unapplied_migrations_and_unknown_foreign_keys(project: Project) -> None:
    before_state(project)
    project.db.query(
        "CREATE TABLE legacy_note (id integer PRIMARY KEY, "
        "author_id integer REFERENCES auth_user (id))"
    )
    write_new_model(project)
    result = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert result.code == 1
    assert result.err == (
        "CommandError: Refused: the foreign key legacy_note.author_id -> auth_user.id (unnamed) "
        "belongs to no installed model that points at accounts.User: install its app or drop "
        "the constraint, then run the swap again. Nothing was changed.\n"
    )
    project.db.query("DROP TABLE legacy_note")
    project.write(
        "shop/migrations/0002_order_note.py",
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
        "    operations = [migrations.AddField('order', 'note', models.TextField(default=''))]\n",
    )
    result = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert result.code == 1
    assert result.err.startswith(
        "CommandError: Refused: migrations of other apps are not applied (shop.0002_order_note)"
    )
