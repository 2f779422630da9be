"""What every authtools command does the way Django's own commands do.

- ``--version`` names authtools (and its distribution) and Django;
- ``--skip-checks`` is accepted, as by Django's commands (these never run the system checks:
  they diagnose and repair projects that fail them);
- verbosity: 2 adds a line before each child process (what it runs), 3 adds each SQL statement
  as it runs; in JSON mode these lines go to stderr, keeping stdout one document;
- ``--format json`` prints one JSON document on stdout for every outcome: a failure is
  ``{"error": MESSAGE, "returncode": N}`` (the message also goes to stderr, as always).

A command uses it by naming it first among its bases: ``class Command(Conventions, ...)``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TextIO

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

import authtools
from authtools import pipe
from authtools.procedures import childproc

SKIP_CHECKS_HELP = (
    "Accepted as by Django's commands; this command never runs the system checks (it works on "
    "projects that fail them)."
)


def version_line() -> str:
    """'authtools 0.1.0 (django-user-model-doctor), Django 6.1.3'."""
    name = f"authtools {authtools.__version__} ({authtools.DISTRIBUTION})"
    return f"{name}, Django {django.get_version()}"


def error_document(message: str, returncode: int) -> str:
    """The JSON document of a failure under --format json (``error`` is the stable field)."""
    return json.dumps({"error": message, "returncode": returncode}, indent=2)


class _Tracked:
    """A stream that remembers whether anything was written to it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.written = False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Conventions(BaseCommand):
    """Mixin for the authtools commands (see the module docstring)."""

    verbosity = 1

    def get_version(self) -> str:
        return version_line()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if not any("--skip-checks" in action.option_strings for action in parser._actions):
            parser.add_argument("--skip-checks", action="store_true", help=SKIP_CHECKS_HELP)
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        self.verbosity = int(options.get("verbosity", 1))
        json_mode = options.get("format") == "json"
        # A closed pipe discards the rest of the output (authtools.pipe), as > /dev/null would.
        stream: TextIO = options.get("stdout") or pipe.QuietStdout(sys.stdout)  # type: ignore[assignment]
        stdout = _Tracked(stream)
        options["stdout"] = stdout
        try:
            with self.progress(json_mode):
                return super().execute(*args, **options)
        except CommandError as exc:
            if json_mode and not stdout.written:
                stdout.write(error_document(str(exc), exc.returncode) + "\n")
            raise

    # --- verbosity ---------------------------------------------------------------------------
    def progress_line(self, json_mode: bool) -> Callable[[str], None]:
        """Where progress goes: stdout, or stderr when stdout holds a JSON document."""

        def write(line: str) -> None:  # looked up late: execute() replaces the streams
            target = self.stderr if json_mode else self.stdout
            target.write(line)
            target.flush()

        return write

    @contextmanager
    def progress(self, json_mode: bool) -> Iterator[None]:
        """Verbosity 2: a line before each child process; 3: also each SQL statement."""
        with ExitStack() as stack:
            if self.verbosity >= 2:
                stack.enter_context(childproc.observe(self.progress_line(json_mode)))
            if self.verbosity >= 3:
                log = self.progress_line(json_mode)
                for alias in connections:
                    stack.enter_context(connections[alias].execute_wrapper(_sql_logger(log)))
            yield

    # --- output ------------------------------------------------------------------------------
    def write_sql(self, statements: Iterable[str], json_mode: bool) -> None:
        """--sql: the statements one per line, or {"sql": [...]} under --format json."""
        statements = list(statements)
        if json_mode:
            self.stdout.write(json.dumps({"sql": statements}, indent=2))
        else:
            for statement in statements:
                self.stdout.write(statement)


def _sql_logger(log: Callable[[str], None]) -> Any:
    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        suffix = f"  -- params {tuple(params)!r}" if params and not many else ""
        log(f"SQL: {' '.join(sql.split())}{suffix}")
        return execute(sql, params, many, context)

    return wrapper
