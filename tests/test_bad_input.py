"""Bad input and production conditions are one clear line: a database server that never
answers, DATABASES that Django cannot use, a settings module that exits, a closed pipe, a killed
parent. End to end, in subprocesses, on copies of the test project."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_DATABASES, Project, Result
from tests.helpers import document, finding, header

RECOVERY = (
    ("reset_user_migrations", "--noinput"),
    ("rebuild_contenttypes", "--noinput"),
    ("swap_user_model", "--from", "auth.User", "--noinput"),
)
E504_HINT = (
    "Check DATABASES['default'] (HOST, PORT, NAME, USER, PASSWORD) and that the server runs, "
    "or run with --no-db to diagnose without the database."
)
E504_SQLITE_HINT = (
    "Check DATABASES['default']['NAME'] (a SQLite database file this process can read and "
    "write), or run with --no-db to diagnose without the database."
)
E504_TIMEOUT_HINT = (
    "Set AUTHTOOLS_CONNECT_TIMEOUT to a number of seconds above 0, or remove it (the default is 5)."
)
NOTHING_CHANGED = "; start it or fix DATABASES. Nothing was changed."
SQLITE_NOTHING_CHANGED = "; check the file DATABASES['default']['NAME']. Nothing was changed."
FIX_SETTING = ": fix DATABASES in the settings. Nothing was changed."


def diagnose_json(project: Project, **env: str) -> Result:
    return project.manage("diagnose_user_model", "--format", "json", **env)


def diagnose_m_json(project: Project, *args: str, **env: str) -> Result:
    return project.run(
        "-m",
        "authtools",
        "diagnose",
        "--settings",
        "testproject.settings",
        "--format",
        "json",
        *args,
        env=project.env(**env),
    )


def assert_one_database_finding(result: Result, message: str, hint: str = E504_HINT) -> None:
    """The whole report: one E504 finding with MESSAGE and HINT, exit 1, nothing else on stderr
    but the command's summary."""
    assert result.code == 1, str(result)
    assert result.json() == document("accounts.User", [finding("authtools.E504", message, hint)]), (
        str(result)
    )
    assert result.err in ("", "CommandError: 1 finding at or above 'error'.\n"), str(result)


def assert_recovery_refuses(project: Project, command: tuple[str, ...], line: str, **env: str):
    result = project.manage(*command, **env)
    assert (result.code, result.out, result.err) == (1, "", f"CommandError: {line}\n"), str(result)


# --- a server that accepts TCP and never answers ------------------------------------------------
@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in accepted:
            conn.close()


def driver_missing(vendor: str) -> str | None:
    module = {"postgresql": "psycopg", "mysql": "MySQLdb"}[vendor]
    try:
        __import__(module)
    except ImportError:
        return f"the {vendor} driver ({module}) is not installed"
    return None


@pytest.mark.parametrize("vendor", ["postgresql", "mysql"])
def test_a_server_that_never_answers_is_one_line_within_the_timeout(
    project: Project, vendor: str
) -> None:
    """No connect timeout meant minutes (psycopg's default is 130 s); now it is the
    AUTHTOOLS_CONNECT_TIMEOUT (1 s; libpq waits 2 s at least), for the diagnosis in both front
    ends and the three recovery commands."""
    reason = driver_missing(vendor)
    if reason:
        if REQUIRE_DATABASES:
            pytest.fail(f"AUTHTOOLS_REQUIRE_DATABASES=1 but {reason}")
        pytest.skip(reason)
    user, waited = ("postgres", 2) if vendor == "postgresql" else ("root", 1)
    with silent_server() as port:
        env = {
            "TESTPROJECT_DB": vendor,
            "TESTPROJECT_DB_NAME": "shop",
            "TESTPROJECT_DB_PORT": str(port),
            "AUTHTOOLS_CONNECT_TIMEOUT": "1",
        }
        line = (
            f"Cannot connect to the database 'default' ({vendor} database 'shop' on "
            f"127.0.0.1:{port} as {user!r}): no answer within {waited} s "
            "(AUTHTOOLS_CONNECT_TIMEOUT sets how long to wait)"
        )
        assert_one_database_finding(diagnose_json(project, **env), line)
        if vendor == "mysql":  # the same check as PostgreSQL's past the driver: one of each
            assert_recovery_refuses(project, RECOVERY[2], line + NOTHING_CHANGED, **env)
            return
        assert_one_database_finding(diagnose_m_json(project, **env), line)
        for command in RECOVERY:
            assert_recovery_refuses(project, command, line + NOTHING_CHANGED, **env)


