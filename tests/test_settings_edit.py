"""--write-settings' edit of settings files, in process (it reads files with ast only): which
module is edited along star imports, where the app goes, what is left to do by hand."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from authtools.procedures.swap.settings_edit import SettingsPlan, plan_settings_edit


def is_project_app(name: str) -> bool:
    return name in {"shop", "profiles", "blog.apps.BlogConfig"}


def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> SettingsPlan:
    """The plan for the settings module 'PKG.settings.local' made of FILES (relative to the
    package's settings folder); PKG is unique, so that no test sees another's modules."""
    package = f"proj_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / package / "settings"
    folder.mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    for name, text in files.items():
        (folder / name).write_text(text.replace("PKG", package))
    monkeypatch.syspath_prepend(str(tmp_path))
    return plan_settings_edit(
        f"{package}.settings.local", "accounts.User", "accounts", is_project_app
    )


def edited(result: SettingsPlan) -> dict[str, str]:
    return {edit.path.name: edit.after for edit in result.changed}


def test_override_in_local_and_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTH_USER_MODEL set again in local.py is edited there; local.py's
    ``INSTALLED_APPS = INSTALLED_APPS + [...]`` extends base.py's list, which gets the app (a
    tuple on one line, before the first project app)."""
    result = plan(
        tmp_path,
        monkeypatch,
        {
            "base.py": 'INSTALLED_APPS = ("django.contrib.auth", "shop")\n'
            "AUTH_USER_MODEL = 'auth.User'\n",
            "local.py": "from .base import *\n\nINSTALLED_APPS = INSTALLED_APPS + ['debug']\n"
            "AUTH_USER_MODEL = 'auth.User'  # for now\n",
        },
    )
    assert result.by_hand == []
    assert edited(result) == {
        "base.py": 'INSTALLED_APPS = ("django.contrib.auth", "accounts", "shop")\n'
        "AUTH_USER_MODEL = 'auth.User'\n",
        "local.py": "from .base import *\n\nINSTALLED_APPS = INSTALLED_APPS + ['debug']\n"
        "AUTH_USER_MODEL = 'accounts.User'  # for now\n",
    }


def test_absolute_import_in_try_and_no_project_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An absolute star import inside try (a missing local_settings ignored); no project app in
    the list: the app goes last; AUTH_USER_MODEL is appended to the module defining the apps."""
    result = plan(
        tmp_path,
        monkeypatch,
        {
            "base.py": "INSTALLED_APPS = [\n    'django.contrib.auth',\n"
            "    'django_extensions'\n]\n",
            "local.py": "try:\n    from PKG.settings.base import *\n"
            "    from PKG.settings.local_settings import *\nexcept ImportError:\n    pass\n",
        },
    )
    assert result.by_hand == []
    assert edited(result) == {
        "base.py": "INSTALLED_APPS = [\n    'django.contrib.auth',\n    'django_extensions',\n"
        "    'accounts',\n]\n"
        'AUTH_USER_MODEL = "accounts.User"\n',
    }


def test_app_config_entry_and_present_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project app named by its AppConfig path counts as a project app; an app already
    listed is not added again (only AUTH_USER_MODEL changes)."""
    files = {
        "base.py": "INSTALLED_APPS = ['django.contrib.auth', 'blog.apps.BlogConfig']\n",
        "local.py": "from .base import *\n",
    }
    result = plan(tmp_path, monkeypatch, files)
    assert edited(result) == {
        "base.py": "INSTALLED_APPS = ['django.contrib.auth', 'accounts', 'blog.apps.BlogConfig']\n"
        'AUTH_USER_MODEL = "accounts.User"\n'
    }
    files["base.py"] = "INSTALLED_APPS = ['accounts.apps.AccountsConfig', 'shop']\n"
    result = plan(tmp_path, monkeypatch, files)
    assert edited(result) == {
        "base.py": "INSTALLED_APPS = ['accounts.apps.AccountsConfig', 'shop']\n"
        'AUTH_USER_MODEL = "accounts.User"\n'
    }


def test_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A definition under a condition, an operand from another file: steps by hand, nothing
    edited for them."""
    result = plan(
        tmp_path,
        monkeypatch,
        {
            "apps.py": "LOCAL_APPS = ['shop']\n",
            "base.py": "from .apps import *\n\n"
            "INSTALLED_APPS = ['django.contrib.auth'] + LOCAL_APPS\n",
            "local.py": "import os\nfrom .base import *\n\nif os.environ.get('X'):\n"
            "    AUTH_USER_MODEL = 'auth.User'\n",
        },
    )
    folder = next(tmp_path.glob("proj_*/settings"))
    assert result.by_hand == [
        f"INSTALLED_APPS in {str(folder / 'base.py')!r} line 3 adds LOCAL_APPS, which is not a "
        "plain list in the same file: add 'accounts' to INSTALLED_APPS by hand",
        f"AUTH_USER_MODEL in {str(folder / 'local.py')!r} line 5 is under a condition: set it "
        "to 'accounts.User' by hand",
    ]
    assert result.changed == []


def test_no_source() -> None:
    """A settings module whose source cannot be found: one step by hand, nothing edited."""
    result = plan_settings_edit(
        "authtools_no_such_settings", "accounts.User", "accounts", str.isalpha
    )
    assert result.by_hand == [
        "cannot read the source of the settings module 'authtools_no_such_settings': set "
        "AUTH_USER_MODEL = 'accounts.User' and add 'accounts' to INSTALLED_APPS by hand"
    ]
    assert result.edits == []
