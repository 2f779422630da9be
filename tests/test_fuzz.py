"""A hypothesis fuzz of settings values and command-line arguments: whatever comes in, the four
commands and ``python -m authtools diagnose`` end without a traceback, with exit status 0, 1 or 2,
within a time bound (a hang is a failure).

Each example is a subprocess (Django fixes its settings at start-up), so the normal suite runs a
few examples, derandomized (the same ones on every run); AUTHTOOLS_FUZZ_EXAMPLES=200 runs more:

    AUTHTOOLS_FUZZ_EXAMPLES=200 python -m pytest tests/test_fuzz.py

Every example runs on one migrated SQLite copy of the test project: settings through a generated
module that imports the project's and overrides a few names; the recovery commands always with
--dry-run and relative paths only, so that a fuzzed argument never writes outside the copy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import Database, Project, Result, copy_testproject

EXAMPLES = int(os.environ.get("AUTHTOOLS_FUZZ_EXAMPLES", "6"))
TIME_BOUND = 120  # seconds for one run: the slowest legitimate run takes a few
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a subprocess
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SETTINGS_MODULE = "fuzzsettings"


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    workdir = tmp_path_factory.mktemp("fuzz")
    project = Project(copy_testproject(workdir / "project"), Database("sqlite", workdir))
    project.migrate()
    yield project


def run(project: Project, *args: str, **env: str) -> Result:
    """python ARGS in the project, bounded in time: a hang fails the example."""
    try:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=project.path,
            env=project.env(**env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIME_BOUND,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"python {' '.join(args)} ran longer than {TIME_BOUND} s")
    return Result(proc.stdout, proc.stderr, proc.returncode)


def assert_clean(result: Result, what: str) -> None:
    assert "Traceback (most recent call last)" not in result.err, f"{what}\n{result}"
    assert result.code in (0, 1, 2), f"{what}\n{result}"


def failed_in_django_start_up(result: Result) -> bool:
    """manage.py died in django.setup() (before any command of ours ran): Django's own
    traceback, none of whose frames is authtools code. python -m authtools diagnose is the
    documented way to diagnose such a project."""
    frames = re.findall(r'File "([^"]+)"', result.err)
    return "Traceback (most recent call last)" in result.err and not any(
        f"{os.sep}authtools{os.sep}" in frame for frame in frames
    )


# --- settings ----------------------------------------------------------------------------------
def _text(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=max_size
    )


AUTH_USER_MODELS = st.one_of(
    st.sampled_from(
        [
            "accounts.User",
            " accounts.User",
            "accounts.User\n",
            "accounts.user",
            "accounts",
            "accounts.User.Extra",
            ".",
            "",
            "accounts.Üser",
            "shop.Order",
            "nope.User",
            "auth.User",
            "accounts.\tUser",
        ]
    ),
    _text(),
    st.none(),
    st.integers(),
).map(repr)

DEFAULT = "DATABASES['default']"
DATABASES = st.sampled_from(
    [
        "DATABASES",
        "None",
        "{}",
        "[]",
        "{'default': {}}",
        "{'default': {'ENGINE': None}}",
        "{'default': {'ENGINE': 5}}",
        "{'default': {'ENGINE': 'nope.backend'}}",
        "{'default': {'ENGINE': 'django.db.backends.sqlite3'}}",
        "{'default': 'sqlite'}",
        f"{{'replica': {DEFAULT}}}",
        f"{{'default': dict({DEFAULT}, NAME=str(BASE_DIR / 'manage.py'))}}",
        f"{{'default': dict({DEFAULT}, NAME=str(BASE_DIR))}}",
        f"{{'default': dict({DEFAULT}, OPTIONS={{'timeout': 'x'}})}}",
        f"{{'default': {DEFAULT}, 'other': {{}}}}",
    ]
)

INSTALLED_APPS = st.sampled_from(
    [
        "INSTALLED_APPS",
        "INSTALLED_APPS + ['accounts']",
        "[a for a in INSTALLED_APPS if a != 'django.contrib.auth']",
        "[a for a in INSTALLED_APPS if a != 'django.contrib.contenttypes']",
        "[a for a in INSTALLED_APPS if a != 'accounts']",
        "[a for a in INSTALLED_APPS if a != 'authtools']",
        "INSTALLED_APPS + ['nope']",
        "INSTALLED_APPS + ['']",
        "INSTALLED_APPS + ['ünïcode']",
        "INSTALLED_APPS + [None]",
        "tuple(INSTALLED_APPS)",
        "None",
        "'accounts'",
        "[]",
    ]
)

EXTRAS = st.sampled_from(
    [
        "",
        "",
        "",
        "AUTHTOOLS_CONNECT_TIMEOUT = 'x'",
        "AUTHTOOLS_CONNECT_TIMEOUT = float('nan')",
        "AUTHTOOLS_CONNECT_TIMEOUT = 0",
        "AUTHTOOLS_CONNECT_TIMEOUT = True",
        "import sys\nsys.exit(3)",
        "raise SystemExit",
        "raise ValueError('broken settings')",
    ]
)


@FUZZ
@given(
    auth_user_model=AUTH_USER_MODELS,
    databases=DATABASES,
    installed_apps=INSTALLED_APPS,
    extra=EXTRAS,
)
def test_settings(
    fuzz_project: Project, auth_user_model: str, databases: str, installed_apps: str, extra: str
) -> None:
    module = (
        "from testproject.settings import *  # noqa: F403\n"
        f"AUTH_USER_MODEL = {auth_user_model}\n"
        f"DATABASES = {databases}\n"
        f"INSTALLED_APPS = {installed_apps}\n"
        f"{extra}\n"
    )
    fuzz_project.write(f"{SETTINGS_MODULE}.py", module)
    what = f"settings:\n{module}"
    assert_clean(
        run(fuzz_project, "-m", "authtools", "diagnose", "--settings", SETTINGS_MODULE),
        f"python -m authtools diagnose, {what}",
    )
    result = run(
        fuzz_project, "manage.py", "diagnose_user_model", DJANGO_SETTINGS_MODULE=SETTINGS_MODULE
    )
    if failed_in_django_start_up(result) or ("exit" in extra.lower() and result.out == ""):
        return  # Django's own start-up (or the settings module) ended manage.py before us
    assert_clean(result, f"manage.py diagnose_user_model, {what}")


# --- command-line arguments --------------------------------------------------------------------
def _relative() -> st.SearchStrategy[str]:
    """A relative path inside the project copy: fuzzed text without separators or '..'."""
    return st.one_of(
        st.sampled_from(["", ".authtools-backups", "nothing-here", "accounts", "manage.py"]),
        _text(8).filter(lambda s: "/" not in s and ".." not in s and not s.startswith("~")),
    )


VALUE = st.one_of(
    _text(),
    st.sampled_from(["accounts.User", "auth.User", "auth.user=accounts.user", "-1", "default"]),
)
DIAGNOSE_OPTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("--format"), st.sampled_from(["text", "json"]) | VALUE),
        st.tuples(st.just("--database"), st.just("default") | VALUE),
        st.tuples(st.just("--fail-level"), st.sampled_from(["error", "warning", "info"]) | VALUE),
        st.tuples(st.just("--target"), VALUE),
        st.tuples(st.just("-v"), st.sampled_from(["0", "1", "2", "3"]) | VALUE),
        st.tuples(st.sampled_from(["--no-db", "--no-color"])),
        st.tuples(VALUE),
    ),
    max_size=4,
)
RECOVERY_OPTIONS = {
    "reset_user_migrations": st.one_of(
        st.tuples(VALUE),
        st.tuples(st.just("--via-auth-user")),
        st.tuples(st.just("--restore"), _relative()),
    ),
    "rebuild_contenttypes": st.one_of(
        st.tuples(st.just("--remap"), VALUE),
        st.tuples(st.just("--remove-stale")),
        st.tuples(st.just("--restore"), _relative()),
    ),
    "swap_user_model": st.one_of(
        st.tuples(st.just("--from"), VALUE),
        st.tuples(st.sampled_from(["--drop-columns", "--sql"])),
        st.tuples(st.just("--phase"), st.sampled_from(["1", "2"]) | VALUE),
        st.tuples(st.just("--scaffold"), VALUE),
        st.tuples(st.sampled_from(["--resume", "--rollback"]), _relative()),
    ),
}
SHARED_RECOVERY = st.one_of(
    st.tuples(st.just("--format"), st.sampled_from(["text", "json"]) | VALUE),
    st.tuples(st.just("--database"), st.just("default") | VALUE),
    st.tuples(st.just("--backup-dir"), _relative()),
    st.tuples(st.sampled_from(["--noinput", "--no-input"])),
)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(
        st.sampled_from(
            ["-m authtools", "diagnose_user_model", *sorted(RECOVERY_OPTIONS)],
        )
    )
    if command == "-m authtools":
        options = draw(DIAGNOSE_OPTIONS)
        settings_args = draw(
            st.sampled_from([["--settings", "testproject.settings"], ["--settings"], []])
            | st.tuples(st.just("--settings"), VALUE).map(list)
        )
        return ["-m", "authtools", "diagnose", *settings_args, *sum(options, ())]
    if command == "diagnose_user_model":
        return ["manage.py", command, *sum(draw(DIAGNOSE_OPTIONS), ())]
    options = draw(st.lists(RECOVERY_OPTIONS[command] | SHARED_RECOVERY, max_size=4))
    return ["manage.py", command, *sum(options, ()), "--dry-run"]


@FUZZ
@given(args=command_lines())
def test_command_line(fuzz_project: Project, args: list[str]) -> None:
    assert_clean(run(fuzz_project, *args), f"python {args!r}")


def test_the_settings_module_is_the_projects_own(fuzz_project: Project) -> None:
    """The fuzz's settings module sees the project's settings (or every example would test
    nothing but an import error)."""
    fuzz_project.write(f"{SETTINGS_MODULE}.py", "from testproject.settings import *  # noqa\n")
    result = run(
        fuzz_project,
        "-m",
        "authtools",
        "diagnose",
        "--settings",
        SETTINGS_MODULE,
        "--fail-level",
        "warning",
    )
    assert (result.code, result.err) == (0, ""), str(result)
    assert result.out.endswith("No problems found.\n"), str(result)
    assert Path(fuzz_project.path / f"{SETTINGS_MODULE}.py").exists()
