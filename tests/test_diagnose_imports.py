"""The imports probe: models modules that fail to import, import cycles, import-time user lookups.

An import cycle between models modules makes ``django.setup()`` raise, so manage.py crashes with
Django's traceback and the diagnosis runs through ``python -m authtools diagnose``. The
warnings (W203, W204) leave Django working and come through manage.py.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Project, Result
from tests.helpers import (
    diagnose_json,
    diagnose_m,
    explained_findings,
    finding,
    not_installed,
)


def imports_findings(result: Result) -> list[dict[str, Any]]:
    """The imports findings of a JSON report (other probes' findings have their own tests)."""
    return explained_findings(result, "imports")


def test_cycle_between_two_apps_models(project: Project) -> None:
    """The seed's cause 4: the user app and another app import each other's model classes."""
    project.write(
        "accounts/models.py",
        "from django.contrib.auth.models import AbstractUser\n"
        "from django.db import models\n"
        "\n"
        "from shop.models import Order\n"
        "\n"
        "\n"
        "class User(AbstractUser):\n"
        "    favourite = models.ForeignKey(Order, null=True, on_delete=models.SET_NULL)\n",
    )
    project.write(
        "shop/models.py",
        "from django.db import models\n"
        "\n"
        "from accounts.models import User\n"
        "\n"
        "\n"
        "class Order(models.Model):\n"
        "    user = models.ForeignKey(User, on_delete=models.CASCADE)\n",
    )
    error = (
        "ImportError: cannot import name 'User' from partially initialized module "
        "'accounts.models' (most likely due to a circular import) "
        f"({project.path / 'accounts' / 'models.py'})"
    )

    # What Django prints: manage.py cannot start at all.
    crash = project.manage("diagnose_user_model", "--no-db")
    assert crash.code == 1, str(crash)
    assert crash.out == ""
    assert crash.err.startswith("Traceback (most recent call last):"), str(crash)
    assert crash.err.rstrip().endswith(error), str(crash)

    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert imports_findings(result) == [
        finding(
            "authtools.E201",
            f"Importing the models module 'accounts.models' fails: {error}",
            "It is an import cycle (authtools.E202): break it where E202 says.",
            "shop/models.py",
            3,
        ),
        finding(
            "authtools.E202",
            "Models modules import each other in a cycle: accounts.models -> shop.models -> "
            "accounts.models (accounts/models.py:4 `from shop.models import Order`; "
            "shop/models.py:3 `from accounts.models import User`).",
            "Break the cycle at shop/models.py:3 (`from accounts.models import User`): refer to "
            "settings.AUTH_USER_MODEL in relation fields instead of importing the class, or "
            "move the code both modules need into a module that imports neither.",
            "shop/models.py",
            3,
        ),
        finding(
            "authtools.W204",
            "'shop.models' imports the user model class 'accounts.models.User': importing it "
            "now needs 'accounts.models' first, which ties the apps' import order together (and "
            "breaks with an import cycle as soon as the user app imports this one).",
            "Use settings.AUTH_USER_MODEL in relation fields (models.ForeignKey("
            "settings.AUTH_USER_MODEL, ...)) and get_user_model() inside functions.",
            "shop/models.py",
            3,
        ),
    ]

    # The text report says the same, with the locations.
    text = project.authtools("diagnose", "--settings", "testproject.settings", "--no-db")
    assert text.code == 1, str(text)
    assert "  at shop/models.py:3\n" in text.out


def test_cycle_through_a_relative_import_and_an_app_config_path(project: Project) -> None:
    """A cycle inside one app (relative imports), listed in INSTALLED_APPS by its AppConfig."""
    apps = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        apps.replace('    "shop",\n', '    "shop.apps.ShopConfig",\n'),
    )
    project.write(
        "shop/apps.py",
        'from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = "shop"\n',
    )
    project.write(
        "shop/pricing.py",
        "from .models import Order\n\n\ndef total(order: Order) -> int:\n    return 0\n",
    )
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "from django.db import models\n",
            "from django.db import models\n\nfrom . import pricing  # noqa: F401\n",
            1,
        ),
    )
    error = (
        "ImportError: cannot import name 'Order' from partially initialized module "
        "'shop.models' (most likely due to a circular import) "
        f"({project.path / 'shop' / 'models.py'})"
    )
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert imports_findings(result) == [
        finding(
            "authtools.E201",
            f"Importing the models module 'shop.models' fails: {error}",
            "It is an import cycle (authtools.E202): break it where E202 says.",
            "shop/pricing.py",
            1,
        ),
        finding(
            "authtools.E202",
            "Models modules import each other in a cycle: shop.models -> shop.pricing -> "
            "shop.models (shop/models.py:4 `from . import pricing`; shop/pricing.py:1 "
            "`from .models import Order`).",
            "Break the cycle at shop/pricing.py:1 (`from .models import Order`): refer to "
            "'shop.Order' in relation fields instead of importing the class, or move the code "
            "both modules need into a module that imports neither.",
            "shop/pricing.py",
            1,
        ),
    ]


def test_models_module_failing_without_a_cycle(project: Project) -> None:
    project.write("shop/utils.py", "def tax() -> int:\n    return 0\n")
    models = project.read("shop/models.py")
    project.write("shop/models.py", "from shop.utils import discount\n" + models)
    error = (
        "ImportError: cannot import name 'discount' from 'shop.utils' "
        f"({project.path / 'shop' / 'utils.py'})"
    )
    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert imports_findings(result) == [
        finding(
            "authtools.E201",
            f"Importing the models module 'shop.models' fails: {error}",
            "Fix the error at this line; `python -m authtools diagnose --traceback` shows the "
            "whole traceback.",
            "shop/models.py",
            1,
        )
    ]


