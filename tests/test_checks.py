"""The system checks never break a working project.

Installing authtools adds its checks to every ``manage.py check``, ``migrate``, ``runserver`` and
``test``. A healthy project with a custom user model and installed packages that mention
auth.User (for type hints only, or in their own code) must still pass all of them; what those
packages do is diagnose_user_model's business (W304), listed apart.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import Project
from tests.helpers import finding, findings_of

# An installed package (outside the project root, as in site-packages) that imports auth.User
# for type hints only, like django-qr-code, and has a model of its own related to the user model.
QRLIKE = {
    "__init__.py": "",
    "utils.py": (
        "from typing import TYPE_CHECKING, Optional\n"
        "\n"
        "from django.contrib.auth.models import User\n"
        "\n"
        "if TYPE_CHECKING:\n"
        "    from django.contrib.auth.models import Group\n"
        "\n"
        "\n"
        "def display_name(user: User, group: Optional['Group'] = None) -> str:\n"
        "    label: str = user.get_username()\n"
        "    return label\n"
    ),
    "models.py": (
        "from django.conf import settings\n"
        "from django.db import models\n"
        "\n"
        "\n"
        "class Code(models.Model):\n"
        "    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n"
        "    text = models.CharField(max_length=100)\n"
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
        "    operations = [\n"
        "        migrations.CreateModel(\n"
        '            name="Code",\n'
        "            fields=[\n"
        '                ("id", models.AutoField(primary_key=True, serialize=False)),\n'
        '                ("text", models.CharField(max_length=100)),\n'
        '                ("owner", models.ForeignKey(on_delete=models.CASCADE, '
        "to=settings.AUTH_USER_MODEL)),\n"
        "            ],\n"
        "        ),\n"
        "    ]\n"
    ),
}
# An installed package whose own code uses auth.User at run time, in a function the project
# never calls: not the project's to fix, so never a check.
OLDLIB = {
    "__init__.py": "",
    "reports.py": (
        "from django.contrib.auth.models import User\n"
        "\n"
        "\n"
        "def staff():\n"
        "    return User.objects.filter(is_staff=True)\n"
    ),
}
PROJECT_TEST = """\
from django.contrib.auth import get_user_model
from django.test import TestCase

from qrlike.models import Code
from qrlike.utils import display_name


class CodeTests(TestCase):
    def test_code_of_a_user(self):
        user = get_user_model().objects.create_user(username="ada", password="x")
        code = Code.objects.create(owner=user, text="hello")
        self.assertEqual(display_name(code.owner), "ada")
