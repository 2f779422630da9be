"""Every printed fix is a promise: one root cause per problem, each fix_command planned before it
is printed, run here exactly as printed (adding only --noinput), and the end state diagnosed.

Each scenario is a real-shaped project built in the test (a settings package, an email-login
user with its own manager, an optional one-to-one, a class renamed in code only, a project
switched mid-way, a second database alias), run in subprocesses.
"""

from __future__ import annotations

import re
from typing import Any

from .conftest import Project
from .helpers import (
    fix_commands,
    header,
    migrate_as_auth_user,
    run_fix,
    settings_package,
)

USERS_AND_ORDERS = """
from django.contrib.auth import get_user_model
from profiles.models import Profile
from shop.models import Order

User = get_user_model()
for name in ("ann", "bob"):
    user = User.objects.create_user(name, password="pw-" + name)
    Profile.objects.create(user=user)
    Order.objects.create(user=user, total=3)
"""

LOGINS = """
from django.contrib.auth import authenticate
users = [authenticate(username=n, password="pw-" + n) for n in ("ann", "bob")]
print(sorted(u.username for u in users if u))
"""


def report(project: Project, *args: str) -> dict[str, Any]:
    result = project.manage("diagnose_user_model", "--format", "json", *args)
    assert result.code in (0, 1) and "Traceback" not in result.err, str(result)
    document: dict[str, Any] = result.json()
    return document


