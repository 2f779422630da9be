"""--scaffold and --write-settings on the settings layouts real projects use: a settings package
whose base.py holds INSTALLED_APPS, imported by local.py with ``from .base import *`` (Wagtail,
babybuddy), cookiecutter-django's ``DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS`` behind a chain
of star imports, and settings the command cannot edit (shown as steps to do by hand)."""

from __future__ import annotations

import stat
import subprocess
import sys

from .conftest import Project, Result
from .swaphelpers import SEED, remove_app

LOCAL = "testproject.settings.local"

# A project app whose admin replaces the user model's admin: it needs the user model's app
# (and its admin.py) loaded before it, or admin autodiscovery raises NotRegistered.
SHOP_ADMIN = """from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class ShopUserAdmin(UserAdmin):
    list_display = ("username", "email")
"""

LOCAL_SETTINGS = '''"""Settings of a developer's machine."""

from .base import *  # noqa: F403

DEBUG = True
if DEBUG:
    INSTALLED_APPS += ["django.contrib.humanize"]  # noqa: F405
'''

CHECK_OK = "System check identified no issues (0 silenced).\n"


def manage(project: Project, *args: str, umask: int | None = None) -> Result:
    """manage.py ARGS with the settings package's local.py (under UMASK when given)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project.path,
        env=project.env(DJANGO_SETTINGS_MODULE=LOCAL),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        umask=-1 if umask is None else umask,
    )
    return Result(proc.stdout, proc.stderr, proc.returncode)


def settings_package(project: Project, base: str) -> None:
    """testproject/settings.py becomes the package testproject/settings/ with BASE as base.py
    and local.py importing it."""
    project.remove("testproject/settings.py")
    project.write("testproject/settings/__init__.py", "")
    project.write("testproject/settings/base.py", base)
    project.write("testproject/settings/local.py", LOCAL_SETTINGS)


def on_auth_user_package(project: Project) -> str:
    """The test project on auth.User with its settings in a package; returns base.py's text."""
    remove_app(project, "accounts")
    project.remove_setting("AUTH_USER_MODEL")
    base = project.settings_file.read_text()
    settings_package(project, base)
    project.write("shop/admin.py", SHOP_ADMIN)
    return base


def diff_lines(path: object, hunks: list[str]) -> str:
    return f"  --- {path} (before)\n  +++ {path} (after)\n" + "".join(f"  {h}\n" for h in hunks)


def test_settings_package(db_project: Project) -> None:
    """base.py holds a plain INSTALLED_APPS, local.py star-imports it: the diff is base.py's,
    the app goes before the first project app (shop, whose admin unregisters the user model),
    and nothing is refused without --write-settings."""
    project = db_project
    base = on_auth_user_package(project)
    base_file = project.path / "testproject" / "settings" / "base.py"
    assert manage(project, "migrate", "--no-input", "-v", "0").code == 0
    assert manage(project, "shell", "-v", "0", "-c", SEED).code == 0

    lines = base.splitlines()
    shop = lines.index('    "shop",') + 1  # 1-based line of "shop"
    end = len(lines)
    diff = diff_lines(
        base_file,
        [
            f"@@ -{shop - 3},6 +{shop - 3},7 @@",
            '     "django.contrib.messages",',
            '     "django_extensions",',
            '     "authtools",',
            '+    "accounts",',
            '     "shop",',
            '     "profiles",',
            " ]",
            f"@@ -{end - 2},3 +{end - 1},4 @@",
            *(f" {line}" for line in lines[-3:]),
            '+AUTH_USER_MODEL = "accounts.User"',
        ],
    )
    swap_next = (
        "python manage.py swap_user_model --from auth.User (it writes the migration of 'accounts')"
    )
    shown = manage(project, "swap_user_model", "--scaffold", "accounts", umask=0o077)
    assert shown.code == 0, str(shown)
    assert shown.out == (
        "Wrote accounts/__init__.py\n"
        "Wrote accounts/apps.py\n"
        "Wrote accounts/models.py\n"
        "Wrote accounts/admin.py\n"
        "Change (or run again with --write-settings) testproject/settings/base.py:\n"
        + diff
        + "Next: make the settings change above (or run again with --write-settings), then "
        + swap_next
        + "\n"
    )
    assert base_file.read_text() == base
    assert project.read("testproject/settings/local.py") == LOCAL_SETTINGS
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in [project.path / "accounts", *sorted((project.path / "accounts").iterdir())]
    }
    assert modes == {
        "accounts": 0o755,
        "__init__.py": 0o644,
        "admin.py": 0o644,
        "apps.py": 0o644,
        "models.py": 0o644,
    }

    written = manage(project, "swap_user_model", "--scaffold", "accounts", "--write-settings")
    assert written.code == 0, str(written)
    assert written.out == (
        "Changed testproject/settings/base.py:\n" + diff + f"Next: {swap_next}\n"
    )
    after = base.replace('    "shop",\n', '    "accounts",\n    "shop",\n', 1)
    assert base_file.read_text() == after + 'AUTH_USER_MODEL = "accounts.User"\n'
    assert project.read("testproject/settings/local.py") == LOCAL_SETTINGS

    # accounts' admin registers the new model before shop's admin unregisters it.
    check = manage(project, "check")
    assert (check.code, check.out, check.err) == (0, CHECK_OK, ""), str(check)
    dry = manage(project, "swap_user_model", "--from", "auth.User", "--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.out.splitlines()[:2] == [
        "Plan (swap_user_model):",
        "  1. Write the migration of 'accounts': a mirror of 'auth_user'",
    ]


