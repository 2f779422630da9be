"""The scenarios of the docs' output blocks (tests/docs.py): one per marker name, each a starting
State and a function that runs the real commands into a Transcript."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.backuphelpers import rewrite
from tests.conftest import Project
from tests.docs_transcript import (
    State,
    Transcript,
    findings_excerpt,
    plan_excerpt,
    tail_after_plan,
)
from tests.helpers import (
    migrate_as_auth_user,
    settings_package,
    shop_note_migration,
    switch_to_accounts_user,
)
from tests.swaphelpers import SEED as SWAP_SEED
from tests.swaphelpers import before_state, remove_app, write_new_model
from tests.test_diagnose_references import MIGRATION as REFERENCES_MIGRATION
from tests.test_diagnose_references import TEMPLATE as REFERENCES_TEMPLATE
from tests.test_diagnose_references import VIEWS as REFERENCES_VIEWS
from tests.test_fix_user_model_code import break_the_project
from tests.test_swap_user_model_fields import EMAIL_MODEL
from tests.test_swap_user_model_keys import BIG_APPS
from tests.test_swap_user_model_keys import MODEL as BIG_MODEL

SEED = """
from django.contrib.auth.models import Group, Permission, User
group = Group.objects.create(name="staff")
group.permissions.add(Permission.objects.get(codename="change_user"))
User.objects.create_user("alice", "alice@example.com", "pw-alice").groups.add(group)
"""


VIEWS = """from django.contrib.auth.decorators import permission_required


@permission_required("auth.change_user")
def edit_user(request, pk):
    ...
"""


def _live_on_auth_user(project: Project) -> None:
    """A project that went live on auth.User (the accounts app not yet installed)."""
    migrate_as_auth_user(project, then=SEED)


LIVE_ON_AUTH_USER = State(_live_on_auth_user)


def _setting_switched(project: Project) -> None:
    """... then set AUTH_USER_MODEL = 'accounts.User' (the project's settings): migrate now
    fails with InconsistentMigrationHistory. A view still checks the old model's permission."""
    project.write("shop/views.py", VIEWS)


SETTING_SWITCHED = State(_setting_switched, LIVE_ON_AUTH_USER)
# ... and created the new tables by hand and recorded them (migrate refuses all the same).
SWITCHED = State(switch_to_accounts_user, LIVE_ON_AUTH_USER)
MIGRATED = State(lambda project: project.migrate())


def _model_written(project: Project) -> None:
    """Migrated on auth.User; accounts.User and its migration written; setting not switched."""
    saved = {rel: project.read(rel) for rel in ("accounts/models.py", "accounts/admin.py")}
    saved["accounts/migrations/0001_initial.py"] = project.read(
        "accounts/migrations/0001_initial.py"
    )
    project.remove("accounts/migrations")
    project.write("accounts/models.py", "")
    project.write("accounts/admin.py", "")
    project.set_setting("AUTH_USER_MODEL", "'auth.User'")
    project.migrate()
    for rel, text in saved.items():
        project.write(rel, text)
    project.write("accounts/migrations/__init__.py", "")


MODEL_WRITTEN = State(_model_written)


def _on_auth_user_no_app(project: Project) -> None:
    """The project on auth.User with users, orders, profiles, groups and admin history: no
    AUTH_USER_MODEL line, no accounts app (the swap runbook's starting point)."""
    remove_app(project, "accounts")
    project.remove_setting("AUTH_USER_MODEL")
    project.migrate()
    project.shell(SWAP_SEED)


ON_AUTH_USER = State(_on_auth_user_no_app)
SCAFFOLDED = State(
    lambda project: project.ok(
        "swap_user_model", "--scaffold", "accounts", "--write-settings", "-v", "0"
    ),
    ON_AUTH_USER,
)
# The project on auth.User with the same data, the accounts app installed with no model yet.
BEFORE_SWAP = State(before_state)


# --- scenarios: one per marker name ------------------------------------------------------------
def diagnose_switched(t: Transcript) -> None:
    t.manage(
        "diagnose_user_model",
        "--no-color",
        code=1,
        excerpt=findings_excerpt("W303", "E403", "E502", "W602"),
    )


def diagnose_switched_migrations(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E405", "E403"))


def diagnose_target(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--target", "accounts.User", "--no-color", code=1)


def reset_deleted_migration(t: Transcript) -> None:
    t.project.remove("accounts/migrations/0001_initial.py")
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput")
    t.manage("reset_user_migrations", "--noinput")


SHOP_0002 = shop_note_migration("0001_initial")


def _dependent_deleted(project: Project) -> None:
    """accounts' initial migration deleted after migrate, while shop's new migration (not yet
    applied) depends on it."""
    project.remove("accounts/migrations/0001_initial.py")
    project.write("shop/migrations/0002_order_note.py", SHOP_0002)
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "    created =", "    note = models.CharField(max_length=20, blank=True)\n    created ="
        ),
    )


DEPENDENT_DELETED = State(_dependent_deleted, MIGRATED)


def reset_dependent_deleted(t: Transcript) -> None:
    t.manage("migrate", short_traceback=True, code=1)
    out = t.manage("reset_user_migrations", "--noinput")
    t.manage("reset_user_migrations")
    reset_restore(t, out)


def _squash_dependent_deleted(project: Project) -> None:
    """As DEPENDENT_DELETED, but the deleted migration was a squash named
    0001_squashed_0002_user_nickname, which shop's new migration depends on."""
    migrations = project.path / "accounts" / "migrations"
    (migrations / "0001_initial.py").rename(migrations / "0001_squashed_0002_user_nickname.py")
    project.migrate()
    (migrations / "0001_squashed_0002_user_nickname.py").rename(migrations / "0001_initial.py")
    _dependent_deleted(project)
    project.write(
        "shop/migrations/0002_order_note.py",
        SHOP_0002.replace('"0001_initial"),\n    ]', '"0001_squashed_0002_user_nickname"),\n    ]'),
    )


def reset_renamed_dependency(t: Transcript) -> None:
    _squash_dependent_deleted(t.project)
    t.manage("reset_user_migrations", "--dry-run", excerpt=plan_excerpt(3, whole=(3,)))


def reset_restore(t: Transcript, out: str) -> None:
    """The reset of OUT undone (block reset-restore)."""
    t.block("reset-restore")
    backup = Path(out.split("Backup: ")[1].split("\n")[0])
    t.manage("reset_user_migrations", "--noinput", "--restore", f".authtools-backups/{backup.name}")


def reset_switched(t: Transcript) -> None:
    """A project that went live on auth.User, then switched: the reset refuses (it would create
    empty user tables) and names the swap."""
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput", code=1)


def rebuild_after_switch(t: Transcript) -> None:
    """The new user tables created by hand and recorded, then migrate (which creates the new
    model's content type): the old content type and its permissions are left behind."""
    t.project.migrate()
    t.manage("rebuild_contenttypes", "--noinput")


def reset_nothing_on_auth_user(t: Transcript) -> None:
    project = t.project
    settings = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        settings + "INSTALLED_APPS = [a for a in INSTALLED_APPS if a not in ('accounts', 'shop', "
        "'profiles')]\nAUTH_USER_MODEL = 'auth.User'\n",
    )
    project.migrate()
    t.manage("reset_user_migrations")