def shape(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(id, cause, location, fix_command, because) of every finding, in report order."""
    return [
        (f["id"], f["cause"], f["location"], f["fix_command"], f["because"])
        for f in document["findings"]
    ]


def count(project: Project, table: str) -> int:
    [(n,)] = project.db.query(f"SELECT COUNT(*) FROM {table}")
    return int(n)


# --- AUTH_USER_MODEL removed from a settings package ------------------------------------------


def test_unset_setting_in_a_settings_package(db_project: Project) -> None:
    """The project always ran on its own accounts.User; AUTH_USER_MODEL is removed from base.py.
    The one root cause is E001, whose hint names base.py (not local.py, the module manage.py
    names) and says the setting is the whole fix; the database findings follow from it and
    print no fix (a swap --from accounts.User would move the data the wrong way)."""
    p = db_project
    settings_package(p)
    p.migrate()
    p.shell(USERS_AND_ORDERS)
    base = p.read("testproject/settings/base.py")
    p.write("testproject/settings/base.py", base.replace('AUTH_USER_MODEL = "accounts.User"\n', ""))

    document = report(p)
    auth_migrations = len(p.db.query("SELECT name FROM django_migrations WHERE app = %s", ["auth"]))
    follows = (
        "This follows from authtools.E001: the database is read against the user model Django "
        "resolves now, not the one the project means. Fix the setting first, then run "
        "diagnose_user_model again."
    )

    def e502(table: str, label: str) -> dict[str, Any]:
        return {
            "id": "authtools.E502",
            "severity": "error",
            "cause": "database",
            "message": f"{table}.user_id -> accounts_user (the table of accounts.User) in the "
            f"database, but {label} relates to AUTH_USER_MODEL 'auth.User', table 'auth_user'.",
            "hint": follows,
            "location": {"table": table},
            "fix_command": None,
            "because": "authtools.E001",
        }

    findings = document["findings"]
    for f in findings:  # PostgreSQL and MariaDB name the constraint; SQLite has no names
        f["message"] = re.sub(r" \(constraint '[^']+'\)", "", f["message"])
    assert document["auth_user_model"] == "auth.User"
    assert findings == [
        {
            "id": "authtools.E001",
            "severity": "error",
            "cause": "setting",
            "message": "accounts.User is a concrete user model but AUTH_USER_MODEL is not set, "
            "so Django uses auth.User: logins, createsuperuser and the admin use auth_user, not "
            "'accounts_user'; accounts.User and auth.User both define the groups and "
            "user_permissions reverse accessors (Django's fields.E304 clashes).",
            "hint": "Add `AUTH_USER_MODEL = 'accounts.User'` to testproject/settings/base.py: "
            "the database was built on accounts.User (its foreign keys reference its table), "
            "so the setting is the whole fix; do not run swap_user_model.",
            "location": {"file": "accounts/models.py", "line": 4},
            "fix_command": None,
            "because": None,
        },
        {
            "id": "authtools.E501",
            "severity": "error",
            "cause": "database",
            "message": "The table 'auth_user' of the user model 'auth.User' does not exist, "
            f"although django_migrations records {auth_migrations} migration(s) of 'auth' as "
            "applied.",
            "hint": follows,
            "location": {"table": "auth_user"},
            "fix_command": None,
            "because": "authtools.E001",
        },
        e502("django_admin_log", "admin.LogEntry.user"),
        e502("profiles_profile", "profiles.Profile.user"),
        e502("shop_order", "shop.Order.user"),
    ]
    assert fix_commands(document) == []

    # The fix is the line, in the file the hint names: then nothing is left, every row kept.
    p.write("testproject/settings/base.py", base)
    healthy = p.manage("diagnose_user_model", "--fail-level", "info")
    assert (healthy.code, healthy.out) == (0, f"{header('accounts.User')}\n\nNo problems found.\n")
    assert (count(p, "accounts_user"), count(p, "shop_order")) == (2, 2)


# --- an email-login user with its own manager --------------------------------------------------


def test_email_login_user_with_its_own_manager(project: Project) -> None:
    """The model lost `objects = UserManager()` while its module still defines UserManager, and
    gained a field: E109 points at the class the module has; W406 follows from it without
    `makemigrations` (it would record the broken manager). Once the manager is back, the
    printed fixes (makemigrations, then migrate) run as printed and leave nothing."""
    p = project
    p.use_gallery("email_user")
    p.write("accounts/admin.py", "")
    p.remove("accounts/migrations/0001_initial.py")
    p.ok("makemigrations", "accounts", "-v", "0")
    p.migrate()
    p.shell(
        "from accounts.models import User; from profiles.models import Profile\n"
        "Profile.objects.create(user=User.objects.create_user('ann@example.com', 'pw'))"
    )
    healthy = p.read("accounts/models.py")
    with_field = healthy.replace(
        "    date_joined =",
        "    nickname = models.CharField(max_length=30, blank=True)\n    date_joined =",
    )
    p.write("accounts/models.py", with_field.replace("    objects = UserManager()\n", ""))
    user_line = p.line_of("accounts/models.py", "class User(")
    manager_line = p.line_of("accounts/models.py", "class UserManager(")

    document = report(p, "--fail-level", "warning")
    assert [(f["id"], f["hint"]) for f in document["findings"]] == [
        (
            "authtools.E109",
            "Write `objects = UserManager()` in User: UserManager "
            f"(accounts/models.py:{manager_line}) already has create_user, create_superuser, "
            "get_by_natural_key.",
        ),
        (
            "authtools.W406",
            "Fix authtools.E109 first, then write the migration (makemigrations accounts): "
            "running makemigrations now would record the model as it is broken.",
        ),
    ]
    assert shape(document) == [
        ("authtools.E109", "model", {"file": "accounts/models.py", "line": user_line}, None, None),
        (
            "authtools.W406",
            "migrations",
            {"file": "accounts/models.py", "line": user_line},
            None,
            "authtools.E109",
        ),
    ]

    # The hint followed: only the new field is left, and its printed fixes run as printed.
    p.write("accounts/models.py", with_field)
    ran = []
    for _ in range(3):  # makemigrations, then the migrate it leads to
        commands = fix_commands(report(p))
        if not commands:
            break
        for command in commands:
            run_fix(p, command)
            ran.append(command)
    assert ran == ["python manage.py makemigrations accounts", "python manage.py migrate"]
    healthy_run = p.manage("diagnose_user_model", "--fail-level", "warning")
    assert healthy_run.code == 0, str(healthy_run)
    assert healthy_run.out == f"{header('accounts.User')}\n\nNo problems found.\n"
    assert p.db.query("SELECT email FROM accounts_user") == [("ann@example.com",)]


# --- an optional one-to-one --------------------------------------------------------------------


def test_optional_one_to_one_is_info(db_project: Project) -> None:
    """Users without a Profile: a warning with no row-creating promise while nothing says the
    relation is optional; info once the code handles its absence or the setting lists it."""
    p = db_project
    p.migrate()
    p.shell(
        "from accounts.models import User; from profiles.models import Profile\n"
        "users = [User.objects.create_user(f'u{i}', password='pw') for i in range(3)]\n"
        "Profile.objects.create(user=users[0])"
    )
    p.write(
        "profiles/views.py",
        "def bio(request):\n"
        "    if hasattr(request.user, 'profile'):\n"
        "        return request.user.profile.bio\n"
        "    return ''\n",
    )
    info = {
        "id": "authtools.I702",
        "severity": "info",
        "cause": "related-objects",
        "message": "2 of 3 users have no profiles.Profile, an optional relation: the code "
        "handles its absence (profiles/views.py:2).",
        "hint": "Nothing to do; do not create rows for them, as a row may change what the code "
        "does for a user (a Profile that exists is taken as set up).",
        "location": {"table": "profiles_profile"},
        "fix_command": None,
        "because": None,
    }
    assert report(p, "--fail-level", "warning")["findings"] == [info]
    assert p.manage("diagnose_user_model", "--fail-level", "warning").code == 0

    p.remove("profiles/views.py")
    settings = p.read("testproject/settings.py")
    p.write(
        "testproject/settings.py",
        settings + 'AUTHTOOLS = {"OPTIONAL_RELATIONS": ["profiles.Profile.user"]}\n',
    )
    listed = dict(
        info,
        message="2 of 3 users have no profiles.Profile, an optional relation: "
        "AUTHTOOLS['OPTIONAL_RELATIONS'] lists profiles.Profile.user.",
    )
    assert report(p)["findings"] == [listed]

    p.write("testproject/settings.py", settings)
    [warning] = report(p)["findings"]
    assert (warning["id"], warning["fix_command"]) == ("authtools.W701", None)
    assert "do not create rows" in warning["hint"]
    assert count(p, "profiles_profile") == 1  # nothing was created by anyone


# --- a user class renamed in code only ---------------------------------------------------------


def test_user_class_renamed_in_code_only(project: Project) -> None:
    """accounts.User became accounts.Member in code; the migrations and the setting keep User.
    The report gives the safe routes, not the one-line setting change (which would make
    makemigrations delete the users' table); renaming the class back leaves nothing."""
    p = project
    p.migrate()
    p.shell(USERS_AND_ORDERS)
    models, admin = p.read("accounts/models.py"), p.read("accounts/admin.py")
    p.write("accounts/models.py", models.replace("class User(", "class Member("))
    p.write("accounts/admin.py", admin.replace("User", "Member"))
    line = p.setting_line("AUTH_USER_MODEL")

    result = p.authtools("diagnose", "--settings", "testproject.settings", "--format", "json")
    assert result.code == 1, str(result)
    assert result.json()["findings"] == [
        {
            "id": "authtools.E005",
            "severity": "error",
            "cause": "setting",
            "message": "AUTH_USER_MODEL = 'accounts.User' names model 'User', which the "
            "migrations of 'accounts' create and the code no longer has: the class was renamed "
            "to 'Member' in code only.",
            "hint": "Do not only change the setting to 'accounts.Member': makemigrations would "
            "then delete accounts.User, whose table holds the users, and create an empty "
            "accounts.Member. Either rename the class back to 'User', or change both together: "
            "a migration of 'accounts' after '0001_initial' with "
            "`migrations.RenameModel('User', 'Member')` and `AUTH_USER_MODEL = "
            "'accounts.Member'` in the same change.",
            "location": {"file": "testproject/settings.py", "line": line},
            "fix_command": None,
            "because": None,
        }
    ]
    # What the hint warns about is real: the setting changed alone, makemigrations would delete.
    p.set_setting("AUTH_USER_MODEL", "'accounts.Member'")
    p.write("accounts/admin.py", "")
    planned = p.manage("makemigrations", "--dry-run", "--noinput", "accounts")
    assert "- Delete model User" in planned.out, str(planned)
    p.set_setting("AUTH_USER_MODEL", "'accounts.User'")

    # The first safe route: the class renamed back. Nothing left, every user kept.
    p.write("accounts/models.py", models)
    p.write("accounts/admin.py", admin)
    healthy = p.manage("diagnose_user_model", "--fail-level", "warning")
    assert (healthy.code, healthy.out) == (0, f"{header('accounts.User')}\n\nNo problems found.\n")
    assert p.shell(LOGINS) == "['ann', 'bob']\n"


# --- the switched-mid-project state ------------------------------------------------------------


def test_switched_mid_project_leads_straight_to_the_swap(db_project: Project) -> None:
    """Migrated on auth.User, then AUTH_USER_MODEL switched (InconsistentMigrationHistory): one
    root (the first E403) prints the swap; everything it repairs follows from it. The reset
    refuses that state in one line and changes nothing. The printed swap (from the module
    entry, so with --settings) runs as printed: the users log in, every row is kept."""
    p = db_project
    migrate_as_auth_user(p, then=USERS_AND_ORDERS)
    swap = "python manage.py swap_user_model --from auth.User"
    history = {"table": "django_migrations"}

    document = report(p)
    assert shape(document) == [
        ("authtools.E405", "migrations", history, None, "authtools.E403"),
        ("authtools.E405", "migrations", history, None, "authtools.E403"),
        ("authtools.E405", "migrations", history, None, "authtools.E403"),
        ("authtools.E403", "migrations", history, swap, None),
        ("authtools.E403", "migrations", history, None, "authtools.E403"),
        ("authtools.E403", "migrations", history, None, "authtools.E403"),
        ("authtools.E501", "database", {"table": "accounts_user"}, None, "authtools.E403"),
        ("authtools.E502", "database", {"table": "django_admin_log"}, None, "authtools.E403"),
        ("authtools.E502", "database", {"table": "profiles_profile"}, None, "authtools.E403"),
        ("authtools.E502", "database", {"table": "shop_order"}, None, "authtools.E403"),
        (
            "authtools.W602",
            "contenttypes",
            {"table": "django_content_type"},
            None,
            "authtools.E403",
        ),
    ]
    assert document["findings"][3]["message"] == (
        "Migration admin.0001_initial is applied before its dependency accounts.0001_initial on "
        "database 'default'. Django raises InconsistentMigrationHistory: migrate and "
        "makemigrations refuse to run. No migration of 'accounts' is applied: the database was "
        "built while AUTH_USER_MODEL named auth.User."
    )

    # reset_user_migrations refuses in its preflight: one line, exit 1, nothing changed.
    tables, rows = p.db.tables(), p.db.query("SELECT app, name FROM django_migrations")
    refused = p.manage("reset_user_migrations", "--noinput")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        "CommandError: The database was built on auth.User (django_admin_log.user_id "
        "references 'auth_user') and has no table of 'accounts': a reset would create empty "
        "tables and nobody could log in. Move the users instead: python manage.py "
        "swap_user_model --from auth.User. Nothing was changed.\n"
    )
    assert (p.db.tables(), p.db.query("SELECT app, name FROM django_migrations")) == (tables, rows)

    # The module entry prints the same fix with the settings it was given, and it runs.
    module = p.authtools("diagnose", "--settings", "testproject.settings", "--format", "json")
    assert fix_commands(module.json()) == [f"{swap} --settings testproject.settings"]
    for command in fix_commands(module.json()):
        run_fix(p, command)

    after = report(p)
    assert after["findings"] == []
    assert p.shell(LOGINS) == "['ann', 'bob']\n"
    assert (count(p, "accounts_user"), count(p, "shop_order"), count(p, "profiles_profile")) == (
        2,
        2,
        2,
    )
    p.ok("migrate", "--check")


# --- a second database alias -------------------------------------------------------------------


def test_second_database_alias(project: Project) -> None:
    """The fix for a database that is not the default one names it (--database), in the hint and
    the fix line; run as printed, it leaves that database healthy."""
    p = project
    p.write(
        "testproject/settings.py",
        p.read("testproject/settings.py")
        + 'DATABASES["other"] = {"ENGINE": "django.db.backends.sqlite3", '
        '"NAME": str(BASE_DIR / "other.sqlite3")}\n',
    )
    p.migrate()
    p.ok("migrate", "auth", "--database", "other", "-v", "0")

    result = p.manage("diagnose_user_model", "--database", "other")
    assert result.code == 1
    assert result.out == (
        f"{header('accounts.User')}\n"
        "\n"
        "ERROR authtools.E402 [migrations] 1 migration(s) of 'accounts', the app of "
        "AUTH_USER_MODEL, are not applied on database 'other' (0001_initial): the user table "
        "'accounts_user' is missing or behind the model, so logins, the admin and every foreign "
        "key to the user fail.\n"
        "  at table django_migrations\n"
        "  hint: Apply them: `python manage.py migrate --database other`.\n"
        "  fix: python manage.py migrate --database other\n"
        "\n"
        "    because of authtools.E402: ERROR authtools.E501 [database] The table "
        "'accounts_user' of the user model 'accounts.User' does not exist: the migrations of "
        "'accounts' are not applied.\n"
        "      at table accounts_user\n"
        "      hint: Apply them; if migrate refuses (InconsistentMigrationHistory), see the "
        "migrations findings first.\n"
        "\n"
        "2 errors, 0 warnings, 0 infos.\n"
    )
    for command in fix_commands(report(p, "--database", "other")):
        run_fix(p, command)
    healthy = p.manage("diagnose_user_model", "--database", "other", "--fail-level", "warning")
    assert (healthy.code, healthy.out) == (0, f"{header('accounts.User')}\n\nNo problems found.\n")


# --- stale content types whose successor the migrations name ----------------------------------

SHOP_0002 = """
from django.db import migrations, models



def pk():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.CreateModel(name="Coupon", fields=[
            ("id", pk()),
            ("code", models.CharField(max_length=20)),
        ]),
        migrations.CreateModel(name="Gift", fields=[
            ("id", pk()),
            ("label", models.CharField(max_length=20)),
        ]),
    ]
"""

# Coupon deleted and recreated as Voucher with the same fields; Gift renamed to Present.
SHOP_0003 = """
from django.db import migrations, models



def pk():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_coupon_gift")]
    operations = [
        migrations.CreateModel(name="Voucher", fields=[
            ("id", pk()),
            ("code", models.CharField(max_length=20)),
        ]),
        migrations.DeleteModel(name="Coupon"),
        migrations.RenameModel(old_name="Gift", new_name="Present"),
    ]
"""

EDITORS = """
from django.contrib.auth.models import Group, Permission

editors = Group.objects.create(name="editors")
editors.permissions.add(*Permission.objects.filter(codename__in=["add_coupon", "change_gift"]))
"""

EDITORS_CAN = """
from django.contrib.auth.models import Group

print(sorted(Group.objects.get(name="editors").permissions.values_list(
    "content_type__model", "codename")))
"""


def test_stale_content_types_get_the_remap_the_migrations_name(db_project: Project) -> None:
    """W601 prints `--remap OLD=NEW` when the migrations say which model replaced the stale
    content type: the one model of the app with the fields the deleted one had (Coupon deleted,
    Voucher created), or a RenameModel whose content type rename Django skipped (the new row
    existed already). Each fix runs as printed; the group keeps its permissions, moved to the
    successor."""
    p = db_project
    shop = p.read("shop/models.py")
    p.write(
        "shop/models.py",
        shop + "\n\nclass Coupon(models.Model):\n    code = models.CharField(max_length=20)\n"
        "\n\nclass Gift(models.Model):\n    label = models.CharField(max_length=20)\n",
    )
    p.write("shop/migrations/0002_coupon_gift.py", SHOP_0002)
    p.migrate()
    p.shell(EDITORS)
    p.write(
        "shop/models.py",
        shop + "\n\nclass Voucher(models.Model):\n    code = models.CharField(max_length=20)\n"
        "\n\nclass Present(models.Model):\n    label = models.CharField(max_length=20)\n",
    )
    p.write("shop/migrations/0003_voucher_present.py", SHOP_0003)
    # A 'shop | present' row exists already: Django's rename of 'shop | gift' steps aside.
    p.db.query("INSERT INTO django_content_type (app_label, model) VALUES ('shop', 'present')")
    p.migrate()

    document = report(p, "--fail-level", "warning")
    table = {"table": "django_content_type"}
    assert shape(document) == [
        (
            "authtools.W601",
            "contenttypes",
            table,
            "python manage.py rebuild_contenttypes --remap shop.coupon=shop.voucher",
            None,
        ),
        (
            "authtools.W601",
            "contenttypes",
            table,
            "python manage.py rebuild_contenttypes --remap shop.gift=shop.present",
            None,
        ),
    ]
    for command in fix_commands(document):
        run_fix(p, command)

    assert report(p, "--fail-level", "warning")["findings"] == []
    assert p.shell(EDITORS_CAN) == "[('present', 'change_present'), ('voucher', 'add_voucher')]\n"
    assert p.db.query(
        "SELECT COUNT(*) FROM django_content_type WHERE app_label = 'shop' "
        "AND model IN ('coupon', 'gift')"
    ) == [(0,)]
