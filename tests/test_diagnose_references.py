"""The references probe: code, migrations and templates that hard-code the swapped-out auth.User.

Such projects still start (Django reports fields.E301 for the relations in `check`), so the
command runs through manage.py. "Third-party" means an installed app whose package lies outside
the project root: here a ``vendor/`` folder beside the project, put on sys.path by the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Project, Result
from tests.helpers import diagnose_json, finding, findings_of

E301_IMPORT_HINT = (
    "Use django.contrib.auth.get_user_model() in code and settings.AUTH_USER_MODEL in "
    "relation fields."
)
MIGRATION_HINT = (
    "Write to=settings.AUTH_USER_MODEL in the ForeignKey and replace the dependency "
    "('auth', '0012_alter_user_first_name_max_length') with "
    "migrations.swappable_dependency(settings.AUTH_USER_MODEL) unless the migration also needs "
    "auth's own models; if it is already applied, the column in the database still points at "
    "the old table (see the database findings)."
)
THIRD_PARTY_HINT = (
    "It is not this project's code, so `manage.py check` leaves it out. Upgrade it if a newer "
    "release follows AUTH_USER_MODEL (get_user_model(), settings.AUTH_USER_MODEL); else report "
    "it upstream. Until then, code that reaches those lines fails or acts on the swapped-out "
    "auth.User."
)


def references(result: Result) -> list[dict[str, Any]]:
    """The references findings of a JSON report (other probes have their own tests)."""
    return findings_of(result, "references")


def relation(field: str, shown: str, file: str | Path, line: int) -> dict[str, Any]:
    return finding(
        "authtools.E301",
        f"{field}({shown}) relates to auth.User, which AUTH_USER_MODEL = 'accounts.User' swaps "
        "out (Django reports fields.E301).",
        f"Write {field}(settings.AUTH_USER_MODEL, ...): the relation then follows AUTH_USER_MODEL.",
        file,
        line,
    )


def permission(action: str, file: str | Path, line: int) -> dict[str, Any]:
    return finding(
        "authtools.W303",
        f"The permission 'auth.{action}_user' belongs to the swapped-out auth.User: with "
        f"AUTH_USER_MODEL = 'accounts.User' it is 'accounts.{action}_user'.",
        f"Replace 'auth.{action}_user' with 'accounts.{action}_user'.",
        file,
        line,
    )


def template_permission(file: str | Path, line: int) -> dict[str, Any]:
    return finding(
        "authtools.W303",
        "perms.auth.change_user names a permission of the swapped-out auth.User: with "
        "AUTH_USER_MODEL = 'accounts.User' it is perms.accounts.change_user.",
        "Replace perms.auth.change_user with perms.accounts.change_user.",
        file,
        line,
    )


MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("{app}", "{previous}"),
    ]

    operations = [
        migrations.AddField(
            model_name="{model}",
            name="clerk",
            field=models.ForeignKey(on_delete=models.CASCADE, related_name="+", to="auth.user"),
        ),
    ]
"""
VIEWS = """\
from django.contrib.auth.decorators import permission_required


@permission_required("auth.change_user")
def edit(request):
    return request.user.has_perm("auth.view_user")
"""
TEMPLATE = "<p>\n{% if perms.auth.change_user %}edit{% endif %}\n</p>\n"
# auth.User only in annotations, typing.cast() and under TYPE_CHECKING: nothing of it runs.
TYPING_ONLY = """\
from typing import TYPE_CHECKING, Optional, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

if TYPE_CHECKING:
    from django.contrib.auth.models import User as AuthUser
    from django.contrib.auth import models as auth_models

    Owner = auth_models.User


def name(user: User, other: Optional["AuthUser"] = None) -> str:
    first: User = cast(User, user)
    return first.get_username()


async def newest() -> Optional[User]:
    return await get_user_model().objects.alast()
"""


