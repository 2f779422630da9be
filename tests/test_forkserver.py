"""The harness's fork server (tests/forkserver.py) stands for a real ``python`` start: the same
commands print the same stdout and stderr and exit with the same status either way, and what
a script sees of its process (argv, sys.path, working directory, environment, stdin, __main__)
is the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import forkserver
from tests.conftest import Project

PROBE = """
import json, os, sys, tempfile
data = {
    "argv": sys.argv,
    "path": sys.path[: len(os.environ.get("PYTHONPATH", "").split(os.pathsep)) + 1],
    "cwd": os.getcwd(),
    "name": __name__,
    "main": os.path.basename(sys.modules["__main__"].__file__),
    "env": {k: v for k, v in os.environ.items() if k.startswith(("PROBE", "TESTPROJECT", "TMP"))},
    "django_settings": os.environ.get("DJANGO_SETTINGS_MODULE"),
    "settings_loaded": "testproject.settings" in sys.modules,
    "tempdir": tempfile.gettempdir(),
    "stdin": sys.stdin.read(),
    "stdin_tty": sys.stdin.isatty(),
    "stdout_encoding": sys.stdout.encoding,
    "dont_write_bytecode": sys.dont_write_bytecode,
}
print(json.dumps(data, sort_keys=True))
print("to stderr", file=sys.stderr)
if len(sys.argv) > 1 and sys.argv[1] == "kill":
    os.kill(os.getpid(), 9)
if len(sys.argv) > 1 and sys.argv[1] == "crash":
    def inner():
        raise ValueError("the probe crashed")
    inner()
raise SystemExit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


def both(
    project: Project, *args: str, input: str | None = None, **env: str
) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    """(forked, real) results of ``python ARGS`` in the project."""
    command = forkserver.Command(list(args), project.path, project.env(**env), input, 120)
    forked = forkserver.SERVER.run(command)
    assert forked is not None, "the fork server did not take the command"
    return forked, forkserver.real(command)


@pytest.mark.parametrize(
    "args, input",
    [
        (("probe.py", "a b", "3"), None),
        (("probe.py",), "yes\nno\n"),
        (("probe.py", "crash"), None),
        (("probe.py", "kill"), None),
        (("-m", "probe", "--flag", "0"), None),
    ],
    ids=["exit-status", "stdin", "uncaught-error", "killed", "module"],
)
def test_a_forked_start_is_what_python_would_do(
    project: Project, tmp_path: Path, args: tuple[str, ...], input: str | None
) -> None:
    project.write("probe.py", PROBE)
    (tmp_path / "tmp").mkdir()
    forked, real = both(project, *args, input=input, PROBE="1", TMPDIR=str(tmp_path / "tmp"))
    assert forked == real
    assert real[2] == {"3": 3, "crash": 1, "kill": -9}.get(args[-1], 0)


@pytest.mark.parametrize(
    "args",
    [
        ("manage.py", "check"),
        ("manage.py", "no_such_command"),
        ("manage.py", "shell", "-v", "0", "-c", "import django; raise RuntimeError('boom')"),
        ("manage.py", "diagnose_user_model", "--format", "json"),
        ("-m", "authtools", "diagnose"),
    ],
    ids=["check", "unknown-command", "traceback", "diagnose", "python-m-authtools"],
)
def test_a_forked_manage_py_prints_what_a_real_one_does(
    project: Project, args: tuple[str, ...]
) -> None:
    forked, real = both(project, *args)
    assert forked == real


def test_stdout_and_stderr_in_one_file_keep_their_order(project: Project) -> None:
    """How tests/docs_transcript.py runs commands: both streams in one file, as a terminal
    shows them."""
    project.write("probe.py", PROBE)
    command = forkserver.Command(["probe.py", "crash"], project.path, project.env(), merged=True)
    forked = forkserver.SERVER.run(command)
    assert forked is not None, "the fork server did not take the command"
    real = forkserver.real(command)
    assert forked == real
    assert real[0].splitlines()[1:3] == ["to stderr", "Traceback (most recent call last):"]
    assert real[1:] == ("", 1)


def test_a_changed_python_start_runs_a_real_process(project: Project, tmp_path: Path) -> None:
    """Another PYTHONPATH changes what Python imports at start-up: such a command is never
    forked from the server (it shows in the process's parent)."""
    project.write("parent.py", "import os; print(os.getppid())")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    command = forkserver.Command(["parent.py"], project.path, project.env(PYTHONPATH=path))
    out, err, code = forkserver.run(command)
    assert (int(out), err, code) == (os.getpid(), "", 0)
    out, err, code = forkserver.run(forkserver.Command(["parent.py"], project.path, project.env()))
    assert (err, code) == ("", 0) and int(out) != os.getpid()
