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
from typing import Any

import pytest

from .conftest import TESTPROJECT, Database, Project

SEED = """
from decimal import Decimal
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from profiles.models import Profile
from shop.models import Order

User = get_user_model()
editors = Group.objects.create(name="editors")
buyers = Group.objects.create(name="buyers")
editors.permissions.add(Permission.objects.get(codename="change_user"))
alice = User.objects.create_user("alice", "alice@example.com", "alice-pass-1", is_staff=True)
bob = User.objects.create_user("bob", "bob@example.com", "bob-pass-2")
root = User.objects.create_superuser("root", "root@example.com", "root-pass-3")
User.objects.create_user("carol", "carol@example.com", "carol-pass-4", is_active=False).delete()
dave = User.objects.create_user("dave", "dave@example.com", "dave-pass-5")
alice.groups.add(editors, buyers)
bob.groups.add(buyers)
alice.user_permissions.add(
    Permission.objects.get(codename="view_user"), Permission.objects.get(codename="add_order")
)
for user, total in ((alice, "10.50"), (bob, "3.00"), (bob, "7.25"), (dave, "1.00")):
    Order.objects.create(user=user, total=Decimal(total))
Profile.objects.create(user=alice, bio="hello")
for user in (bob, root, dave):
    Profile.objects.create(user=user, bio="")
LogEntry.objects.create(
    user=alice, content_type=ContentType.objects.get_for_model(User), object_id=str(bob.pk),
    object_repr="bob", action_flag=CHANGE, change_message="[]",
)
LogEntry.objects.create(
    user=alice, content_type=ContentType.objects.get_for_model(Order), object_id="1",
    object_repr="Order 1", action_flag=ADDITION, change_message="[]",
)
"""

# Everything a user checks, read through the ORM of whichever model is current.
SNAPSHOT = """
import json
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from profiles.models import Profile
from shop.models import Order

User = get_user_model()
print(json.dumps({
    "users": [
        [u.pk, u.username, u.password, u.email, u.is_staff, u.is_superuser, u.is_active,
         u.date_joined.isoformat()]
        for u in User.objects.order_by("pk")
    ],
    "groups": sorted([u.pk, g.name] for u in User.objects.all() for g in u.groups.all()),
    "group_permissions": sorted(
        [g.name, p.content_type.app_label, p.codename]
        for g in Group.objects.all() for p in g.permissions.all()
    ),
    "user_permissions": sorted(
        [u.pk, p.content_type.app_label + "." + p.codename]
        for u in User.objects.all() for p in u.user_permissions.all()
    ),
    "perms_of_alice": sorted(User.objects.get(username="alice").get_all_permissions()),
    "log": [
        [e.pk, e.user_id, e.content_type.model, e.object_id, e.action_flag]
        for e in LogEntry.objects.order_by("pk")
    ],
    "orders": [[o.pk, o.user_id, str(o.total)] for o in Order.objects.order_by("pk")],
    "profiles": [[p.pk, p.user_id, p.bio] for p in Profile.objects.order_by("pk")],
}))
"""

# The schema as Django's introspection sees it, to compare with a database built by migrate.
SCHEMA = """
import json
from django.db import connection
out = {}
with connection.cursor() as cursor:
    for table in sorted(connection.introspection.table_names(cursor)):
        columns = [
            [c.name, c.type_code if connection.vendor != "postgresql" else str(c.type_code),
             c.null_ok]
            for c in connection.introspection.get_table_description(cursor, table)
        ]
        constraints = {
            name: [info["columns"], info["primary_key"], info["unique"], info["foreign_key"],
                   info["index"]]
            for name, info in connection.introspection.get_constraints(cursor, table).items()
        }
        out[table] = {"columns": sorted(columns, key=str), "constraints": constraints}
print(json.dumps(out, sort_keys=True, default=str))
"""


def before_state(project: Project) -> None:
    """The project on auth.User, migrated and used."""
    project.set_setting("AUTH_USER_MODEL", '"auth.User"')
    project.write("accounts/models.py", '"""No user model yet: the project uses auth.User."""\n')
    project.write("accounts/admin.py", "")
    project.remove("accounts/migrations/0001_initial.py")
    project.migrate()
    project.ok("shell", "-v", "0", "-c", SEED)


def write_new_model(project: Project) -> None:
    """What the user did: the custom model, its migration, AUTH_USER_MODEL pointing at it."""
    for rel in ("accounts/models.py", "accounts/admin.py"):
        project.write(rel, (TESTPROJECT / rel).read_text())
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    # --skip-checks: authtools.E401 (no migrations yet) would block the command that fixes it.
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")


