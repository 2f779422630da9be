"""The model probe: the class AUTH_USER_MODEL names, and the contract Django expects of it.

Where the model is missing, abstract or a proxy of auth.User, django.setup() fails and only
``python -m authtools diagnose`` runs; for a registered model with a broken contract manage.py
starts, and the static findings also appear in ``manage.py check``.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Project, Result
from tests.helpers import (
    assert_manage_crashes,
    assert_no_problems,
    diagnose_json,
    diagnose_m,
    document,
    explained_findings,
    finding,
    not_installed,
)

MODELS = "accounts/models.py"
ABSTRACT_USER = "from django.contrib.auth.models import AbstractUser\n\n\n"


def ours(result: Result) -> list[dict[str, Any]]:
    """The setting and model findings of a JSON report, after checking that no probe left a
    boot failure unexplained (E007)."""
    return explained_findings(result, "setting", "model")


# --- the seed's manager, through manage.py check and the JSON contract -------------------------


def test_plain_manager_in_check_and_json(project: Project) -> None:
    project.use_gallery("seed_user")
    line = project.line_of(MODELS, "objects = models.Manager()")
    e109 = finding(
        "authtools.E109",
        "The default manager accounts.User.objects (django.db.models.manager.Manager) lacks "
        "create_user, create_superuser, get_by_natural_key: createsuperuser, login "
        "(get_by_natural_key) and user creation break.",
        "Define `class UserManager(BaseUserManager)` (from django.contrib.auth.base_user) with "
        "create_user(self, email, password=None, **extra_fields) and create_superuser(self, "
        "email, password=None, **extra_fields), and write `objects = UserManager()`.",
        MODELS,
        line,
    )
    check = project.manage("check")
    assert check.code == 1, str(check)
    assert check.err.startswith("SystemCheckError: System check identified some issues:\n")
    assert (
        f"?: (authtools.E109) {e109['message']} ({MODELS}:{line})\n\tHINT: {e109['hint']}\n"
    ) in check.err

    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [e109]


def test_methods_instead_of_properties_whole_json(project: Project) -> None:
    project.use_gallery("method_flags_user")
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert result.json() == document(
        "accounts.User",
        [
            finding(
                "authtools.E110",
                f"accounts.User.{attr} is a method, not a property (Django's {check}): "
                f"`if user.{attr}:` is always true, a security hole.",
                f"Put `@property` above `def {attr}(self)`, or delete the method to inherit "
                "AbstractBaseUser's.",
                MODELS,
                project.line_of(MODELS, f"def {attr}("),
            )
            for attr, check in (("is_anonymous", "auth.C009"), ("is_authenticated", "auth.C010"))
        ],
    )
    assert result.err == "CommandError: 2 findings at or above 'error'.\n"


# --- the class is not registered: manage.py cannot start -------------------------------------


def test_defined_in_another_module(project: Project) -> None:
    project.write("accounts/users.py", project.read(MODELS))
    project.write(MODELS, "# The user model lives in users.py.\n")
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E101",
            "The user model accounts.User is defined in 'accounts.users' "
            "(accounts/users.py:4), which the app's models module never imports, so Django "
            "never registers it.",
            "Add `from .users import User  # noqa: F401` to accounts/models.py (or move the "
            "class there).",
            "accounts/users.py",
            4,
        )
    ]

    # The same with a models package whose __init__ forgets a submodule.
    project.remove(MODELS)
    project.write("accounts/models/__init__.py", "")
    (project.path / "accounts/users.py").rename(project.path / "accounts/models/user.py")
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E101",
            "The user model accounts.User is defined in 'accounts.models.user' "
            "(accounts/models/user.py:4), which the app's models module never imports, so "
            "Django never registers it.",
            "Add `from .user import User  # noqa: F401` to accounts/models/__init__.py (or "
            "move the class there).",
            "accounts/models/user.py",
            4,
        )
    ]


def test_abstract(project: Project) -> None:
    project.write(
        MODELS,
        ABSTRACT_USER + "class User(AbstractUser):\n    class Meta:\n        abstract = True\n",
    )
    project.write("accounts/admin.py", "")
    assert_manage_crashes(project, not_installed("accounts.User"))
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E102",
            "The user model accounts.User is abstract (Meta.abstract = True): Django never "
            "registers abstract models, so AUTH_USER_MODEL cannot name it.",
            "Remove `abstract = True` from User.Meta, or define a concrete `class User(...)` "
            "that inherits from it, then run makemigrations.",
            MODELS,
            6,
        )
    ]


def test_proxy_of_auth_user(project: Project) -> None:
    project.write(
        MODELS,
        "from django.contrib.auth.models import User as AuthUser\n\n\n"
        "class User(AuthUser):\n    class Meta:\n        proxy = True\n",
    )
    assert_manage_crashes(
        project, "TypeError: User cannot proxy the swapped model 'accounts.User'."
    )
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E103",
            "The user model accounts.User is a proxy model: a proxy of auth.User cannot even "
            "be created once auth.User is swapped out.",
            "Remove `proxy = True` from User.Meta and inherit from AbstractUser or "
            "AbstractBaseUser (a proxy of auth.User cannot be the user model), then run "
            "makemigrations.",
            MODELS,
            6,
        )
    ]


# --- registered, but not what auth expects: manage.py starts ----------------------------------


def test_proxy_of_a_concrete_model(project: Project) -> None:
    project.use_gallery("proxy_user")
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E103",
            "The user model accounts.User is a proxy model: it shares the table of "
            "'accounts.Account'.",
            "Point AUTH_USER_MODEL at the concrete model: `AUTH_USER_MODEL = "
            "'accounts.Account'` (or remove `proxy = True` from User.Meta and run "
            "makemigrations).",
            MODELS,
            project.line_of(MODELS, "proxy = True"),
        )
    ]


def test_not_a_user_model(project: Project) -> None:
    project.use_gallery("plain_user")
    # Django's own auth check crashes on it; our command still answers.
    check = project.manage("check")
    assert check.code == 1
    assert check.err.rstrip().endswith(
        "AttributeError: type object 'User' has no attribute 'REQUIRED_FIELDS'"
    ), str(check)
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E104",
            "The user model accounts.User does not inherit from AbstractBaseUser: it has no "
            "password, USERNAME_FIELD or REQUIRED_FIELDS, so login, createsuperuser and "
            "Django's auth checks fail.",
            "Inherit from AbstractUser (`from django.contrib.auth.models import "
            "AbstractUser`; `class User(AbstractUser):`), or from AbstractBaseUser and "
            "PermissionsMixin, then run makemigrations.",
            MODELS,
            project.line_of(MODELS, "class User("),
        )
    ]


def test_username_field_names_no_field(project: Project) -> None:
    project.write(
        MODELS, ABSTRACT_USER + "class User(AbstractUser):\n    USERNAME_FIELD = 'emial'\n"
    )
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E105",
            "accounts.User.USERNAME_FIELD is 'emial', which is not a field of the model (its "
            "fields: id, password, last_login, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined); login, createsuperuser and Django's "
            "auth checks fail.",
            "Write `USERNAME_FIELD = 'email'` and give 'email' unique=True, or add the field "
            "to the model and run makemigrations.",
            MODELS,
            5,
        )
    ]


def test_username_field_not_unique(project: Project) -> None:
    project.use_gallery("non_unique_username_user")
    project.write("accounts/admin.py", "")
    line = project.line_of(MODELS, "email = models.EmailField()")
    hint = (
        "Add unique=True to the 'email' field (or a UniqueConstraint(fields=['email'], ...) "
        "without a condition to Meta.constraints), run makemigrations and migrate; remove "
        "duplicate values first or the migration fails."
    )
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E106",
            "accounts.User.email is the USERNAME_FIELD but is not unique (Django's auth.E003): "
            "ModelBackend cannot tell two users with the same email apart.",
            hint,
            MODELS,
            line,
        )
    ]

    # With a custom backend Django only warns (auth.W004), and so do we.
    project.set_setting("AUTHENTICATION_BACKENDS", "['accounts.backends.EmailBackend']")
    result = diagnose_json(project)
    assert result.code == 0, str(result)
    w111 = finding(
        "authtools.W111",
        "accounts.User.email is the USERNAME_FIELD but is not unique (Django's auth.W004); "
        "only custom AUTHENTICATION_BACKENDS that handle duplicates can log users in safely.",
        "Make sure every backend in AUTHENTICATION_BACKENDS handles duplicate usernames, or: "
        + hint[0].lower()
        + hint[1:],
        MODELS,
        line,
    )
    assert ours(result) == [w111]
    failing = project.manage("diagnose_user_model", "--no-db", "--fail-level", "warning")
    assert failing.code == 1, str(failing)
    assert "WARNING authtools.W111 [model]" in failing.out

    # A UniqueConstraint on the field alone satisfies Django, and us.
    project.write(
        MODELS,
        project.read(MODELS)
        + "\n    class Meta:\n        constraints = [\n"
        + "            models.UniqueConstraint(fields=['email'], name='user_email_unique')\n"
        + "        ]\n",
    )
    result = diagnose_json(project)
    assert ours(result) == [], str(result)


def test_required_fields(project: Project) -> None:
    project.write(
        MODELS, ABSTRACT_USER + "class User(AbstractUser):\n    REQUIRED_FIELDS = 'email'\n"
    )
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E108",
            "accounts.User.REQUIRED_FIELDS is 'email', not a list or tuple (Django's "
            "auth.E001); createsuperuser would prompt for the wrong fields.",
            "Write `REQUIRED_FIELDS = ['email']`.",
            MODELS,
            5,
        )
    ]

    project.write(
        MODELS,
        ABSTRACT_USER + "class User(AbstractUser):\n    REQUIRED_FIELDS = ['username', 'email']\n",
    )
    result = diagnose_json(project)
    assert result.code == 1, str(result)
    assert ours(result) == [
        finding(
            "authtools.E107",
            "accounts.User.USERNAME_FIELD 'username' is also listed in REQUIRED_FIELDS "
            "(Django's auth.E002); createsuperuser would ask for it twice.",
            "Write `REQUIRED_FIELDS = ['email']`.",
            MODELS,
            5,
        )
    ]


# --- healthy ---------------------------------------------------------------------------------


def test_abstract_user_is_clean(project: Project) -> None:
    """The test project as it is: AbstractUser, nothing to report on either entry point."""
    assert_no_problems(project, "accounts.User")
    result = diagnose_m(project, "--fail-level", "warning")
    assert result.code == 0, str(result)
    assert result.json() == document("accounts.User", [])


def test_email_user_is_clean(project: Project) -> None:
    """A correct email-login AbstractBaseUser with its BaseUserManager and its migration."""
    project.use_gallery("email_user")
    project.write("accounts/admin.py", "")
    project.remove("accounts/migrations/0001_initial.py")
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    assert_no_problems(project, "accounts.User")
    check = project.ok("check")
    assert check.out == "System check identified no issues (0 silenced).\n"