def test_project_code_migrations_and_templates(project: Project) -> None:
    project.write(
        "shop/models.py",
        "from django.contrib.auth.models import User\n"
        "from django.db import models\n"
        "\n"
        "\n"
        "class Order(models.Model):\n"
        '    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="orders")\n'
        '    clerk = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")\n',
    )
    project.write(
        "shop/services.py",
        "from django.apps import apps\n"
        "from django.contrib.auth import models as auth_models\n"
        "\n"
        "\n"
        "def everyone():\n"
        '    return apps.get_model("auth", "User").objects.all()\n'
        "\n"
        "\n"
        "def related():\n"
        "    return auth_models.User\n",
    )
    project.write("shop/views.py", VIEWS)
    project.write("shop/templates/shop/order.html", TEMPLATE)
    project.write(
        "shop/migrations/0002_clerk.py",
        MIGRATION.format(app="shop", previous="0001_initial", model="order"),
    )
    project.write("shop/typing_only.py", TYPING_ONLY)  # nothing of it runs: no finding

    # Django itself starts, and its checks complain about the relations only; authtools' checks
    # add the project's own code that hard-codes auth.User, as errors.
    check = project.manage("check")
    assert check.code == 1, str(check)
    assert "shop.Order.clerk: (fields.E301) Field defines a relation with the model " in check.err
    assert sorted(line for line in check.err.splitlines() if "(authtools." in line) == sorted(
        [
            "?: (authtools.E302) Migration shop.0002_clerk hard-codes the user model in ForeignKey("
            "to='auth.user') while AUTH_USER_MODEL is 'accounts.User'. "
            "(shop/migrations/0002_clerk.py:14)",
            "?: (authtools.E301) `from django.contrib.auth.models import User` imports auth.User, "
            "which AUTH_USER_MODEL = 'accounts.User' swaps out: using it raises AttributeError "
            "(Manager isn't available; 'auth.User' has been swapped for 'accounts.User'). "
            "(shop/models.py:1)",
            "?: (authtools.E301) ForeignKey(User) relates to auth.User, which AUTH_USER_MODEL = "
            "'accounts.User' swaps out (Django reports fields.E301). (shop/models.py:6)",
            "?: (authtools.E301) ForeignKey('auth.User') relates to auth.User, which "
            "AUTH_USER_MODEL = 'accounts.User' swaps out (Django reports fields.E301). "
            "(shop/models.py:7)",
            "?: (authtools.E301) apps.get_model('auth', 'User') returns auth.User, which "
            "AUTH_USER_MODEL = 'accounts.User' swaps out. (shop/services.py:6)",
            "?: (authtools.W303) perms.auth.change_user names a permission of the swapped-out "
            "auth.User: with AUTH_USER_MODEL = 'accounts.User' it is perms.accounts.change_user. "
            "(shop/templates/shop/order.html:2)",
            "?: (authtools.W303) The permission 'auth.change_user' belongs to the swapped-out "
            "auth.User: with AUTH_USER_MODEL = 'accounts.User' it is 'accounts.change_user'. "
            "(shop/views.py:4)",
            "?: (authtools.W303) The permission 'auth.view_user' belongs to the swapped-out "
            "auth.User: with AUTH_USER_MODEL = 'accounts.User' it is 'accounts.view_user'. "
            "(shop/views.py:6)",
        ]
    ), str(check)

    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert references(result) == [
        finding(
            "authtools.E302",
            "Migration shop.0002_clerk hard-codes the user model in ForeignKey(to='auth.user') "
            "while AUTH_USER_MODEL is 'accounts.User'.",
            MIGRATION_HINT,
            "shop/migrations/0002_clerk.py",
            14,
        ),
        finding(
            "authtools.E301",
            "`from django.contrib.auth.models import User` imports auth.User, which "
            "AUTH_USER_MODEL = 'accounts.User' swaps out: using it raises AttributeError "
            "(Manager isn't available; 'auth.User' has been swapped for 'accounts.User').",
            E301_IMPORT_HINT,
            "shop/models.py",
            1,
        ),
        relation("ForeignKey", "User", "shop/models.py", 6),
        relation("ForeignKey", "'auth.User'", "shop/models.py", 7),
        finding(
            "authtools.E301",
            "apps.get_model('auth', 'User') returns auth.User, which AUTH_USER_MODEL = "
            "'accounts.User' swaps out.",
            "Use django.contrib.auth.get_user_model() instead.",
            "shop/services.py",
            6,
        ),
        template_permission("shop/templates/shop/order.html", 2),
        permission("change", "shop/views.py", 4),
        permission("view", "shop/views.py", 6),
    ]


