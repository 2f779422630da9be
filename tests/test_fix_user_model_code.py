"""fix_user_model_code (and python -m authtools fix): the project's own hard-coded user-model
references rewritten with the diff first, a backup that --restore puts back byte for byte,
and a fresh diagnosis as verification. Real-shaped fixtures on a copy of the testproject."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .backuphelpers import assert_refused, copy_backup, only_backup, rewrite
from .conftest import Project, Result

# accounts.User imports shop.models (for a method) and shop.models imports the user class for
# its foreign key: an import cycle, so manage.py cannot start.
ACCOUNTS_MODELS = '''\
from django.contrib.auth.models import AbstractUser

from shop.models import Order


class User(AbstractUser):
    """The project's user model: AbstractUser's fields, ready to grow."""

    def order_count(self) -> int:
        return Order.objects.filter(user=self).count()
'''

SHOP_MODELS = """\
from django.db import models

from accounts.models import User  # imported for the relation below


class Order(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="orders"
    )
    clerk = models.ForeignKey(
        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Order {self.pk} of {self.user_id}"
"""

SHOP_VIEWS = """\
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@permission_required("auth.change_user")
def staff(request: HttpRequest) -> HttpResponse:
    # Only active accounts are listed.
    users = User.objects.filter(is_active=True).order_by("username")
    can_delete = request.user.has_perm("auth.delete_user")
    return render(request, "shop/staff.html", {"users": users, "can_delete": can_delete})
"""

STAFF_TEMPLATE = """\
<ul>{% for user in users %}
<li>{{ user }}{% if perms.auth.change_user %} <a href="edit/">edit</a>{% endif %}</li>
{% endfor %}</ul>
"""

CLERK_MIGRATION = """\
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("shop", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="clerk",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="auth.user",
            ),
        ),
    ]
"""

FIXED_SHOP_MODELS = """\
from django.conf import settings
from django.db import models


class Order(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Order {self.pk} of {self.user_id}"
"""


DRY_RUN = """\
Plan (fix_user_model_code):
  1. Rewrite shop/models.py: 3 changes
       --- a/shop/models.py
       +++ b/shop/models.py
       @@ -1,14 +1,13 @@
       +from django.conf import settings
        from django.db import models
       -
       -from accounts.models import User  # imported for the relation below


        class Order(models.Model):
            user = models.ForeignKey(
       -        User, on_delete=models.CASCADE, related_name="orders"
       +        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
            )
            clerk = models.ForeignKey(
       -        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
       +        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
            )
            total = models.DecimalField(max_digits=10, decimal_places=2)
            created = models.DateTimeField(auto_now_add=True)
  2. Rewrite shop/views.py: 4 changes
       --- a/shop/views.py
       +++ b/shop/views.py
       @@ -1,12 +1,12 @@
       +from django.contrib.auth import get_user_model
        from django.contrib.auth.decorators import permission_required
       -from django.contrib.auth.models import User
        from django.http import HttpRequest, HttpResponse
        from django.shortcuts import render


       -@permission_required("auth.change_user")
       +@permission_required("accounts.change_user")
        def staff(request: HttpRequest) -> HttpResponse:
            # Only active accounts are listed.
       -    users = User.objects.filter(is_active=True).order_by("username")
       -    can_delete = request.user.has_perm("auth.delete_user")
       +    users = get_user_model().objects.filter(is_active=True).order_by("username")
       +    can_delete = request.user.has_perm("accounts.delete_user")
            return render(request, "shop/staff.html", {"users": users, "can_delete": can_delete})
  3. Rewrite shop/migrations/0002_order_clerk.py: 2 changes
       --- a/shop/migrations/0002_order_clerk.py
       +++ b/shop/migrations/0002_order_clerk.py
       @@ -1,10 +1,11 @@
       +from django.conf import settings
        import django.db.models.deletion
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [
       -        ("auth", "0012_alter_user_first_name_max_length"),
       +        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
                ("shop", "0001_initial"),
            ]

       @@ -16,7 +17,7 @@
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
       -                to="auth.user",
       +                to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ]
  4. Rewrite shop/templates/shop/staff.html: 1 change
       --- a/shop/templates/shop/staff.html
       +++ b/shop/templates/shop/staff.html
       @@ -1,3 +1,3 @@
        <ul>{% for user in users %}
       -<li>{{ user }}{% if perms.auth.change_user %} <a href="edit/">edit</a>{% endif %}</li>
       +<li>{{ user }}{% if perms.accounts.change_user %} <a href="edit/">edit</a>{% endif %}</li>
        {% endfor %}</ul>