def version(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--version")


# --- swap_user_model ---------------------------------------------------------------------------
def swap_scaffold(t: Transcript) -> None:
    t.manage("swap_user_model", "--scaffold", "accounts", "--write-settings")


def swap_scaffold_settings_package(t: Transcript) -> None:
    settings_package(t.project)  # manage.py now names testproject.settings.local
    t.manage("swap_user_model", "--scaffold", "accounts")


def swap_plan(t: Transcript) -> None:
    t.manage("swap_user_model", "--from", "auth.User", "--dry-run")


def swap_run(t: Transcript) -> None:
    """The swap, then (blocks backup-rollback and backup-refused-field) its rollback, and a
    second rollback from the backup with a field added to its swap spec."""
    out = t.manage("swap_user_model", "--from", "auth.User", "--noinput", excerpt=tail_after_plan)
    backup = Path(out.split("Backup: ")[1].split("\n")[0])
    t.block("backup-rollback")
    t.manage("swap_user_model", "--rollback", "--noinput", excerpt=tail_after_plan)
    t.block("backup-refused-field")
    rewrite(backup, "swap-spec", lambda spec: {**spec, "sql": ["DROP TABLE accounts_user"]})
    t.manage("swap_user_model", "--rollback", "--noinput", code=1)


def swap_refused_cause(t: Transcript) -> None:
    """A relation hard-coded to auth.User: once AUTH_USER_MODEL names accounts.User, shop's
    model differs from its migration."""
    models = t.project.read("shop/models.py")
    t.project.write(
        "shop/models.py", models.replace("settings.AUTH_USER_MODEL,", '"auth.User",', 1)
    )
    write_new_model(t.project)
    t.manage("swap_user_model", "--from", "auth.User", "--dry-run", code=1)


def swap_other_fields(t: Transcript) -> None:
    """The email model of testproject/gallery/email_user.py plus a nickname field."""
    t.project.write("accounts/models.py", EMAIL_MODEL)
    t.project.write("accounts/admin.py", "")
    t.project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    t.project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    t.manage(
        "swap_user_model",
        "--from",
        "auth.User",
        "--drop-columns",
        "--dry-run",
        excerpt=plan_excerpt(1, 2, -2, -1, whole=(1, -2, -1)),
    )


def swap_bigautofield_refused(t: Transcript) -> None:
    """A startapp-style user model under BigAutoField and its migration."""
    write_new_model(t.project)
    t.project.write("accounts/apps.py", BIG_APPS)
    t.project.write("accounts/models.py", BIG_MODEL)
    t.project.remove("accounts/migrations/0001_initial.py")
    t.project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    t.manage("swap_user_model", "--from", "auth.User", "--noinput", code=1)


# --- fix_user_model_code -----------------------------------------------------------------------
def fix_dry_run(t: Transcript) -> None:
    break_the_project(t.project)
    t.module(
        "fix",
        "--settings=testproject.settings",
        "--dry-run",
        excerpt=plan_excerpt(1, 2, whole=(1, 2)),
    )


# --- diagnose_user_model: setting and model ------------------------------------------------------
def diagnose_setting_typo(t: Transcript) -> None:
    t.project.set_setting("AUTH_USER_MODEL", "'acounts.User'")
    t.module("diagnose", "--settings", "testproject.settings", "--no-color", code=1)


def check_manager(t: Transcript) -> None:
    """The seed article's model: objects = models.Manager()."""
    t.project.use_gallery("seed_user")
    t.project.write("accounts/admin.py", "")  # the article registers no admin
    t.manage("check", code=1)


# --- diagnose_user_model: database ------------------------------------------------------------
def diagnose_database_switched(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E405", "E502"))


STALE_COUPON = """
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
coupon = ContentType.objects.create(app_label="shop", model="coupon")
Group.objects.create(name="editors").permissions.add(Permission.objects.create(
    content_type=coupon, codename="add_coupon", name="Can add coupon"))
"""


def diagnose_stale_contenttype(t: Transcript) -> None:
    t.project.shell(STALE_COUPON)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("W601"))


USERS_WITHOUT_PROFILES = """
from django.contrib.auth import get_user_model
from profiles.models import Profile
for n in range(40):
    user = get_user_model().objects.create_user(f"user{n}")
    if n >= 12:
        Profile.objects.create(user=user)
"""

PROFILE_VIEWS = """from django.shortcuts import redirect


def settings_page(request):
    if not hasattr(request.user, "profile"):
        return redirect("profile-setup")
    ...
"""


def diagnose_related(t: Transcript) -> None:
    t.project.shell(USERS_WITHOUT_PROFILES)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("W701"))
    t.project.write("profiles/views.py", PROFILE_VIEWS)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("I702"))