COOKIECUTTER_BASE = '''"""Base settings (cookiecutter-django's layout)."""

from testproject.settings.db import *  # noqa: F403

SECRET_KEY = "authtools-testproject-not-secret"
ALLOWED_HOSTS = ["*"]

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
THIRD_PARTY_APPS = ["django_extensions", "authtools"]
LOCAL_APPS = [
    "shop",
    "profiles",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "testproject.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
'''

DB_SETTINGS = '''"""The database, from the environment."""

import os

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["TESTPROJECT_DB_NAME"],
    }
}
'''


def test_cookiecutter_chain_and_by_hand(project: Project) -> None:
    """local.py -> base.py -> db.py by star imports, INSTALLED_APPS a sum of three lists: the
    app goes into LOCAL_APPS before shop. Then settings that cannot be edited: the steps to do
    by hand, refused with --write-settings (nothing written), shown without it."""
    remove_app(project, "accounts")
    settings_package(project, COOKIECUTTER_BASE)
    project.write("testproject/settings/db.py", DB_SETTINGS)
    project.write("shop/admin.py", SHOP_ADMIN)
    base_file = project.path / "testproject" / "settings" / "base.py"
    assert manage(project, "migrate", "--no-input", "-v", "0").code == 0

    written = manage(project, "swap_user_model", "--scaffold", "accounts", "--write-settings")
    assert written.code == 0, str(written)
    n_lines = len(COOKIECUTTER_BASE.splitlines())
    assert written.out.splitlines()[4:] == [
        "Changed testproject/settings/base.py:",
        f"  --- {base_file} (before)",
        f"  +++ {base_file} (after)",
        "  @@ -14,6 +14,7 @@",
        "   ]",
        '   THIRD_PARTY_APPS = ["django_extensions", "authtools"]',
        "   LOCAL_APPS = [",
        '  +    "accounts",',
        '       "shop",',
        '       "profiles",',
        "   ]",
        f"  @@ -{n_lines - 2},3 +{n_lines - 1},4 @@",
        "   ]",
        '   DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"',
        "   USE_TZ = True",
        '  +AUTH_USER_MODEL = "accounts.User"',
        "Next: python manage.py swap_user_model --from auth.User "
        "(it writes the migration of 'accounts')",
    ]
    assert base_file.read_text() == (
        COOKIECUTTER_BASE.replace('    "shop",\n', '    "accounts",\n    "shop",\n')
        + 'AUTH_USER_MODEL = "accounts.User"\n'
    )
    check = manage(project, "check")
    assert (check.code, check.out, check.err) == (0, CHECK_OK, ""), str(check)
    assert manage(project, "swap_user_model", "--from", "auth.User", "--dry-run").code == 0

    # Settings it cannot edit: a computed INSTALLED_APPS, AUTH_USER_MODEL under a condition.
    project.remove("accounts")
    computed = COOKIECUTTER_BASE.replace(
        "INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS",
        "INSTALLED_APPS = list(DJANGO_APPS) + THIRD_PARTY_APPS + LOCAL_APPS",
    )
    base_file.write_text(computed)
    project.write(
        "testproject/settings/local.py",
        LOCAL_SETTINGS + 'if DEBUG:\n    AUTH_USER_MODEL = "auth.User"\n',
    )
    local_file = project.path / "testproject" / "settings" / "local.py"
    steps = [
        f"INSTALLED_APPS in {str(base_file)!r} line 20 is not a plain list of strings (or a sum "
        "of such lists): add 'accounts' to INSTALLED_APPS by hand",
        f"AUTH_USER_MODEL in {str(local_file)!r} line 9 is under a condition: set it to "
        "'accounts.User' by hand",
    ]
    refused = manage(project, "swap_user_model", "--scaffold", "accounts", "--write-settings")
    assert (refused.code, refused.out) == (1, ""), str(refused)
    assert refused.err == f"CommandError: Refused: {'; '.join(steps)}. Nothing was changed.\n"
    assert not (project.path / "accounts").exists()
    assert base_file.read_text() == computed

    shown = manage(project, "swap_user_model", "--scaffold", "accounts")
    assert shown.code == 0, str(shown)
    assert shown.out.splitlines()[4:] == [
        f"Change by hand: {steps[0]}.",
        f"Change by hand: {steps[1]}.",
        "Next: make the settings change above (or run again with --write-settings), then "
        "python manage.py swap_user_model --from auth.User (it writes the migration of "
        "'accounts')",
    ]
    assert base_file.read_text() == computed