"""


def break_the_project(project: Project) -> dict[str, str]:
    """Migrate with two users, then write the hard-coded references; return the files."""
    project.migrate()
    project.shell(
        """
        from accounts.models import User
        User.objects.create_user("alice", password="a-secret")
        User.objects.create_superuser("root", password="r-secret")
        """
    )
    files = {
        "accounts/models.py": ACCOUNTS_MODELS,
        "shop/models.py": SHOP_MODELS,
        "shop/views.py": SHOP_VIEWS,
        "shop/templates/shop/staff.html": STAFF_TEMPLATE,
        "shop/migrations/0002_order_clerk.py": CLERK_MIGRATION,
    }
    for rel, text in files.items():
        project.write(rel, text)
    return files


def crlf(project: Project, rel: str) -> None:
    """Give REL Windows line endings, as files edited on Windows have."""
    path = project.path / rel
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def fix(project: Project, *args: str) -> Result:
    """python -m authtools fix: works where manage.py cannot start (the import cycle)."""
    return project.authtools("fix", "--settings", "testproject.settings", *args)


def plain(output: str) -> str:
    """OUTPUT without trailing spaces (the plan indents the diff's blank context lines)."""
    return "".join(line.rstrip() + "\n" for line in output.splitlines())


def users(project: Project) -> list[tuple[str, bool, bool]]:
    """(username, is_superuser, the password checks) of every user."""
    out = project.shell(
        """
        from accounts.models import User
        secrets = {"alice": "a-secret", "root": "r-secret"}
        for u in User.objects.order_by("username"):
            print(u.username, u.is_superuser, u.check_password(secrets[u.username]))
        """
    )
    return [tuple(line.split()) for line in out.splitlines()]  # type: ignore[misc]


def test_dry_run_shows_the_diff_and_changes_nothing(project: Project) -> None:
    files = break_the_project(project)
    crashed = project.manage("check")
    assert crashed.code == 1 and "circular import" in crashed.err, str(crashed)

    result = fix(project, "--dry-run")
    assert result.code == 0, str(result)
    assert plain(result.out) == DRY_RUN + "Dry run: nothing was changed.\n"
    assert {rel: project.read(rel) for rel in files} == files
    assert not (project.path / ".authtools-backups").exists()


def test_fix_verify_second_run_and_restore_byte_for_byte(project: Project) -> None:
    files = break_the_project(project)
    crlf(project, "shop/views.py")
    originals = {rel: (project.path / rel).read_bytes() for rel in files}

    result = fix(project, "--noinput")
    assert result.code == 0, str(result)
    [backup] = [p for p in (project.path / ".authtools-backups").iterdir() if p.is_dir()]
    assert plain(result.out) == DRY_RUN + f"Backup: {backup}\nDone; verified.\n"
    assert project.read("shop/models.py") == FIXED_SHOP_MODELS
    assert project.read("accounts/models.py") == ACCOUNTS_MODELS  # the cycle is broken in shop
    views = (project.path / "shop/views.py").read_bytes()
    assert views.count(b"\r\n") == views.count(b"\n") == 12  # still Windows line endings

    # The project starts again, and Django agrees with the rewrite.
    assert project.ok("check").out == "System check identified no issues (0 silenced).\n"
    assert project.ok("makemigrations", "--check", "--dry-run").out == "No changes detected\n"
    project.ok("migrate", "--no-input", "-v", "0")
    report = project.manage("diagnose_user_model", "--format", "json")
    causes = {f["cause"] for f in report.json()["findings"]}
    assert not causes & {"imports", "references"}, str(report)
    assert users(project) == [("alice", "False", "True"), ("root", "True", "True")]

    again = project.manage("fix_user_model_code", "--noinput")
    assert (again.code, again.out) == (0, "Nothing to do.\n"), str(again)

    restored = project.manage("fix_user_model_code", "--restore", str(backup), "--noinput")
    assert restored.code == 0, str(restored)
    assert {rel: (project.path / rel).read_bytes() for rel in files} == originals
    assert restored.out.startswith("Plan (fix_user_model_code):\n  1. Put back shop/models.py\n")
    # The cycle is back, so manage.py cannot start: python -m authtools fix still can.
    twice = fix(project, "--restore", str(backup), "--noinput")
    assert (twice.code, twice.out) == (
        0,
        "Nothing to undo: every file of this backup is in place.\n",
    ), str(twice)


def test_a_crafted_backup_is_refused_and_changes_nothing(project: Project) -> None:
    """A backup is data: crafted documents (digests updated, as an attacker who knows the
    format would) are refused in one line that names the file and the field."""
    files = break_the_project(project)
    assert fix(project, "--noinput").code == 0
    backup = only_backup(project.path / ".authtools-backups")
    document = str(backup / "fixed-files.json")
    fixed = {rel: project.read(rel) for rel in files}
    outside = project.path.parent / "outside.py"
    outside.write_text("KEEP = True\n")

    number = itertools.count()

    def refused(name: str, change: Callable[[Any], Any], file: str, field: str) -> None:
        crafted = copy_backup(backup, project.path.parent / f"crafted-{next(number)}")
        rewrite(crafted, name, change)
        result = project.manage("fix_user_model_code", "--restore", str(crafted), "--noinput")
        assert_refused(result, file.replace(str(backup), str(crafted)), field)
        assert {rel: project.read(rel) for rel in files} == fixed
        assert outside.read_text() == "KEEP = True\n"

    def path(value: str) -> Callable[[Any], Any]:
        return lambda data: {"files": [{**data["files"][0], "path": value}]}

    refused("fixed-files", path("../outside.py"), document, "files[0].path")
    refused("fixed-files", path(str(outside)), document, "files[0].path")
    refused("fixed-files", path("shop/admin.py"), document, "files[0].path")  # not saved
    refused("fixed-files", lambda d: {**d, "sql": "DROP TABLE accounts_user"}, document, "sql")
    refused(
        "fixed-files",
        lambda d: {"files": [{**d["files"][0], "before": "0" * 64}]},
        document,
        "files[0].before",
    )
    refused(
        "manifest",
        lambda d: {**d, "project_root": str(project.path.parent)},
        str(backup / "manifest.json"),
        "project_root",
    )


MENTOR_MIGRATION = """\
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("profiles", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="mentor",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="auth.user",
            ),
        ),
    ]
"""


BEFORE_SWAP = """\
Plan (fix_user_model_code):
  1. Rewrite profiles/models.py: 1 change
       --- a/profiles/models.py
       +++ b/profiles/models.py
       @@ -6,5 +6,5 @@
            user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            bio = models.TextField(blank=True)
            mentor = models.ForeignKey(
       -        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
       +        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
            )
  2. Rewrite shop/models.py: 1 change
       --- a/shop/models.py
       +++ b/shop/models.py
       @@ -7,7 +7,7 @@
                settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
            )
            clerk = models.ForeignKey(
       -        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
       +        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
            )
            total = models.DecimalField(max_digits=10, decimal_places=2)
            created = models.DateTimeField(auto_now_add=True)
  3. Rewrite shop/migrations/0002_order_clerk.py: 2 changes
       --- a/shop/migrations/0002_order_clerk.py
       +++ b/shop/migrations/0002_order_clerk.py
       @@ -1,10 +1,11 @@
       +from django.conf import settings
        import django.db.models.deletion
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [
       -        ("auth", "0012_alter_user_first_name_max_length"),
       +        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
                ("shop", "0001_initial"),
            ]

       @@ -16,7 +17,7 @@
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
       -                to="auth.user",
       +                to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ]
""" + (
    "  Note: Left alone: profiles/migrations/0002_profile_mentor.py:19: the migration: "
    "it is applied: rewriting it would change what it did\n"
)


def test_before_a_swap_auth_user_project_applied_migration_left_alone(db_project: Project) -> None:
    """A project still on auth.User hard-codes it (babybuddy's ForeignKey("auth.User")): the
    rewrite is what a later swap needs. An applied migration is left as it is."""
    project = db_project
    settings = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        settings + "INSTALLED_APPS = [a for a in INSTALLED_APPS if a != 'accounts']\n"
        "AUTH_USER_MODEL = 'auth.User'\n",
    )
    project.remove("accounts")
    clerk_field = (
        '    {} = models.ForeignKey(\n        "auth.User", null=True, on_delete=models.SET_NULL, '
        'related_name="+"\n    )\n'
    )
    mentor = clerk_field.format("mentor")
    profiles = project.read("profiles/models.py")
    project.write("profiles/models.py", profiles + mentor)
    project.write("profiles/migrations/0002_profile_mentor.py", MENTOR_MIGRATION)
    project.migrate()
    project.write("shop/migrations/0002_order_clerk.py", CLERK_MIGRATION)
    shop = project.read("shop/models.py").replace(
        "    total =",
        clerk_field.format("clerk") + "    total =",
    )
    project.write("shop/models.py", shop)

    result = project.manage("fix_user_model_code", "--noinput")
    assert result.code == 0, str(result)
    [backup] = [p for p in (project.path / ".authtools-backups").iterdir() if p.is_dir()]
    assert plain(result.out) == BEFORE_SWAP + f"Backup: {backup}\nDone; verified.\n"
    assert project.read("profiles/migrations/0002_profile_mentor.py") == MENTOR_MIGRATION
    # settings.AUTH_USER_MODEL names auth.User here: the models and the applied history agree.
    assert project.ok("makemigrations", "--check", "--dry-run").out == "No changes detected\n"
    assert project.ok("migrate", "--no-input").out.endswith(
        "Applying shop.0002_order_clerk... OK\n"
    )
    assert project.ok("check").out == "System check identified no issues (0 silenced).\n"