def diagnose_unreachable(t: Transcript) -> None:
    """A SQLite file that is not a database."""
    (t.project.path / "db.sqlite3").write_text("not a database\n" * 100)
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E504"))


# --- diagnose_user_model: imports and references ------------------------------------------------
CYCLE_SHOP = """from django.conf import settings
from django.db import models
from profiles.models import Profile


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, null=True, on_delete=models.SET_NULL)
"""

CYCLE_PROFILES = """from django.conf import settings
from django.db import models

from shop.models import Order


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    last_order = models.ForeignKey(Order, null=True, on_delete=models.SET_NULL, related_name="+")
"""


def diagnose_import_cycle(t: Transcript) -> None:
    t.project.write("shop/models.py", CYCLE_SHOP)
    t.project.write("profiles/models.py", CYCLE_PROFILES)
    t.module("diagnose", "--settings", "testproject.settings", "--no-db", "--no-color", code=1)


REFERENCES_SHOP_MODELS = """from django.contrib.auth.models import User
from django.db import models


class Order(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="orders")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)
"""


LEGACY_MODELS = """from django.conf import settings
from django.db import models


class Note(models.Model):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
"""

LEGACY_INITIAL = """from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("author", models.ForeignKey(
                    on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL
                )),
            ],
        ),
    ]
"""