def test_a_locked_sqlite_file_waits_the_timeout_then_says_so(project: Project) -> None:
    """SQLite's connect does not wait; reading a file another process holds an exclusive lock
    on does, for the connect timeout (SQLite's `timeout`)."""
    path = project.path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        env = {"TESTPROJECT_DB_NAME": str(path), "AUTHTOOLS_CONNECT_TIMEOUT": "1"}
        line = (
            f"Cannot connect to the database 'default' (sqlite3 file {str(path)!r}): database is "
            "locked (waited 1 s; AUTHTOOLS_CONNECT_TIMEOUT sets how long to wait)"
        )
        assert_one_database_finding(diagnose_json(project, **env), line, E504_SQLITE_HINT)
        assert_recovery_refuses(project, RECOVERY[1], line + SQLITE_NOTHING_CHANGED, **env)
    finally:
        holder.close()


def test_a_bad_connect_timeout_value_is_one_line(project: Project) -> None:
    project.set_setting("AUTHTOOLS_CONNECT_TIMEOUT", "'soon'")
    line = (
        "the setting AUTHTOOLS_CONNECT_TIMEOUT is 'soon', not a number of seconds above 0 (e.g. 5)"
    )
    assert_one_database_finding(diagnose_json(project), line, E504_TIMEOUT_HINT)
    env_line = (
        "the environment variable AUTHTOOLS_CONNECT_TIMEOUT is '-1', not a number of seconds "
        "above 0 (e.g. 5)"
    )
    assert_recovery_refuses(
        project,
        RECOVERY[0],
        env_line + ": set it to a number of seconds above 0, or remove it. Nothing was changed.",
        AUTHTOOLS_CONNECT_TIMEOUT="-1",
    )


# --- DATABASES that cannot be used --------------------------------------------------------------
NO_ENGINE = "settings.DATABASES['default'] has no ENGINE (e.g. 'django.db.backends.postgresql')"


@pytest.mark.parametrize(
    "source",
    [
        "del DATABASES",
        "DATABASES = {}",
        "DATABASES = {'default': {}}",
        "DATABASES['default']['ENGINE'] = None",
    ],
)
def test_databases_without_an_engine(project: Project, source: str) -> None:
    """Django boots on its dummy backend, then every query raises ImproperlyConfigured (a
    traceback in the migrations probe before): now one finding, and for every recovery command
    (its continue paths included) one line naming the setting and the next step."""
    project.write("testproject/settings.py", project.read("testproject/settings.py") + source)
    assert_one_database_finding(diagnose_json(project), NO_ENGINE)
    assert_one_database_finding(diagnose_m_json(project), NO_ENGINE)
    for recovery in (*RECOVERY, ("rebuild_contenttypes", "--restore", "backup", "--noinput")):
        assert_recovery_refuses(project, recovery, NO_ENGINE + FIX_SETTING)


