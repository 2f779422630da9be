"""The setting probe: AUTH_USER_MODEL unset, malformed, padded, or naming the wrong app or model.

Most of these mistakes stop ``django.setup()`` (auth's ready() calls get_user_model(); admin's
LogEntry builds a ForeignKey to the setting), so manage.py itself crashes and the diagnosis runs
through ``python -m authtools diagnose``. Each test shows which entry point works.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.helpers import (
    assert_manage_crashes,
    assert_no_problems,
    diagnose_json,
    diagnose_m,
    document,
    explained_findings,
    finding,
    header,
    not_installed,
)

SETTINGS = "testproject/settings.py"


def ours(result: Result) -> list[dict[str, Any]]:
    """The setting and model findings of a JSON report, after checking that no probe left the
    boot failure unexplained (E007). Other probes may report consequences (e.g. E201 for
    admin.models failing to import because of the setting): their own tests cover them."""
    return explained_findings(result, "setting", "model")


# --- AUTH_USER_MODEL not set --------------------------------------------------------------------


def test_unset_with_a_custom_user_model(project: Project) -> None:
    project.remove_setting("AUTH_USER_MODEL")
    e001 = finding(
        "authtools.E001",
        "accounts.User is a concrete user model but AUTH_USER_MODEL is not set, so Django "
        "uses auth.User: logins, createsuperuser and the admin use auth_user, not "
        "'accounts_user'; accounts.User and auth.User both define the groups and "
        "user_permissions reverse accessors (Django's fields.E304 clashes).",
        "Add `AUTH_USER_MODEL = 'accounts.User'` to testproject/settings.py before the first "
        "migrate; if the database was built while the setting was unset (auth_user holds the "
        "users), add it, then move them with `python manage.py swap_user_model --from "
        "auth.User`.",
        "accounts/models.py",
        project.line_of("accounts/models.py", "class User("),
    )

    # The real symptom: Django's reverse-accessor clashes, and our finding beside them.
    check = project.manage("check")
    assert check.code == 1, str(check)
    clashes = [line for line in check.err.splitlines() if "(fields.E304)" in line]
    assert [line.split(":")[0] for line in clashes] == [
        "accounts.User.groups",
        "accounts.User.user_permissions",
        "auth.User.groups",
        "auth.User.user_permissions",
    ]
    assert f"?: (authtools.E001) {e001['message']} (accounts/models.py:4)" in check.err

    # manage.py starts: the command reports it, as the whole JSON document.
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert result.json() == document("auth.User", [e001])
    assert result.err == "CommandError: 1 finding at or above 'error'.\n"


# --- malformed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reported", "message", "crash"),
    [
        (
            "'accounts'",
            "accounts",
            "AUTH_USER_MODEL = 'accounts' is not of the form 'app_label.ModelName' "
            "(it has no dot).",
            "ImproperlyConfigured: AUTH_USER_MODEL must be of the form 'app_label.model_name'",
        ),
        (
            "'project.accounts.User'",
            "project.accounts.User",
            "AUTH_USER_MODEL = 'project.accounts.User' is not of the form "
            "'app_label.ModelName' (a module path is not an app label).",
            "ValueError: Invalid model reference 'project.accounts.User'. String model "
            "references must be of the form 'app_label.ModelName'.",
        ),
        (
            "'accounts.models.User'",
            "accounts.models.User",
            "AUTH_USER_MODEL = 'accounts.models.User' is not of the form "
            "'app_label.ModelName' (a module path is not an app label).",
            "ValueError: Invalid model reference 'accounts.models.User'. String model "
            "references must be of the form 'app_label.ModelName'.",
        ),
        (
            "('accounts', 'User')",
            "('accounts', 'User')",
            "AUTH_USER_MODEL is ('accounts', 'User') (tuple), not a string "
            "'app_label.ModelName'; admin's LogEntry and every ForeignKey to it fail.",
            "TypeError: ForeignKey(('accounts', 'User')) is invalid. First parameter to "
            "ForeignKey must be either a model, a model name, or the string 'self'",
        ),
        (
            "None",
            None,
            "AUTH_USER_MODEL is None (NoneType), not a string 'app_label.ModelName'; admin's "
            "LogEntry and every ForeignKey to it fail.",
            "TypeError: ForeignKey(None) is invalid. First parameter to ForeignKey must be "
            "either a model, a model name, or the string 'self'",
        ),
    ],
)
def test_malformed(
    project: Project, source: str, reported: str | None, message: str, crash: str
) -> None:
    line = project.set_setting("AUTH_USER_MODEL", source)
    assert_manage_crashes(project, crash)
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    expected = finding(
        "authtools.E002", message, "Write `AUTH_USER_MODEL = 'accounts.User'`.", SETTINGS, line
    )
    assert result.json()["auth_user_model"] == reported
    assert ours(result) == [expected]


def test_stray_whitespace(project: Project) -> None:
    line = project.set_setting("AUTH_USER_MODEL", "' accounts.User'")
    assert_manage_crashes(project, not_installed(" accounts.User"))
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E003",
            "AUTH_USER_MODEL = ' accounts.User' has stray whitespace: Django looks the value "
            "up as it is and finds no such model.",
            "Write `AUTH_USER_MODEL = 'accounts.User'`.",
            SETTINGS,
            line,
        )
    ]


# --- typos ----------------------------------------------------------------------------------------


def test_app_label_typo_text_output(project: Project) -> None:
    line = project.set_setting("AUTH_USER_MODEL", "'acounts.User'")
    assert_manage_crashes(project, not_installed("acounts.User"))
    result = project.authtools("diagnose", "--settings", "testproject.settings", "--no-color")
    assert result.code == 1, str(result)
    assert result.out == "\n".join(
        [
            header("acounts.User"),
            "",
            "ERROR authtools.E004 [setting] AUTH_USER_MODEL = 'acounts.User' names app label "
            "'acounts', which is not installed (installed labels: accounts, admin, auth, "
            "authtools, contenttypes, django_extensions, messages, profiles, sessions, shop).",
            f"  at testproject/settings.py:{line}",
            "  hint: Write `AUTH_USER_MODEL = 'accounts.User'`.",
            "",
            "1 error, 0 warnings, 0 infos.",
            "",
        ]
    )
    assert result.err == ""


def test_model_name_typo(project: Project) -> None:
    line = project.set_setting("AUTH_USER_MODEL", "'accounts.Usr'")
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E005",
            "AUTH_USER_MODEL = 'accounts.Usr' names model 'Usr', which app 'accounts' does "
            "not have (its models: User).",
            "Write `AUTH_USER_MODEL = 'accounts.User'`.",
            SETTINGS,
            line,
        )
    ]


def test_model_named_differently(project: Project) -> None:
    """The setting says User, the class is Account, and the migrations still create User: the
    class was renamed in code only. Changing the setting alone would make makemigrations
    delete the table that holds the users, so the hint gives the safe routes instead."""
    project.write(
        "accounts/models.py",
        "from django.contrib.auth.models import AbstractUser\n\n\n"
        "class Account(AbstractUser):\n    pass\n",
    )
    project.write("accounts/admin.py", "")
    line = project.setting_line("AUTH_USER_MODEL")
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E005",
            "AUTH_USER_MODEL = 'accounts.User' names model 'User', which the migrations of "
            "'accounts' create and the code no longer has: the class was renamed to 'Account' "
            "in code only.",
            "Do not only change the setting to 'accounts.Account': makemigrations would then "
            "delete accounts.User, whose table holds the users, and create an empty "
            "accounts.Account. Either rename the class back to 'User', or change both "
            "together: a migration of 'accounts' after '0001_initial' with "
            "`migrations.RenameModel('User', 'Account')` and `AUTH_USER_MODEL = "
            "'accounts.Account'` in the same change.",
            SETTINGS,
            line,
        )
    ]


def test_lower_case_model_name_is_valid(project: Project) -> None:
    project.set_setting("AUTH_USER_MODEL", "'accounts.user'")
    assert_no_problems(project, "accounts.user")


# --- AppConfig.label differs from the module path -----------------------------------------------


def move_accounts_under_apps(project: Project) -> None:
    """accounts/ becomes apps/accounts/ (module 'apps.accounts'), keeping the label 'accounts'."""
    (project.path / "apps").mkdir()
    (project.path / "accounts").rename(project.path / "apps" / "accounts")
    project.write("apps/__init__.py", "")
    project.write(
        "apps/accounts/apps.py",
        "from django.apps import AppConfig\n\n\n"
        "class AccountsConfig(AppConfig):\n"
        '    name = "apps.accounts"\n'
        '    label = "accounts"\n'
        '    default_auto_field = "django.db.models.AutoField"\n',
    )
    project.write(
        "apps/accounts/admin.py",
        "from django.contrib import admin\nfrom django.contrib.auth.admin import UserAdmin\n\n"
        "from apps.accounts.models import User\n\nadmin.site.register(User, UserAdmin)\n",
    )
    settings = project.settings_file.read_text().replace('"accounts",\n', '"apps.accounts",\n')
    project.settings_file.write_text(settings)


def test_label_differs_from_module_path(project: Project) -> None:
    move_accounts_under_apps(project)
    assert_no_problems(project, "accounts.User")

    # The module path instead of the label: Django refuses it before any command runs.
    line = project.set_setting("AUTH_USER_MODEL", "'apps.accounts.User'")
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E002",
            "AUTH_USER_MODEL = 'apps.accounts.User' is not of the form 'app_label.ModelName' "
            "(a module path is not an app label).",
            "Write `AUTH_USER_MODEL = 'accounts.User'`.",
            SETTINGS,
            line,
        )
    ]


def test_custom_label(project: Project) -> None:
    """Module 'accounts', AppConfig.label 'members': the setting must say 'members.User'."""
    apps_py = project.read("accounts/apps.py").replace(
        '    name = "accounts"\n', '    name = "accounts"\n    label = "members"\n'
    )
    project.write("accounts/apps.py", apps_py)
    line = project.set_setting("AUTH_USER_MODEL", "'members.User'")
    assert_no_problems(project, "members.User")

    project.set_setting("AUTH_USER_MODEL", "'accounts.User'")
    assert_manage_crashes(project, not_installed("accounts.User"))
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E004",
            "AUTH_USER_MODEL = 'accounts.User' names app label 'accounts', which is not "
            "installed: 'accounts' is the module path of the app whose label is 'members' "
            "(AppConfig.label), and the setting takes the label.",
            "Write `AUTH_USER_MODEL = 'members.User'`.",
            SETTINGS,
            line,
        )
    ]


# --- healthy: Django's default user model ---------------------------------------------------------


def test_default_auth_user_is_clean(project: Project) -> None:
    """No AUTH_USER_MODEL and no custom user model: nothing to report, on both entry points."""
    project.remove_setting("AUTH_USER_MODEL")
    project.remove("accounts")
    settings = project.settings_file.read_text().replace('    "accounts",\n', "")
    project.settings_file.write_text(settings)
    assert_no_problems(project, "auth.User")
    result = diagnose_m(project, "--fail-level", "warning")
    assert result.code == 0, str(result)
    assert result.json() == document("auth.User", [])