"""


def install_packages(project: Project, site: Path) -> dict[str, str]:
    """Write the packages into SITE, install them in the project; return the environment."""
    for package, files in (("qrlike", QRLIKE), ("oldlib", OLDLIB)):
        for name, text in files.items():
            path = site / package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    with project.settings_file.open("a") as settings:
        settings.write('\nINSTALLED_APPS += ["qrlike", "oldlib"]\n')
    project.write("shop/tests.py", PROJECT_TEST)
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_healthy_project_with_third_party_packages(db_project: Project, tmp_path: Path) -> None:
    env = install_packages(db_project, tmp_path / "site-packages")

    migrate = db_project.manage("migrate", "--no-input", "-v", "0", **env)
    assert (migrate.code, migrate.out, migrate.err) == (0, "", ""), str(migrate)
    check = db_project.manage("check", **env)
    assert (check.code, check.out, check.err) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    ), str(check)
    test = db_project.manage("test", "shop", "-v", "1", **env)
    assert test.code == 0, str(test)
    assert test.out == "Found 1 test(s).\nSystem check identified no issues (0 silenced).\n"
    assert re.sub(r"in \d+\.\d+s", "in Ts", test.err) == (
        "Creating test database for alias 'default'...\n.\n" + "-" * 70 + "\n"
        "Ran 1 test in Ts\n\nOK\nDestroying test database for alias 'default'...\n"
    ), str(test)

    # The diagnosis lists the package that uses auth.User at run time, apart, as a warning;
    # the type hints of qrlike are no finding at all.
    result = db_project.manage("diagnose_user_model", "--format", "json", **env)
    assert result.code == 0, str(result)
    oldlib = tmp_path / "site-packages" / "oldlib"
    assert findings_of(result, "references", "imports") == [
        finding(
            "authtools.W304",
            f"The installed third-party package 'oldlib' at {oldlib} hard-codes auth.User, "
            "which AUTH_USER_MODEL = 'accounts.User' swaps out: reports.py:1 "
            "`from django.contrib.auth.models import User`.",
            "It is not this project's code, so `manage.py check` leaves it out. Upgrade it if a "
            "newer release follows AUTH_USER_MODEL (get_user_model(), settings.AUTH_USER_MODEL);"
            " else report it upstream. Until then, code that reaches those lines fails or acts "
            "on the swapped-out auth.User.",
            oldlib / "reports.py",
            1,
        )
    ]


def test_unset_setting_with_a_second_user_model_is_a_check_warning(project: Project) -> None:
    """E001 (a concrete user model while AUTH_USER_MODEL is unset) is an error of the diagnosis
    but only a warning of the checks: Django runs on auth.User, and this model (no
    PermissionsMixin) clashes with nothing. SILENCED_SYSTEM_CHECKS silences it."""
    project.remove_setting("AUTH_USER_MODEL")
    project.remove("accounts/admin.py")
    project.write(
        "accounts/models.py",
        "from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager\n"
        "from django.db import models\n"
        "\n"
        "\n"
        "class User(AbstractBaseUser):\n"
        "    email = models.EmailField(unique=True)\n"
        "    USERNAME_FIELD = 'email'\n"
        "    objects = BaseUserManager()\n",
    )
    check = project.manage("check")
    assert check.code == 0, str(check)
    lines = check.err.splitlines()
    assert lines[:3] == ["System check identified some issues:", "", "WARNINGS:"], str(check)
    assert [line.split(")")[0] for line in lines if line.startswith("?: (")] == [
        "?: (authtools.E001"
    ], str(check)
    assert lines[-1] == "System check identified 1 issue (0 silenced).", str(check)

    diagnosis = project.manage("diagnose_user_model", "--no-db", "--format", "json")
    assert [(f["id"], f["severity"]) for f in findings_of(diagnosis, "setting")] == [
        ("authtools.E001", "error")
    ], str(diagnosis)

    project.set_setting("SILENCED_SYSTEM_CHECKS", '["authtools.E001"]')
    silenced = project.manage("check")
    assert (silenced.code, silenced.out, silenced.err) == (
        0,
        "System check identified no issues (1 silenced).\n",
        "",
    ), str(silenced)


def test_a_probe_that_raises_is_a_warning_not_a_failed_check(project: Project) -> None:
    """A bug of authtools (here: the references probe made to raise from the settings) must not
    stop check, migrate or test: it is one warning, authtools.W000."""
    with project.settings_file.open("a") as settings:
        settings.write(
            "\nfrom authtools.diagnosis.probes import references as _references\n\n\n"
            "def _broken(ctx):\n"
            '    raise RuntimeError("a bug")\n\n\n'
            "_references.run = _broken\n"
        )
    check = project.manage("check")
    assert (check.code, check.out) == (0, ""), str(check)
    assert check.err == (
        "System check identified some issues:\n\n"
        "WARNINGS:\n"
        "?: (authtools.W000) authtools could not finish its 'references' check: RuntimeError: "
        "a bug\n"
        "\tHINT: A bug in authtools, not in this project: `python manage.py diagnose_user_model "
        "--no-db` shows the traceback; please report it. SILENCED_SYSTEM_CHECKS = "
        '["authtools.W000"] hides this warning.\n\n'
        "System check identified 1 issue (0 silenced).\n"
    )


def check_levels(project: Project) -> tuple[int, list[tuple[str, str]]]:
    """check's exit code and the (section, authtools message id) of each authtools message."""
    check = project.manage("check")
    section, found = "", []
    for line in check.err.splitlines():
        if line in ("ERRORS:", "WARNINGS:"):
            section = line
        elif line.startswith("?: (authtools."):
            found.append((section, line[4:].split(")")[0]))
    return check.code, found


def test_manager_without_create_user_is_an_error_only_when_login_fails(project: Project) -> None:
    """E109: without get_by_natural_key ModelBackend cannot log anyone in (a check error);
    without create_user/create_superuser only createsuperuser fails (a check warning)."""
    models = (
        "from django.contrib.auth.base_user import BaseUserManager\n"
        "from django.contrib.auth.models import AbstractUser\n"
        "from django.db import models\n"
        "\n"
        "\n"
        "class User(AbstractUser):\n"
        "    objects = {manager}\n"
    )
    project.write("accounts/models.py", models.format(manager="BaseUserManager()"))
    assert check_levels(project) == (0, [("WARNINGS:", "authtools.E109")])
    project.write("accounts/models.py", models.format(manager="models.Manager()"))
    assert check_levels(project) == (1, [("ERRORS:", "authtools.E109")])