def test_a_sqlite_file_that_is_not_a_database(project: Project) -> None:
    name = str(project.path / "manage.py")
    line = (
        f"Cannot connect to the database 'default' (sqlite3 file {name!r}): file is not a database"
    )
    assert_one_database_finding(
        diagnose_json(project, TESTPROJECT_DB_NAME=name), line, E504_SQLITE_HINT
    )
    for command in (*RECOVERY, ("rebuild_contenttypes", "--restore", "backup", "--noinput")):
        assert_recovery_refuses(
            project, command, line + SQLITE_NOTHING_CHANGED, TESTPROJECT_DB_NAME=name
        )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "DATABASES = None",
            "settings.DATABASES is None, not a dict of database aliases such as "
            "{'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}",
        ),
        (
            "DATABASES = {'replica': DATABASES['default']}",
            "settings.DATABASES has no 'default' entry (it has 'replica')",
        ),
        (
            "DATABASES = {'default': 'sqlite'}",
            "settings.DATABASES['default'] is 'sqlite', not a dict",
        ),
        (
            "DATABASES['default']['ENGINE'] = 5",
            "settings.DATABASES['default']['ENGINE'] is 5, not a dotted path such as "
            "'django.db.backends.postgresql'",
        ),
        (
            "DATABASES['default']['ENGINE'] = 'nope'",
            "settings.DATABASES['default'] cannot be used: 'nope' isn't an available database "
            "backend or couldn't be imported. Check the above exception. To use one of the "
            "built-in backends, use 'django.db.backends.XXX', where XXX is one of: 'mysql', "
            "'oracle', 'postgresql', 'sqlite3'",
        ),
    ],
)
def test_databases_django_cannot_read(project: Project, source: str, problem: str) -> None:
    """django.setup() itself fails when it builds the first model (manage.py cannot start:
    Django's own traceback, before any command runs); python -m authtools diagnose says why in
    one finding (E007), even --no-db."""
    project.write("testproject/settings.py", project.read("testproject/settings.py") + source)
    expected = document(
        "accounts.User",
        [
            finding(
                "authtools.E007",
                f"django.setup() fails in its 'apps' phase: ImproperlyConfigured: {problem}",
                "Fix the error shown; run with -v 2 for the traceback.",
            )
        ],
    )
    for args in ((), ("--no-db",)):
        result = diagnose_m_json(project, *args)
        assert (result.code, result.err) == (1, ""), str(result)
        assert result.json() == expected


# --- a settings module that exits ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "code"),
    [("import sys\nsys.exit(3)", "3"), ("raise SystemExit('bye')", "'bye'")],
)
def test_a_settings_module_that_exits_is_a_finding(
    project: Project, source: str, code: str
) -> None:
    """E006 (the settings module cannot be imported), exit status 1 (the report's), never the
    settings module's own 3."""
    text = project.read("testproject/settings.py") + source + "\n"
    project.write("testproject/settings.py", text)
    line = len(text.splitlines())  # the last one raises
    result = project.authtools("diagnose", "--settings", "testproject.settings", "--no-color")
    assert (result.code, result.err) == (1, ""), str(result)
    assert result.out == (
        "AUTH_USER_MODEL = None "
        + header("x").split(" ", 3)[3]
        + "\n\n"
        + "ERROR authtools.E006 [setting] The settings module 'testproject.settings' cannot be "
        f"imported: SystemExit({code}): the module calls sys.exit() or raises SystemExit while it "
        "is imported\n"
        f"  at testproject/settings.py:{line}\n"
        "  hint: Fix the error in the settings module (the traceback is shown with -v 2).\n"
        "\n"
        "1 error, 0 warnings, 0 infos.\n"
    )