def test_third_party_app_outside_the_project(project: Project) -> None:
    vendor = project.path.parent / "vendor" / "legacy"
    files = {
        "__init__.py": "",
        "models.py": (
            "from django.conf import settings\n"
            "from django.db import models\n"
            "\n"
            "\n"
            "class Note(models.Model):\n"
            "    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n"
        ),
        "migrations/__init__.py": "",
        "migrations/0001_initial.py": (
            "from django.conf import settings\n"
            "from django.db import migrations, models\n"
            "\n"
            "\n"
            "class Migration(migrations.Migration):\n"
            "    initial = True\n"
            "    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]\n"
            "\n"
            "    operations = [\n"
            "        migrations.CreateModel(\n"
            '            name="Note",\n'
            "            fields=[\n"
            '                ("id", models.AutoField(primary_key=True, serialize=False)),\n'
            '                ("author", models.ForeignKey(on_delete=models.CASCADE, '
            "to=settings.AUTH_USER_MODEL)),\n"
            "            ],\n"
            "        ),\n"
            "    ]\n"
        ),
        "migrations/0002_clerk.py": MIGRATION.format(
            app="legacy", previous="0001_initial", model="note"
        ),
        "views.py": VIEWS,
        "templates/legacy/note.html": TEMPLATE,
    }
    for name, text in files.items():
        (vendor / name).parent.mkdir(parents=True, exist_ok=True)
        (vendor / name).write_text(text)
    with project.settings_file.open("a") as settings:
        settings.write(
            "\nimport sys\n\n"
            'sys.path.insert(0, str(BASE_DIR.parent / "vendor"))\n'
            'INSTALLED_APPS += ["legacy"]\n'
        )

    # One warning for the package, its places listed: not this project's code to fix.
    result = diagnose_json(project)
    assert result.code == 0, str(result)
    assert references(result) == [
        finding(
            "authtools.W304",
            f"The installed third-party package 'legacy' at {vendor} hard-codes auth.User, "
            "which AUTH_USER_MODEL = 'accounts.User' swaps out: migrations/0002_clerk.py:14 "
            "ForeignKey(to='auth.user'); templates/legacy/note.html:2 perms.auth.change_user; "
            "views.py:4 'auth.change_user'; views.py:6 'auth.view_user'.",
            THIRD_PARTY_HINT,
            vendor / "migrations" / "0002_clerk.py",
            14,
        )
    ]
    # The system checks leave it out altogether.
    check = project.manage("check")
    assert (check.code, check.out, check.err) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    ), str(check)


def test_healthy_project_and_django_admin_are_not_flagged(project: Project) -> None:
    """testproject uses settings.AUTH_USER_MODEL; django.contrib and installed libraries such
    as django_extensions are not the project's code and hard-code nothing of the kind. The
    migrations of an app that is no longer installed (its folder left in the repository) are
    never loaded by Django: not flagged either."""
    project.write("oldapp/__init__.py", "")
    project.write("oldapp/migrations/__init__.py", "")
    project.write(
        "oldapp/migrations/0002_clerk.py",
        MIGRATION.format(app="oldapp", previous="0001_initial", model="note"),
    )
    result = diagnose_json(project)
    assert result.code == 0, str(result)
    assert references(result) == []
    check = project.manage("check")
    assert (check.code, check.out, check.err) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    ), str(check)


def test_default_user_model_needs_no_indirection(project: Project) -> None:
    """With auth.User as the user model, importing it directly is fine."""
    project.remove("accounts/migrations/0001_initial.py")
    project.remove("accounts/admin.py")
    project.write("accounts/models.py", "")
    project.remove_setting("AUTH_USER_MODEL")
    project.write("shop/views.py", VIEWS)
    project.write(
        "shop/reports.py",
        "from django.contrib.auth.models import User\n\n\ndef count():\n"
        "    return User.objects.count()\n",
    )
    result = diagnose_json(project)
    assert result.json()["auth_user_model"] == "auth.User", str(result)
    assert references(result) == []
