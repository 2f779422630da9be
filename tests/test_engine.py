"""The diagnosis engine's own behaviour: boot failures, exit codes, JSON contract, id table."""

from __future__ import annotations

import re
from pathlib import Path

from authtools.diagnosis.catalog import CATALOG, markdown_table

from .conftest import REPO, Project
from .helpers import HEADER, document


def test_healthy_project_is_clean_on_every_backend(db_project: Project) -> None:
    db_project.migrate()
    text = db_project.manage("diagnose_user_model")
    assert (text.code, text.err) == (0, ""), str(text)
    assert text.out == f"AUTH_USER_MODEL = 'accounts.User' {HEADER}\n\nNo problems found.\n"

    result = db_project.manage("diagnose_user_model", "--format", "json", "--fail-level", "info")
    assert result.code == 0, str(result)
    assert result.json() == document("accounts.User", [])


def test_settings_module_that_cannot_be_imported(project: Project) -> None:
    project.write(
        "testproject/settings.py", project.read("testproject/settings.py") + "DEBUG = (\n"
    )
    line = len(project.read("testproject/settings.py").splitlines())
    result = project.authtools("diagnose", "--settings", "testproject.settings", "--format", "json")
    assert result.code == 1, str(result)
    [finding] = result.json()["findings"]
    assert finding["id"] == "authtools.E006"
    assert finding["cause"] == "setting"
    assert finding["location"] == {"file": "testproject/settings.py", "line": line}
    assert finding["message"].startswith(
        "The settings module 'testproject.settings' cannot be imported: SyntaxError:"
    )
    assert result.json()["auth_user_model"] is None


def test_boot_failure_no_probe_explains_is_still_reported(project: Project) -> None:
    project.write(
        "shop/apps.py",
        "from django.apps import AppConfig\n\n\n"
        "class ShopConfig(AppConfig):\n"
        "    name = 'shop'\n\n"
        "    def ready(self):\n"
        "        raise RuntimeError('shop is not ready')\n",
    )
    result = project.authtools("diagnose", "--settings", "testproject.settings", "--no-db")
    assert result.code == 1, str(result)
    assert result.out == (
        f"AUTH_USER_MODEL = 'accounts.User' {HEADER}\n\n"
        "ERROR authtools.E007 [setting] django.setup() fails in its 'ready' phase: "
        "RuntimeError: shop is not ready\n"
        "  at shop/apps.py:8\n"
        "  hint: Fix the error shown; run with -v 2 for the traceback.\n\n"
        "1 error, 0 warnings, 0 infos.\n"
    )
    verbose = project.authtools(
        "diagnose", "--settings", "testproject.settings", "--no-db", "-v", "2"
    )
    assert "Django set-up stopped at 'ready':" in verbose.err
    assert "RuntimeError: shop is not ready" in verbose.err


def test_bad_usage_exits_2(project: Project) -> None:
    # From a folder without manage.py (beside it, the settings come from manage.py).
    no_settings = Project(project.path.parent, project.db).authtools("diagnose")
    assert no_settings.code == 2
    assert no_settings.err.splitlines()[-1] == (
        "python -m authtools diagnose: error: no settings: pass --settings=mysite.settings, "
        "set DJANGO_SETTINGS_MODULE, or run from the folder of manage.py"
    )
    bad_alias = project.authtools(
        "diagnose", "--settings", "testproject.settings", "--database", "x"
    )
    assert bad_alias.code == 2
    assert bad_alias.err.splitlines()[-1] == (
        "python -m authtools diagnose: error: --database 'x' is not in DATABASES "
        "(choose from 'default')"
    )
    bad_format = project.manage("diagnose_user_model", "--format", "yaml")
    assert bad_format.code == 2
    assert "argument --format: invalid choice: 'yaml'" in bad_format.err


def test_fail_level_decides_the_exit_status(project: Project) -> None:
    # A permission string for the swapped-out auth.User is a warning (authtools.W303).
    project.write("shop/views.py", "REQUIRED = 'auth.change_user'\n")
    project.migrate()
    default = project.manage("diagnose_user_model", "--format", "json")
    assert default.code == 0, str(default)
    assert [f["id"] for f in default.json()["findings"]] == ["authtools.W303"]
    strict = project.manage("diagnose_user_model", "--format", "json", "--fail-level", "warning")
    assert strict.code == 1
    assert strict.err == "CommandError: 1 finding at or above 'warning'.\n"
    assert strict.json() == default.json()


def test_python_api_returns_the_report(project: Project) -> None:
    project.migrate()
    code = (
        "import authtools; report = authtools.diagnose(use_db=False); "
        "print(type(report).__name__, report.auth_user_model, report.findings, report.exit_code())"
    )
    assert project.shell(code) == "Report accounts.User [] 0\n"


def test_every_id_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    assert markdown_table() in readme
    for id_ in CATALOG:
        assert re.fullmatch(r"authtools\.[EWI]\d{3}", id_)
        assert id_[10] == CATALOG[id_].severity[0].upper()


def test_ids_subcommand_prints_the_table(project: Project) -> None:
    result = project.authtools("ids")
    assert result.code == 0
    assert result.out == markdown_table() + "\n"


def test_no_test_writes_into_the_repository() -> None:
    assert not (REPO / "testproject" / "db.sqlite3").exists()
    assert not list(Path(REPO / "testproject").glob(".authtools-backups"))


def test_unknown_target_is_a_usage_error_in_both_entry_points(project: Project) -> None:
    project.migrate()
    message = (
        "--target 'accounts.Nobody' names no installed model (App 'accounts' doesn't have a "
        "'Nobody' model.); give APP_LABEL.ModelName, e.g. --target accounts.User."
    )
    via_manage = project.manage("diagnose_user_model", "--target", "accounts.Nobody")
    assert (via_manage.code, via_manage.out, via_manage.err) == (
        2,
        "",
        f"CommandError: {message}\n",
    )
    via_module = project.authtools(
        "diagnose", "--settings", "testproject.settings", "--target", "accounts.Nobody"
    )
    assert via_module.code == 2
    assert via_module.out == ""
    assert via_module.err.splitlines()[-1] == f"python -m authtools diagnose: error: {message}"