def test_user_lookups_at_import_time(project: Project) -> None:
    """get_user_model() at module level or in a class body, and the user class imported."""
    project.write(
        "shop/models.py",
        "from django.conf import settings\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.db import models\n"
        "\n"
        "from accounts.models import User as Account\n"
        "\n"
        "UserModel = get_user_model()\n"
        "\n"
        "\n"
        "class Order(models.Model):\n"
        "    user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE)\n"
        "    total = models.DecimalField(max_digits=10, decimal_places=2)\n"
        "\n"
        "    def first_user(self) -> Account:\n"
        "        return get_user_model().objects.first()\n",
    )
    # Not flagged: a TYPE_CHECKING import, and the user app importing its own model.
    project.write(
        "profiles/models.py",
        "from typing import TYPE_CHECKING\n"
        "\n"
        "from django.conf import settings\n"
        "from django.db import models\n"
        "\n"
        "if TYPE_CHECKING:\n"
        "    from accounts.models import User\n"
        "\n"
        "\n"
        "class Profile(models.Model):\n"
        "    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n",
    )
    w203_hint = (
        "Use settings.AUTH_USER_MODEL in relation fields (models.ForeignKey("
        "settings.AUTH_USER_MODEL, ...)) and call get_user_model() inside functions or methods."
    )
    expected = [
        finding(
            "authtools.W204",
            "'shop.models' imports the user model class 'accounts.models.User': importing it "
            "now needs 'accounts.models' first, which ties the apps' import order together (and "
            "breaks with an import cycle as soon as the user app imports this one).",
            "The class is used only in annotations: import it under `if TYPE_CHECKING:` (from "
            "typing) so that nothing is imported at run time.",
            "shop/models.py",
            5,
        ),
        finding(
            "authtools.W203",
            "get_user_model() is called at module level of 'shop.models', that is while Django "
            "imports the models: it only works if the user model's app happens to load first.",
            w203_hint,
            "shop/models.py",
            7,
        ),
        finding(
            "authtools.W203",
            "get_user_model() is called in the body of class 'Order' of 'shop.models', that is "
            "while Django imports the models: it only works if the user model's app happens to "
            "load first.",
            w203_hint,
            "shop/models.py",
            11,
        ),
    ]
    result = diagnose_json(project)
    assert imports_findings(result) == expected
    assert result.code == 0, str(result)  # warnings only: below the default fail level

    strict = diagnose_json(project, "--fail-level", "warning")
    assert strict.code == 1, str(strict)

    # W203 are system checks (warnings: check passes); W204, style advice, is not one.
    check = project.manage("check")
    assert check.code == 0, str(check)
    assert check.err == (
        "System check identified some issues:\n\n"
        "WARNINGS:\n"
        f"?: (authtools.W203) {expected[1]['message']} (shop/models.py:7)\n"
        f"\tHINT: {w203_hint}\n"
        f"?: (authtools.W203) {expected[2]['message']} (shop/models.py:11)\n"
        f"\tHINT: {w203_hint}\n\n"
        "System check identified 2 issues (0 silenced).\n"
    ), str(check)
    assert check.out == "", str(check)


def test_healthy_project_has_no_imports_findings(project: Project) -> None:
    result = diagnose_json(project)
    assert result.code == 0, str(result)
    assert imports_findings(result) == []
    through_m = diagnose_m(project)
    assert through_m.code == 0, str(through_m)
    assert imports_findings(through_m) == []


def test_get_user_model_while_the_user_app_is_being_imported(project: Project) -> None:
    """The user app imports shop.models, which calls get_user_model() at module level: Django
    fails with a message that blames the setting; the diagnosis points at the call instead."""
    project.write(
        "accounts/models.py",
        "from django.contrib.auth.models import AbstractUser\n"
        "from django.db import models\n"
        "\n"
        "from shop.models import Order\n"
        "\n"
        "\n"
        "class User(AbstractUser):\n"
        "    favourite = models.ForeignKey(\n"
        '        Order, null=True, on_delete=models.SET_NULL, related_name="+"\n'
        "    )\n",
    )
    project.write(
        "shop/models.py",
        "from django.contrib.auth import get_user_model\n"
        "from django.db import models\n"
        "\n"
        "User = get_user_model()\n"
        "\n"
        "\n"
        "class Order(models.Model):\n"
        '    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="orders")\n',
    )
    error = not_installed("accounts.User")
    crash = project.manage("check")
    assert crash.code == 1, str(crash)
    assert crash.err.rstrip().endswith(f"django.core.exceptions.{error}"), str(crash)

    result = diagnose_m(project)
    assert result.code == 1, str(result)
    assert imports_findings(result) == [
        finding(
            "authtools.E201",
            f"Importing the models module 'accounts.models' fails: {error}",
            "get_user_model() at shop/models.py:4 runs before the user model is loaded: use "
            "settings.AUTH_USER_MODEL in relation fields and call get_user_model() inside "
            "functions.",
            "shop/models.py",
            4,
        ),
        finding(
            "authtools.W203",
            "get_user_model() is called at module level of 'shop.models', that is while Django "
            "imports the models: it only works if the user model's app happens to load first.",
            "Use settings.AUTH_USER_MODEL in relation fields (models.ForeignKey("
            "settings.AUTH_USER_MODEL, ...)) and call get_user_model() inside functions or "
            "methods.",
            "shop/models.py",
            4,
        ),
    ]