# --- a reader that goes away --------------------------------------------------------------------
def run_with_closed_stdout(project: Project, *args: str) -> tuple[int, str]:
    """Run python ARGS with stdout a pipe whose reading end is already closed: the first
    write or flush fails with EPIPE, however small the output. Stdout is block-buffered, as
    for anyone piping into head (the flush at exit is where it used to fail)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=project.path,
            env=project.env(PYTHONUNBUFFERED=""),
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write)
    return proc.returncode, proc.stderr


def test_a_closed_pipe_ends_quietly_with_the_commands_own_status(project: Project) -> None:
    """`python -m authtools ids | head -3` ended with BrokenPipeError; now no output on stderr
    and the exit status the command would have had."""
    project.migrate()
    full = project.authtools("ids")
    assert full.code == 0, str(full)
    piped = subprocess.run(
        f"{sys.executable} -m authtools ids | head -3",
        shell=True,
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (piped.returncode, piped.stderr) == (0, "")
    assert piped.stdout.splitlines() == full.out.splitlines()[:3]

    settings = ("--settings", "testproject.settings")
    assert run_with_closed_stdout(project, "-m", "authtools", "ids") == (0, "")
    assert run_with_closed_stdout(project, "-m", "authtools", "--help") == (0, "")
    diagnose = ("-m", "authtools", "diagnose", *settings, "--no-db")
    assert run_with_closed_stdout(project, *diagnose) == (0, "")
    assert run_with_closed_stdout(project, "manage.py", "diagnose_user_model", "--no-db") == (0, "")
    assert run_with_closed_stdout(project, "manage.py", "rebuild_contenttypes", "--dry-run") == (
        0,
        "",
    )
    # the status stays the command's own: a finding at or above --fail-level still fails
    project.set_setting("AUTH_USER_MODEL", "'accounts.Usr'")
    assert run_with_closed_stdout(project, *diagnose) == (1, "")


# --- children die with their parent -------------------------------------------------------------
CHILD_SLEEPS = """
import os as _os, sys as _sys, time as _time
if _sys.argv[0] == "-c" and _os.environ.get("AUTHTOOLS_TEST_CHILD_PID"):  # a child of authtools
    Path(_os.environ["AUTHTOOLS_TEST_CHILD_PID"]).write_text(str(_os.getpid()))
    _time.sleep(300)
"""


def alive(pid: int) -> bool:
    """True while PID runs (a zombie waiting for its reaper does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_a_killed_reset_leaves_no_child_running(project: Project, tmp_path: Path) -> None:
    """SIGKILL reset_user_migrations while its child manage.py runs: the child (here stuck in a
    settings module that sleeps) receives the parent-death signal and is gone shortly after."""
    project.migrate()
    project.remove("accounts/migrations/0001_initial.py")
    project.write("testproject/settings.py", project.read("testproject/settings.py") + CHILD_SLEEPS)
    marker = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "manage.py", "reset_user_migrations", "--noinput"],
        cwd=project.path,
        env=project.env(AUTHTOOLS_TEST_CHILD_PID=str(marker)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = None
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text()) and parent.poll() is None:
            assert time.monotonic() < deadline, "reset_user_migrations started no child"
            time.sleep(0.05)
        assert parent.poll() is None, f"reset_user_migrations ended ({parent.returncode})"
        child = int(marker.read_text())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), f"the child {child} outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


# --- a database that was never migrated ----------------------------------------------------------
def test_a_never_migrated_database_is_one_line(db_project: Project) -> None:
    """rebuild_contenttypes (first run, --dry-run, --restore) says what is missing and to
    migrate, in one line; the other commands end without a traceback; nothing is created."""
    project = db_project
    missing = (
        "CommandError: The table 'django_content_type' does not exist in the database 'default' "
        "(never migrated?): run python manage.py migrate first, it creates the content types and "
        "permissions. Nothing was changed.\n"
    )
    for args in (("--dry-run",), ("--noinput",), ("--restore", "backup", "--noinput")):
        result = project.manage("rebuild_contenttypes", *args)
        assert (result.code, result.out, result.err) == (1, "", missing), str(result)
    swap = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert (swap.code, swap.out) == (1, ""), str(swap)
    assert swap.err == (
        "CommandError: Refused: the old user table 'auth_user' does not exist in the database. "
        "Nothing was changed.\n"
    ), str(swap)
    for command in (("diagnose_user_model",), ("reset_user_migrations", "--dry-run")):
        result = project.manage(*command)
        assert result.code in (0, 1) and "Traceback" not in result.err, str(result)
    assert {t for t in project.db.tables() if not t.startswith("sqlite_")} == set()
