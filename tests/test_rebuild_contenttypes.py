"""rebuild_contenttypes end to end, in subprocesses, on SQLite, PostgreSQL and MariaDB.

Two states people are in: a user model moved from auth.User to accounts.User (both content
type rows exist, the old one holding the permissions, assignments and log entries), and a
project whose models were renamed, moved to another app or removed, with a third app holding
generic relations (a ContentType foreign key) to them.
"""

from __future__ import annotations

from typing import Any

from .conftest import Project

USED_ON_AUTH_USER = """
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType

ct = ContentType.objects.get_for_model(User)
alice = User.objects.create_user("alice")
bob = User.objects.create_user("bob")
editors = Group.objects.create(name="editors")
editors.permissions.add(*Permission.objects.filter(content_type=ct))
alice.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "add_user"]))
bob.user_permissions.add(Permission.objects.get(codename="view_user"))
LogEntry.objects.create(user=alice, content_type=ct, object_id=str(bob.pk), object_repr="bob",
                        action_flag=CHANGE, change_message="[]")
LogEntry.objects.create(user=bob, content_type=ct, object_id=str(bob.pk), object_repr="bob",
                        action_flag=ADDITION, change_message="[]")
"""

# What a swap leaves: the accounts tables with the users and their permission rows copied,
# and accounts.user's content type and permissions created (as migrate's post_migrate does).
SWAPPED = """
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.db import connection
from accounts.models import User

with connection.schema_editor() as editor:
    editor.create_model(User)
columns = ", ".join(connection.ops.quote_name(f.column) for f in User._meta.concrete_fields)
with connection.cursor() as cursor:
    cursor.execute(f"INSERT INTO accounts_user ({columns}) SELECT {columns} FROM auth_user")
    cursor.execute(
        "INSERT INTO accounts_user_user_permissions (user_id, permission_id) "
        "SELECT user_id, permission_id FROM auth_user_user_permissions"
    )
create_permissions(apps.get_app_config("accounts"), verbosity=0)
"""

TABLES = {
    "django_content_type": "id, app_label, model",
    "auth_permission": "id, content_type_id, codename, name",
    "auth_group_permissions": "id, group_id, permission_id",
    "auth_user_user_permissions": "id, user_id, permission_id",
    "accounts_user_user_permissions": "id, user_id, permission_id",
    "django_admin_log": "id, user_id, content_type_id, object_id",
}


