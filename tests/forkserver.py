"""Start ``python manage.py ...`` and ``python -m authtools ...`` for the tests without paying
for Python's and Django's imports every time.

Every test runs the project's commands in child processes (Django fixes the user model at
start-up), and the suite starts about 1,800 of them per Django version. Most of a start's CPU
is importing Django's own modules, the same modules every time (``manage.py check`` on the
test project, Django 6.1: 0.64-0.74 CPU-s as a real start, 0.18-0.26 s forked). So each test
process keeps one server process that imported them once, with no settings and no project, and
forks it for each command:

- the child takes the command's stdin, stdout and stderr (passed over a Unix socket), its
  working directory, environment, argv and sys.path (as ``python`` would build them from that
  environment), then runs manage.py or the module as ``__main__`` and exits the way Python
  does (atexit handlers, coverage's data file, exit status, traceback of an uncaught error);
- Django's settings, app registry, models, database connections and authtools itself are all
  made in the child, from the project's files as they are now: nothing of a project is ever
  imported by the server, which checks that importing its modules read no settings.

A command whose environment changes how Python itself starts (another PYTHONPATH, any other
PYTHON* variable than the server's) or that is run while the server is busy (a test's own
threads) gets a real ``subprocess.run``, as does every command when AUTHTOOLS_TEST_FORK=0.
tests/test_forkserver.py runs commands both ways and compares what they print.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import importlib
import importlib.machinery
import io
import json
import locale
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Imported once by the server: modules of Django, its contrib apps and django-extensions that
# every manage.py start of the test project imports and that import with no settings (one that
# reads a setting when imported, in some Django version, is left to the child), the database
# drivers, and coverage (which starts in the child when the command's environment asks for it).
PRELOAD = (
    "django.core.management",
    "django.core.management.base",
    "django.core.management.commands.check",
    "django.core.management.commands.makemigrations",
    "django.core.management.commands.migrate",
    "django.core.management.commands.shell",
    "django.core.checks",
    "django.core.serializers.json",
    "django.db.models",
    "django.db.migrations",
    "django.db.migrations.autodetector",
    "django.db.migrations.executor",
    "django.db.migrations.loader",
    "django.db.migrations.questioner",
    "django.db.migrations.writer",
    "django.db.backends.base.schema",
    "django.db.backends.sqlite3.base",
    "django.db.backends.sqlite3.schema",
    "django.db.backends.sqlite3.introspection",
    "django.db.backends.postgresql.base",
    "django.db.backends.mysql.base",
    "django.urls",
    "django.http",
    "django.forms",
    "django.template",
    "django.template.defaulttags",
    "django.template.loader_tags",
    "django.contrib.admin",
    "django.contrib.auth.checks",
    "django.contrib.auth.hashers",
    "django.contrib.auth.management",
    "django.contrib.auth.password_validation",
    "django.test.utils",
    "django_extensions",
    "psycopg",
    "MySQLdb",
    "coverage",
)
# How Python's start-up depends on the environment: a command whose environment differs from the
# server's in these runs as a real process.
PYTHON_VARS = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONHOME")
ENABLED = os.environ.get("AUTHTOOLS_TEST_FORK", "1") != "0"


# --- the server (runs as ``python tests/forkserver.py FD``) ---------------------------------------
def _serve(fd: int) -> None:
    from django.core.exceptions import ImproperlyConfigured

    for name in PRELOAD:
        # A driver that is not installed, or a module that reads a setting when imported in
        # this Django version: the child imports it itself.
        with contextlib.suppress(ImportError, ImproperlyConfigured):
            importlib.import_module(name)
    from django.conf import settings

    assert not settings.configured, "importing PRELOAD read Django's settings"
    assert threading.active_count() == 1, "the fork server must not have threads"
    # The imported modules move to the collector's permanent generation: a child's collections
    # (and the last one at its exit) no longer walk them, which would write to every page of them
    # (copy on write) and half of a forked ``manage.py check``'s CPU (0.46 CPU-s against 0.23).
    gc.freeze()
    base_path = sys.path[1:]  # without this script's folder; PYTHONPATH is unset here
    sock = socket.socket(fileno=fd)
    sock.send(b"ready")
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        if not message:  # the test process has gone
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(request, fds, base_path)  # does not return
        for passed in fds:
            os.close(passed)
        sock.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        sock.send(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())


def _child(request: dict, fds: list[int], base_path: list[str]) -> None:
    """Become ``python ARGS`` run in CWD with ENV; end the process as Python would."""
    for target, passed in enumerate(fds):
        os.dup2(passed, target)
        os.close(passed)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # TMPDIR is read again, from this environment
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    args: list[str] = request["args"]
    if args[0] == "-m":
        sys.path[:] = [os.getcwd(), *extra, *base_path]
        sys.argv = [args[1], *args[2:]]  # runpy puts the module's file in argv[0], as -m does
    else:
        sys.path[:] = [os.path.dirname(os.path.abspath(args[0])), *extra, *base_path]
        sys.argv = list(args)
    if os.environ.get("COVERAGE_PROCESS_START"):
        import coverage

        coverage.process_startup()
    # A fresh __main__ (this server's globals stay its own), filled as ``python`` fills it.
    server, main = sys.modules["__main__"], types.ModuleType("__main__")
    sys.modules["__main__"] = main
    try:
        if args[0] == "-m":
            # What ``python -m`` calls (its frames show in a traceback as they do there).
            runpy._run_module_as_main(args[1])  # type: ignore[attr-defined]
        else:
            path = os.path.abspath(args[0])
            loader = importlib.machinery.SourceFileLoader("__main__", path)
            main.__dict__.update(__file__=path, __loader__=loader, __builtins__=builtins)
            code = compile(Path(path).read_bytes(), path, "exec", dont_inherit=True)
            exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        # The traceback from the command's first frame, as ``python`` prints it (not the
        # server's frames).
        tb = exc.__traceback__
        while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        exc.__traceback__ = tb or exc.__traceback__  # what sys.excepthook prints
        sys.excepthook(type(exc), exc, exc.__traceback__)
        if isinstance(exc, KeyboardInterrupt):  # Python ends by SIGINT, as if it had no handler
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        raise SystemExit(1) from None
    finally:
        del server
    raise SystemExit(0)


def _is_ours(filename: str) -> bool:
    return filename == __file__


# --- the client (in the test process) --------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """``python ARGS`` in CWD with ENV and INPUT on stdin. MERGED: stderr goes to stdout (one
    file, as a terminal shows them), and "" is returned for it."""

    args: list[str]
    cwd: Path
    env: Mapping[str, str]
    input: str | None = None
    timeout: float = 600
    merged: bool = False


class ForkServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._env: dict[str, str] = {}

    def _start(self, env: Mapping[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._env = {
            **{k: v for k, v in env.items() if not k.startswith(("DJANGO_", "TESTPROJECT_"))},
            "COVERAGE_PROCESS_START": "",  # the server is not measured; each child decides
        }
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=self._env,
        )
        theirs.close()
        ours.settimeout(120)
        if ours.recv(16) != b"ready":
            raise RuntimeError("the tests' fork server did not start (see its stderr above)")
        ours.settimeout(None)
        self._sock = ours

    def usable_for(self, env: Mapping[str, str]) -> bool:
        python = {k: v for k, v in env.items() if k.startswith("PYTHON")}
        if self._proc is None:
            return set(python) <= set(PYTHON_VARS)
        return python == {k: v for k, v in self._env.items() if k.startswith("PYTHON")}

    def run(self, command: Command) -> tuple[str, str, int] | None:
        """COMMAND in a fork of the server; None when it must run as a real process."""
        args, env = command.args, command.env
        runnable = args and (args[0] == "-m" or not args[0].startswith("-"))
        if not (ENABLED and runnable and self.usable_for(env)):
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._start(env)
                if not self.usable_for(env):
                    return None
            return self._run(command)
        finally:
            self._lock.release()

    def _run(self, command: Command) -> tuple[str, str, int]:
        args, input, timeout, merged = command.args, command.input, command.timeout, command.merged
        assert self._sock is not None
        encoding = locale.getpreferredencoding(False)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            if input is None:
                stdin = os.open(os.devnull, os.O_RDONLY)
            else:
                stdin, write_end = os.pipe()
                data = input.encode(encoding)
                assert len(data) < 65536, "input larger than a pipe's buffer"
                os.write(write_end, data)
                os.close(write_end)
            try:
                request = {"args": args, "cwd": str(command.cwd), "env": dict(command.env)}
                socket.send_fds(
                    self._sock,
                    [json.dumps(request).encode()],
                    [stdin, out.fileno(), (out if merged else err).fileno()],
                )
            finally:
                os.close(stdin)
            pid = json.loads(self._sock.recv(1024))["pid"]
            self._sock.settimeout(timeout)
            try:
                reply = self._sock.recv(1024)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._sock.settimeout(None)
                self._sock.recv(1024)
                raise subprocess.TimeoutExpired(["python", *args], timeout) from None
            finally:
                self._sock.settimeout(None)
            code = json.loads(reply)["code"]
            texts = []
            for file in (out, err):
                file.seek(0)
                texts.append(io.TextIOWrapper(io.BytesIO(file.read()), encoding=encoding).read())
        return texts[0], texts[1], code


SERVER = ForkServer()


def run(command: Command) -> tuple[str, str, int]:
    """(stdout, stderr, exit status) of COMMAND, from a fork of the server when it can stand for
    a real start, else from a real process."""
    forked = SERVER.run(command)
    return forked if forked is not None else real(command)


def real(command: Command) -> tuple[str, str, int]:
    """(stdout, stderr, exit status) of COMMAND run as a real process."""
    proc = subprocess.run(
        [sys.executable, *command.args],
        cwd=command.cwd,
        env=dict(command.env),
        input=command.input,
        stdin=None if command.input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if command.merged else subprocess.PIPE,
        text=True,
        timeout=command.timeout,
    )
    return proc.stdout, proc.stderr or "", proc.returncode


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
