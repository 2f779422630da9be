"""The contenttypes probe (W601-W603) on real databases, after a real swap of the user model."""

from __future__ import annotations

from typing import Any

from .conftest import Project
from .helpers import diagnose_db, migrate_as_auth_user, run_fix, switch_to_accounts_user

# Before the swap: an editors group may change and view auth users; the admin logged two
# changes of auth users; a removed model (shop.Coupon) left its content type and a permission
# that the editors still hold.
BEFORE_SWAP = """
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType

alice = User.objects.create_superuser("alice", "alice@example.com", "pw")
bob = User.objects.create_user("bob")
editors = Group.objects.create(name="editors")
editors.permissions.add(*Permission.objects.filter(
    content_type__app_label="auth", codename__in=["change_user", "view_user"]))
user_type = ContentType.objects.get_for_model(User)
for user in (alice, bob):
    LogEntry.objects.create(user=alice, content_type=user_type, object_id=str(user.pk),
                            object_repr=user.username, action_flag=CHANGE)
coupon = ContentType.objects.create(app_label="shop", model="coupon")
editors.permissions.add(Permission.objects.create(
    content_type=coupon, codename="add_coupon", name="Can add coupon"))
"""

# After the swap: a new user is given the old model's permission, as copied scripts do.
AFTER_SWAP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

carol = get_user_model().objects.create_user("carol")
carol.user_permissions.add(
    Permission.objects.get(content_type__app_label="auth", codename="change_user"))
"""

PERMISSIONS_KEPT = """
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

def names(permissions):
    return sorted(f"accounts.{p.codename}" for p in permissions)