def diagnose_references(t: Transcript) -> None:
    """Hard-coded auth.User in the project's models, a migration, a view and a template, and
    in a third-party app outside the project folder."""
    project = t.project
    project.write("shop/models.py", REFERENCES_SHOP_MODELS)
    project.write(
        "shop/migrations/0002_clerk.py",
        REFERENCES_MIGRATION.format(app="shop", previous="0001_initial", model="order"),
    )
    project.write("shop/views.py", REFERENCES_VIEWS)
    project.write("shop/templates/shop/x.html", REFERENCES_TEMPLATE)
    vendor = t.tmp / "vendor" / "legacy"
    for name, text in {
        "__init__.py": "",
        "views.py": REFERENCES_VIEWS,
        "migrations/__init__.py": "",
        "models.py": LEGACY_MODELS,
        "migrations/0001_initial.py": LEGACY_INITIAL,
        "migrations/0002_clerk.py": REFERENCES_MIGRATION.format(
            app="legacy", previous="0001_initial", model="note"
        ),
    }.items():
        (vendor / name).parent.mkdir(parents=True, exist_ok=True)
        (vendor / name).write_text(text)
    with project.settings_file.open("a") as settings:
        settings.write(
            "\nimport sys\n\n"
            'sys.path.insert(0, str(BASE_DIR.parent / "vendor"))\n'
            'INSTALLED_APPS += ["legacy"]\n'
        )
    t.manage(
        "diagnose_user_model",
        "--no-db",
        "--no-color",
        code=1,
        excerpt=findings_excerpt(probe="references"),
    )


def diagnose_missing_driver(t: Transcript) -> None:
    """TESTPROJECT_DB=postgresql in a Python without psycopg (modules on PYTHONPATH that raise
    ImportError stand in for the missing packages)."""
    shim = t.tmp / "no-drivers"
    shim.mkdir()
    for module in ("psycopg", "psycopg2"):
        (shim / f"{module}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n"
        )
    path = os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])
    t.module("diagnose", code=1, TESTPROJECT_DB="postgresql", PYTHONPATH=path)


# --- rebuild_contenttypes ----------------------------------------------------------------------
STALE_GIFT = """
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
gift = ContentType.objects.create(app_label="shop", model="gift")
perms = [Permission.objects.create(content_type=gift, codename=f"{action}_gift",
                                   name=f"Can {action} gift")
         for action in ("add", "change", "delete", "view")]
Group.objects.create(name="sales").permissions.add(*perms)
alice = get_user_model().objects.create_user("alice")
alice.user_permissions.add(perms[0])
LogEntry.objects.create(user=alice, content_type=gift, object_id="1", object_repr="Gift 1",
                        action_flag=ADDITION, change_message="[]")
"""


def rebuild_stale_kept(t: Transcript) -> None:
    t.project.shell(STALE_GIFT)
    t.manage("rebuild_contenttypes", "--dry-run")


# (starting state, what runs): one scenario per marker name; some fill further blocks (ALSO).
SCENARIOS: dict[str, tuple[State | None, Callable[[Transcript], None]]] = {
    "check-manager": (None, check_manager),
    "diagnose-database-switched": (SWITCHED, diagnose_database_switched),
    "diagnose-import-cycle": (None, diagnose_import_cycle),
    "diagnose-missing-driver": (None, diagnose_missing_driver),
    "diagnose-references": (None, diagnose_references),
    "diagnose-related": (MIGRATED, diagnose_related),
    "diagnose-setting-typo": (None, diagnose_setting_typo),
    "diagnose-stale-contenttype": (MIGRATED, diagnose_stale_contenttype),
    "diagnose-switched": (SETTING_SWITCHED, diagnose_switched),
    "diagnose-switched-migrations": (SETTING_SWITCHED, diagnose_switched_migrations),
    "diagnose-target": (MODEL_WRITTEN, diagnose_target),
    "diagnose-unreachable": (None, diagnose_unreachable),
    "fix-dry-run": (None, fix_dry_run),
    "rebuild-after-switch": (SWITCHED, rebuild_after_switch),
    "rebuild-stale-kept": (MIGRATED, rebuild_stale_kept),
    "reset-deleted-migration": (MIGRATED, reset_deleted_migration),
    "reset-dependent-deleted": (DEPENDENT_DELETED, reset_dependent_deleted),
    "reset-nothing-on-auth-user": (None, reset_nothing_on_auth_user),
    "reset-renamed-dependency": (None, reset_renamed_dependency),
    "reset-switched": (LIVE_ON_AUTH_USER, reset_switched),
    "swap-bigautofield-refused": (BEFORE_SWAP, swap_bigautofield_refused),
    "swap-other-fields": (BEFORE_SWAP, swap_other_fields),
    "swap-plan": (SCAFFOLDED, swap_plan),
    "swap-refused-cause": (BEFORE_SWAP, swap_refused_cause),
    "swap-run": (SCAFFOLDED, swap_run),
    "swap-scaffold": (ON_AUTH_USER, swap_scaffold),
    "swap-scaffold-settings-package": (ON_AUTH_USER, swap_scaffold_settings_package),
    "version": (None, version),
}

# The further blocks a scenario fills (Transcript.block): they need the state it leaves.
ALSO: dict[str, tuple[str, ...]] = {
    "reset-dependent-deleted": ("reset-restore",),
    "swap-run": ("backup-rollback", "backup-refused-field"),
}