def dump(project: Project, tables: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    present = project.db.tables()
    return {
        table: sorted(project.db.query(f"SELECT {cols} FROM {table}"))
        for table, cols in tables.items()
        if table in present
    }


def ct_id(project: Project, label: str) -> int | None:
    app_label, model = label.split(".")
    rows = project.db.query(
        "SELECT id FROM django_content_type WHERE app_label = %s AND model = %s",
        [app_label, model],
    )
    return rows[0][0] if rows else None


def assignments(project: Project, table: str, owner: str) -> list[tuple[str, str, str, str]]:
    """(owner, app_label, model, codename) of every row of a permission link table."""
    owner_table = {
        "auth_group_permissions": "auth_group",
        "auth_user_user_permissions": "auth_user",
        "accounts_user_user_permissions": "accounts_user",
    }[table]
    name = "name" if owner == "group_id" else "username"
    return sorted(
        project.db.query(
            f"SELECT o.{name}, ct.app_label, ct.model, p.codename FROM {table} a "
            f"JOIN {owner_table} o ON o.id = a.{owner} "
            "JOIN auth_permission p ON p.id = a.permission_id "
            "JOIN django_content_type ct ON ct.id = p.content_type_id"
        )
    )


def backup_folder(result_out: str) -> str:
    line = next(line for line in result_out.splitlines() if line.startswith("Backup: "))
    return line.removeprefix("Backup: ")


def test_user_model_moved_from_auth_user(db_project: Project) -> None:
    p = db_project
    settings = p.settings_file.read_text()
    p.set_setting("AUTH_USER_MODEL", "'auth.User'")
    p.settings_file.write_text(p.settings_file.read_text().replace('    "accounts",\n', ""))
    p.migrate()
    p.ok("shell", "-c", USED_ON_AUTH_USER)
    p.settings_file.write_text(settings)
    p.ok("shell", "-c", SWAPPED)
    old, new = ct_id(p, "auth.user"), ct_id(p, "accounts.user")
    assert old is not None and new is not None
    before = dump(p, TABLES)

    # Unknown labels: one line, nothing changed.
    bad = p.manage("rebuild_contenttypes", "--noinput", "--remap", "auth.user=nosuch.model")
    assert (bad.code, bad.out) == (1, ""), bad
    assert bad.err == (
        "CommandError: --remap auth.user=nosuch.model: 'nosuch.model' is not an installed model; "
        "name the successor as APP_LABEL.MODEL of an installed app. Nothing was changed.\n"
    )
    bad = p.manage("rebuild_contenttypes", "--noinput", "--remap", "auth.user")
    assert bad.code == 1 and len(bad.err.splitlines()) == 1 and "OLD_APP.MODEL" in bad.err, bad
    assert dump(p, TABLES) == before

    dry = p.ok("rebuild_contenttypes", "--dry-run")
    assert dry.out == (
        "Plan (rebuild_contenttypes):\n"
        "  1. Remap 1 stale content type to its successor\n"
        f"       auth.user -> accounts.user (swapped-out user model): move its references to id "
        f"{new} and delete id {old}; 4 permissions, 10 permission assignments, 2 log entries\n"
        "Dry run: nothing was changed.\n"
    )
    assert dump(p, TABLES) == before

    run = p.ok("rebuild_contenttypes", "--noinput", "--backup-dir", str(p.path / "bk"))
    assert run.out.splitlines()[-3:-1] == [
        "Remapped auth.user -> accounts.user: merged into the successor's row, "
        "4 permissions merged with their twins, 10 assignments moved, 2 log entries moved",
        f"Backup: {backup_folder(run.out)}",
    ]
    assert ct_id(p, "auth.user") is None and ct_id(p, "accounts.user") == new
    moved = [
        ("alice", "accounts", "user", "add_user"),
        ("alice", "accounts", "user", "view_user"),
        ("bob", "accounts", "user", "view_user"),
    ]
    assert assignments(p, "accounts_user_user_permissions", "user_id") == moved
    assert assignments(p, "auth_user_user_permissions", "user_id") == moved
    assert assignments(p, "auth_group_permissions", "group_id") == [
        ("editors", "accounts", "user", c)
        for c in ["add_user", "change_user", "delete_user", "view_user"]
    ]
    assert sorted(p.db.query("SELECT content_type_id FROM django_admin_log")) == [(new,), (new,)]
    assert p.db.query("SELECT COUNT(*) FROM auth_permission WHERE content_type_id = %s", [old]) == [
        (0,)
    ]
    again = p.ok("rebuild_contenttypes", "--noinput")
    assert again.out == "Nothing to do.\n"

    restored = p.ok(
        "rebuild_contenttypes",
        "--noinput",
        "--restore",
        backup_folder(run.out),
        "--backup-dir",
        str(p.path / "bk2"),
    )
    assert restored.out.splitlines()[-1] == "Done; verified."
    assert dump(p, TABLES) == before


TAGS_MODELS = """
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class TaggedItem(models.Model):
    tag = models.CharField(max_length=30)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    item = GenericForeignKey("content_type", "object_id")
"""

SHOP_BEFORE = """

class Coupon(models.Model):
    code = models.CharField(max_length=10)


class Gift(models.Model):
    wrapped = models.BooleanField(default=False)

    class Meta:
        permissions = [("wrap_gift", "Can wrap gifts")]


class Note(models.Model):
    text = models.TextField()
"""

SHOP_AFTER = """

class Present(models.Model):
    wrapped = models.BooleanField(default=False)

    class Meta:
        permissions = [("wrap_gift", "Can wrap gifts")]
"""

BILLING_MODELS = """
from django.db import models


class Coupon(models.Model):
    code = models.CharField(max_length=10)
"""

USED = """
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from shop.models import Coupon, Gift, Note
from tags.models import TaggedItem

alice = get_user_model().objects.create_user("alice")
staff = Group.objects.create(name="staff")
for model in (Coupon, Gift, Note):
    ct = ContentType.objects.get_for_model(model)
    obj = model.objects.create()
    staff.permissions.add(*Permission.objects.filter(content_type=ct))
    alice.user_permissions.add(Permission.objects.get(content_type=ct, codename__startswith="view"))
    TaggedItem.objects.create(tag=ct.model, item=obj)
    LogEntry.objects.create(user=alice, content_type=ct, object_id=str(obj.pk),
                            object_repr=ct.model, action_flag=CHANGE, change_message="[]")
"""

GENERIC_TABLES = {**TABLES, "tags_taggeditem": "id, tag, content_type_id, object_id"}


def test_renamed_moved_removed_and_generic(db_project: Project) -> None:
    p = db_project
    p.write("tags/__init__.py", "")
    p.write("tags/models.py", TAGS_MODELS)
    p.write("billing/__init__.py", "")
    shop = p.read("shop/models.py")
    p.write("shop/models.py", shop + SHOP_BEFORE)
    apps_line = '    "profiles",\n'
    settings = p.settings_file.read_text()
    p.settings_file.write_text(settings.replace(apps_line, apps_line + '    "tags",\n'))
    p.ok("makemigrations", "shop", "tags", "-v", "0")
    p.migrate()
    p.ok("shell", "-c", USED)
    coupon, gift, note = (ct_id(p, f"shop.{m}") for m in ("coupon", "gift", "note"))
    # The code moves on: Gift renamed Present, Coupon moved to billing, Note removed.
    p.write("shop/models.py", shop + SHOP_AFTER)
    p.write("billing/models.py", BILLING_MODELS)
    p.settings_file.write_text(
        settings.replace(apps_line, apps_line + '    "tags",\n    "billing",\n')
    )
    before = dump(p, GENERIC_TABLES)

    dry = p.ok("rebuild_contenttypes", "--dry-run")
    assert dry.out == (
        "Plan (rebuild_contenttypes):\n"
        "  1. Remap 1 stale content type to its successor\n"
        f"       shop.coupon -> billing.coupon (same model name in another app): keep id {coupon} "
        "and relabel it; 4 permissions, 5 permission assignments, 1 log entry, "
        "1 tags.taggeditem.content_type\n"
        "  2. Create 1 content type and 5 permissions\n"
        "       shop: 1 content type, 5 permissions\n"
        f"  Note: Stale content type 'shop.gift' (id {gift}) is kept (5 permissions, 6 permission "
        "assignments, 1 log entry, 1 tags.taggeditem.content_type): pass --remap "
        "shop.gift=APP_LABEL.MODEL to move it to its successor, or --remove-stale to delete it.\n"
        f"  Note: Stale content type 'shop.note' (id {note}) is kept (4 permissions, 5 permission "
        "assignments, 1 log entry, 1 tags.taggeditem.content_type): pass --remap "
        "shop.note=APP_LABEL.MODEL to move it to its successor, or --remove-stale to delete it.\n"
        "Dry run: nothing was changed.\n"
    )
    bad = p.manage("rebuild_contenttypes", "--noinput", "--remap", "shop.nosuch=shop.present")
    assert (bad.code, bad.out) == (1, ""), bad
    assert bad.err == (
        "CommandError: --remap shop.nosuch=shop.present: there is no content type "
        "'shop.nosuch' in the database; run without --remap to list the stale ones. "
        "Nothing was changed.\n"
    )
    assert dump(p, GENERIC_TABLES) == before

    args = ["--remap", "shop.gift=shop.present", "--remove-stale"]
    plan = p.ok("rebuild_contenttypes", "--dry-run", *args)
    assert plan.out.splitlines()[4:8] == [
        "  2. Delete 1 stale content type and everything that references it",
        f"       shop.note (id {note}): 4 permissions, 5 permission assignments, 1 log entry, "
        "1 tags.taggeditem.content_type",
        "       Deletes in all: 1 accounts.User_user_permissions, "
        "1 admin.LogEntry.content_type set to NULL, 4 auth.Group_permissions, "
        "4 auth.Permission, 1 contenttypes.ContentType, 1 tags.TaggedItem",
        "Dry run: nothing was changed.",
    ], plan
    assert dump(p, GENERIC_TABLES) == before
    run = p.ok("rebuild_contenttypes", "--noinput", *args, "--backup-dir", str(p.path / "bk"))
    assert run.out.splitlines()[-1] == "Done; verified.", run
    # Relabelled rows keep their ids; default codenames follow the new model name.
    assert (ct_id(p, "billing.coupon"), ct_id(p, "shop.present")) == (coupon, gift)
    assert ct_id(p, "shop.note") is None and ct_id(p, "shop.coupon") is None
    present = ["add_present", "change_present", "delete_present", "view_present", "wrap_gift"]
    coupon_perms = ["add_coupon", "change_coupon", "delete_coupon", "view_coupon"]
    assert assignments(p, "auth_group_permissions", "group_id") == sorted(
        [("staff", "billing", "coupon", c) for c in coupon_perms]
        + [("staff", "shop", "present", c) for c in present]
    )
    assert assignments(p, "accounts_user_user_permissions", "user_id") == [
        ("alice", "billing", "coupon", "view_coupon"),
        ("alice", "shop", "present", "view_present"),
    ]
    assert sorted(p.db.query("SELECT tag, content_type_id FROM tags_taggeditem")) == [
        ("coupon", coupon),
        ("gift", gift),
    ]
    # Like remove_stale_contenttypes, the removed model's log entry stays, without a type.
    log = p.db.query("SELECT object_repr, content_type_id FROM django_admin_log")
    assert sorted(log, key=str) == [
        ("coupon", coupon),
        ("gift", gift),
        ("note", None),
    ]
    assert p.db.query("SELECT name FROM auth_permission WHERE codename = 'add_present'") == [
        ("Can add present",)
    ]

    p.ok(
        "rebuild_contenttypes",
        "--noinput",
        "--restore",
        backup_folder(run.out),
        "--backup-dir",
        str(p.path / "bk2"),
    )
    assert dump(p, GENERIC_TABLES) == before