user_type = {"content_type__app_label": "accounts", "content_type__model": "user"}
editors = Group.objects.get(name="editors")
print(
    names(Permission.objects.filter(**user_type)),
    names(editors.permissions.filter(**user_type)),
    LogEntry.objects.filter(**user_type).count(),
)
print(get_user_model().objects.get(username="carol").has_perm("accounts.change_user"))
"""

CT_HINT_SWAPPED = (
    "Permission checks such as has_perm('auth.change_user') and the admin history still point "
    "at the old model; Django's stale content type check never reports it because a swapped "
    "model still resolves. Remap it to the new model's content type."
)


def contenttype_findings(project: Project) -> tuple[int, list[dict[str, Any]]]:
    return diagnose_db(project, ["contenttypes"], "--fail-level", "warning")


def ct_id(project: Project, app_label: str, model: str) -> int:
    [(pk,)] = project.db.query(
        "SELECT id FROM django_content_type WHERE app_label = %s AND model = %s",
        [app_label, model],
    )
    return int(pk)


def test_stale_and_swapped_content_types_after_a_swap(db_project: Project) -> None:
    migrate_as_auth_user(db_project, then=BEFORE_SWAP)
    switch_to_accounts_user(db_project)
    db_project.migrate()  # consistent again: post_migrate creates accounts | user
    db_project.shell(AFTER_SWAP)

    auth_user = ct_id(db_project, "auth", "user")
    assert db_project.db.query(
        "SELECT COUNT(*) FROM auth_permission WHERE content_type_id = %s", [auth_user]
    ) == [(4,)]
    assert db_project.db.query(
        "SELECT COUNT(*) FROM django_admin_log WHERE content_type_id = %s", [auth_user]
    ) == [(2,)]

    code, findings = contenttype_findings(db_project)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.W601",
            "severity": "warning",
            "cause": "contenttypes",
            "message": "The content type 'shop | coupon' has no model behind it but still has "
            "1 permission (0 user assignments, 1 group assignment) and 0 admin log entries.",
            "hint": "Its permissions grant nothing and its log entries link nowhere. Map it to "
            "the model that replaced it (--remap OLD=NEW keeps the assignments), or remove it; "
            "Django's remove_stale_contenttypes would delete the assignments with it. "
            # Planned before printing: the plain command would leave it (no successor known).
            "No fix is printed: no successor of 'shop.coupon' is known (no migration of 'shop' "
            "creates or renames it), and `python manage.py "
            "rebuild_contenttypes` alone would leave it; name it: rebuild_contenttypes --remap "
            "shop.coupon=APP_LABEL.MODEL (--remove-stale deletes it with its assignments).",
            "location": {"table": "django_content_type"},
            "fix_command": None,
            "because": None,
        },
        {
            "id": "authtools.W602",
            "severity": "warning",
            "cause": "contenttypes",
            "message": "The content type 'auth | user' of auth.User, swapped out by "
            "'accounts.User', is still in use: 4 permissions (1 user assignment, "
            "2 group assignments) and 2 admin log entries.",
            "hint": CT_HINT_SWAPPED,
            "location": {"table": "django_content_type"},
            "fix_command": "python manage.py rebuild_contenttypes --remap auth.user=accounts.user",
            "because": None,
        },
    ]

    # The user model loses a default permission, then its content type: the remap of the old
    # user model's content type (W602) repairs both (it relabels the old row, then creates what
    # is missing), so W603 follows from W602 with no fix of its own.
    accounts_user = ct_id(db_project, "accounts", "user")
    db_project.db.query(
        "DELETE FROM auth_permission WHERE content_type_id = %s AND codename = 'view_user'",
        [accounts_user],
    )
    code, findings = contenttype_findings(db_project)
    assert findings[2:] == [
        {
            "id": "authtools.W603",
            "severity": "warning",
            "cause": "contenttypes",
            "message": "The user model accounts.User is missing 1 default permission: "
            "accounts.view_user.",
            "hint": "has_perm() is False for everyone but superusers and the admin hides the "
            "user pages from staff. Recreate them (post_migrate does, when 'migrate' runs).",
            "location": {"table": "auth_permission"},
            "fix_command": None,
            "because": "authtools.W602",
        }
    ]
    db_project.db.query("DELETE FROM auth_permission WHERE content_type_id = %s", [accounts_user])
    db_project.db.query("DELETE FROM django_content_type WHERE id = %s", [accounts_user])
    code, findings = contenttype_findings(db_project)
    assert findings[2:] == [
        {
            "id": "authtools.W603",
            "severity": "warning",
            "cause": "contenttypes",
            "message": "The user model accounts.User has no content type ('accounts | user'), "
            "so it has no permissions either.",
            "hint": "post_migrate creates them when 'migrate' runs; if the old user model's "
            "content type is still there, remap it instead so its permissions and history "
            "follow.",
            "location": {"table": "django_content_type"},
            "fix_command": None,
            "because": "authtools.W602",
        }
    ]
    # The one fix printed runs as printed and clears all three; every row moves to the user
    # model's content type (the editors keep their permissions, carol hers).
    fixes = [f["fix_command"] for f in findings if f["fix_command"]]
    assert fixes == ["python manage.py rebuild_contenttypes --remap auth.user=accounts.user"]
    run_fix(db_project, fixes[0])
    code, findings = contenttype_findings(db_project)
    assert [f["id"] for f in findings] == ["authtools.W601"]
    assert db_project.shell(PERMISSIONS_KEPT) == (
        "['accounts.add_user', 'accounts.change_user', 'accounts.delete_user', "
        "'accounts.view_user'] ['accounts.change_user', 'accounts.view_user'] 2\nTrue\n"
    )


def test_fresh_custom_user_project_has_no_content_type_findings(db_project: Project) -> None:
    """Never swapped: no auth | user row exists, and a stale row nobody uses is left alone."""
    db_project.migrate()
    db_project.db.query(
        "INSERT INTO django_content_type (app_label, model) VALUES ('shop', 'coupon')"
    )
    assert db_project.db.query(
        "SELECT COUNT(*) FROM django_content_type WHERE app_label = 'auth' AND model = 'user'"
    ) == [(0,)]
    assert contenttype_findings(db_project) == (0, [])