def relabelled(data: dict[str, Any]) -> dict[str, Any]:
    """The snapshot after the swap: the user permissions' app label is the new model's."""
    data = json.loads(json.dumps(data))
    data["group_permissions"] = [
        ["editors", "accounts", "change_user"] if p == ["editors", "auth", "change_user"] else p
        for p in data["group_permissions"]
    ]
    for key in ("user_permissions",):
        data[key] = [[pk, p.replace("auth.", "accounts.")] for pk, p in data[key]]
    data["perms_of_alice"] = sorted(p.replace("auth.", "accounts.") for p in data["perms_of_alice"])
    return data


def snapshot(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(project.ok("shell", "-v", "0", "-c", SNAPSHOT).out)
    return data


def schema(project: Project, **env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(project.ok("shell", "-v", "0", "-c", SCHEMA, **env).out)
    return data


def fresh_env(project: Project, fresh: Database) -> dict[str, str]:
    return {"TESTPROJECT_DB": fresh.vendor, "TESTPROJECT_DB_NAME": fresh.name}


def mysql_fk_names(data: dict[str, Any]) -> dict[str, Any]:
    """MySQL cannot rename a foreign key: drop FK constraint names (they keep 'auth_user')."""
    for table in data.values():
        table["constraints"] = {
            ("fk" if info[3] else name) + ":" + json.dumps(info): info
            for name, info in table["constraints"].items()
        }
    return data


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
        line.endswith(". Record migrations accounts.0001_initial as applied") for line in lines
    ), dry.out
    assert project.db.tables() == tables_before

    sql = project.manage("swap_user_model", "--from", "auth.User", "--sql")
    assert sql.code == 0, str(sql)
    statements = sql.out.splitlines()
    assert all(s.endswith(";") for s in statements), sql.out
    assert statements[0].startswith(("ALTER TABLE", "RENAME TABLE"))
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
    fresh = Database(project.db.vendor, tmp_path / "fresh")
    if fresh.vendor == "sqlite":
        (tmp_path / "fresh").mkdir()
        fresh.name = str(tmp_path / "fresh" / "db.sqlite3")
    fresh.create()
    try:
        project.ok("migrate", "--no-input", "-v", "0", **fresh_env(project, fresh))
        built = schema(project, **fresh_env(project, fresh))
    finally:
        fresh.drop()
    swapped = schema(project)
    if project.db.vendor == "mysql":
        built, swapped = mysql_fk_names(built), mysql_fk_names(swapped)
    assert swapped == built


def test_refuses_a_bigautofield_primary_key(project: Project) -> None:
    before_state(project)
    write_new_model(project)
    project.write(
        "accounts/apps.py",
        "from django.apps import AppConfig\n\n\nclass AccountsConfig(AppConfig):\n"
        "    name = 'accounts'\n    default_auto_field = 'django.db.models.BigAutoField'\n",
    )
    project.remove("accounts/migrations/0001_initial.py")
    # --skip-checks: authtools.E401 (no migrations yet) would block the command that fixes it.
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    result = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert result.code == 1
    assert result.err == (
        "CommandError: Refused: accounts.User's primary key would be a BigAutoField "
        "('bigint') but auth_user.id is 'INTEGER' (auth.User's AutoField): add "
        "`id = models.AutoField(primary_key=True)` to "
        "accounts.User (or set default_auto_field = 'django.db.models.AutoField' on its app "
        "config), regenerate its migration and run the swap again. Nothing was changed.\n"
    )
    assert "auth_user" in project.db.tables()


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


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_interrupted_swap_rolls_back_or_resumes(db_project: Project, tmp_path: Path) -> None:
    """SIGKILL after a step (no transactional DDL on MariaDB): --rollback restores the before
    state, --resume reaches the after state, with every row there."""
    project = db_project
    before_state(project)
    expected = snapshot(project)
    write_new_model(project)
    backups = tmp_path / "backups"
    args = ("swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(backups))
    tables_before = project.db.tables()

    killed = project.manage(*args, AUTHTOOLS_SWAP_KILL_AT_STEP="rename-table-3")
    assert killed.code == -9, str(killed)
    assert "accounts_user_groups" in project.db.tables()
    undone = project.manage("swap_user_model", "--rollback", "--backup-dir", str(backups))
    assert undone.code == 0, str(undone)
    assert undone.out == "Undid 2 steps; the database is as before the swap.\n"
    assert project.db.tables() == tables_before

    killed = project.manage(*args, AUTHTOOLS_SWAP_KILL_AT_STEP="contenttypes")
    assert killed.code == -9, str(killed)
    resumed = project.manage("swap_user_model", "--resume", "--backup-dir", str(backups))
    assert resumed.code == 0, str(resumed)
    assert "Done; verified." in resumed.out
    assert snapshot(project) == relabelled(expected)
    project.ok("migrate", "--check")
