"""Shared by the swap_user_model tests: the seed data, snapshots of every row a user checks,
the schema as introspection sees it, and the checks that must be clean after a swap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import TESTPROJECT, UNMEASURED, Database, Project

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
        [u.pk, getattr(u, "username", None), u.password, u.email, u.is_staff, u.is_superuser,
         u.is_active,
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
    "perms_of_alice": sorted(
        User.objects.get(email="alice@example.com").get_all_permissions()
    ),
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


VERIFY = """
import json, os
from authtools.procedures.swap.spec import SwapSpec
from authtools.procedures.swap.verify import verify
spec = SwapSpec.from_dict(json.load(open(os.environ["SWAP_SPEC"])))
print(json.dumps(verify(spec)))
"""


def verified(project: Project, spec: str | Path) -> list[str]:
    """What the swap's verification says now of the swap whose spec is SPEC (a backup's
    swap-spec.json): one line a difference, none when the end state is complete."""
    out = project.ok("shell", "-v", "0", "-c", VERIFY, SWAP_SPEC=str(spec)).out
    failures: list[str] = json.loads(out)
    return failures


def before_state(project: Project) -> None:
    """The project on auth.User, migrated and used."""
    project.set_setting("AUTH_USER_MODEL", '"auth.User"')
    project.write("accounts/models.py", '"""No user model yet: the project uses auth.User."""\n')
    project.write("accounts/admin.py", "")
    project.remove("accounts/migrations/0001_initial.py")
    project.migrate()
    instrument(project, SEED)


def write_new_model(project: Project) -> None:
    """What the user did: the custom model, its migration, AUTH_USER_MODEL pointing at it."""
    for rel in ("accounts/models.py", "accounts/admin.py"):
        project.write(rel, (TESTPROJECT / rel).read_text())
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    # --skip-checks: authtools.E401 (no migrations yet) would block the command that fixes it.
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")


def relabelled(data: dict[str, Any], old: str = "auth", new: str = "accounts") -> dict[str, Any]:
    """The snapshot after the swap: the user model's permissions carry the new app label."""
    data = json.loads(json.dumps(data))

    def label(perm: str) -> str:
        app, _, codename = perm.partition(".")
        return f"{new}.{codename}" if app == old and codename.endswith("_user") else perm

    data["group_permissions"] = sorted(
        [g, *label(f"{app}.{code}").split(".")] for g, app, code in data["group_permissions"]
    )
    data["user_permissions"] = sorted([pk, label(p)] for pk, p in data["user_permissions"])
    data["perms_of_alice"] = sorted(label(p) for p in data["perms_of_alice"])
    return data


def instrument(project: Project, code: str, **env: str) -> str:
    """Run one of the tests' own scripts (SEED, SNAPSHOT, SCHEMA, login) in ``manage.py shell``,
    not measured by coverage (see conftest.UNMEASURED); return its output."""
    return project.ok("shell", "-v", "0", "-c", code, **UNMEASURED, **env).out


def snapshot(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(instrument(project, SNAPSHOT))
    return data


def schema(project: Project, **env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(instrument(project, SCHEMA, **env))
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


def sqlite_index_names(data: dict[str, Any]) -> dict[str, Any]:
    """SQLite cannot rename an index without rebuilding it: the swap keeps their names."""
    for table in data.values():
        table["constraints"] = {
            ("index" if info[4] else name) + ":" + json.dumps(info): info
            for name, info in table["constraints"].items()
        }
    return data


def login(project: Project, username: str, password: str) -> str:
    """The pk authenticate() returns for USERNAME/PASSWORD, as printed ('None' if refused)."""
    return instrument(
        project,
        "from django.contrib.auth import authenticate; "
        f"print(getattr(authenticate(username={username!r}, password={password!r}), 'pk', None))",
    ).strip()


def assert_clean(project: Project) -> None:
    """migrate, migrate --check, makemigrations --check, check and diagnose_user_model: clean.
    migrate (which may change the database) runs alone; the four read-only commands after it
    run in one Django start (Project.manage_each), each with its own output and exit status."""
    assert project.ok("migrate", "--no-input").out.endswith("No migrations to apply.\n")
    migrate_check, makemigrations, check, diagnose = project.manage_each(
        ("migrate", "--check"),
        ("makemigrations", "--check", "--dry-run"),
        ("check",),
        ("diagnose_user_model",),
    )
    assert migrate_check.code == 0, str(migrate_check)
    assert makemigrations.code == 0, str(makemigrations)
    assert makemigrations.out == "No changes detected\n", str(makemigrations)
    assert check.code == 0, str(check)
    assert check.out == "System check identified no issues (0 silenced).\n", str(check)
    assert diagnose.code == 0, str(diagnose)
    assert diagnose.out.endswith("No problems found.\n"), str(diagnose)


def fresh_database(project: Project, tmp_path: Path) -> Database:
    folder = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    folder.mkdir()
    fresh = Database(project.db.vendor, folder)
    fresh.create()
    return fresh


def fresh_schema(project: Project, tmp_path: Path) -> dict[str, Any]:
    """The schema an empty database gets from the project's migrations (the database dropped)."""
    fresh = fresh_database(project, tmp_path)
    try:
        project.ok("migrate", "--no-input", "-v", "0", **fresh_env(project, fresh))
        return schema(project, **fresh_env(project, fresh))
    finally:
        fresh.drop()


def assert_same_schema_as_fresh_migrate(project: Project, tmp_path: Path) -> None:
    """An empty database builds from the migrations, with the schema the swap left."""
    built = fresh_schema(project, tmp_path)
    swapped = schema(project)
    if project.db.vendor == "mysql":
        built, swapped = mysql_fk_names(built), mysql_fk_names(swapped)
    if project.db.vendor == "sqlite":
        built, swapped = sqlite_index_names(built), sqlite_index_names(swapped)
    assert swapped == built


def add_app(project: Project, app: str, before: str = "accounts") -> None:
    """Add APP to INSTALLED_APPS, before BEFORE."""
    text = project.settings_file.read_text()
    project.settings_file.write_text(
        text.replace(f'    "{before}",', f'    "{app}",\n    "{before}",')
    )


def remove_app(project: Project, app: str) -> None:
    """What a user does once the old model is gone: the app leaves INSTALLED_APPS and the tree."""
    text = project.settings_file.read_text()
    project.settings_file.write_text(text.replace(f'    "{app}",\n', ""))
    project.remove(app)
