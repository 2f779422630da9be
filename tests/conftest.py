"""The test harness: temporary copies of the test project, run in subprocesses, on real databases.

Django fixes the user model at start-up, so every test that changes settings, models or
migrations works on its own copy of ``testproject/`` and runs ``manage.py`` (or
``python -m authtools``) in a child process: a fork of a server process that has imported
Django's modules once, or a real ``python`` start where a fork could not stand for one
(tests/forkserver.py). Database tests take the ``backend`` fixture and run
on SQLite, PostgreSQL and MariaDB/MySQL; each gets a fresh database that is dropped afterwards.

A server that does not answer skips its tests with the reason, unless
AUTHTOOLS_REQUIRE_DATABASES=1 (set by .ci/run): then it is a failure.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import forkserver

REPO = Path(__file__).resolve().parent.parent
TESTPROJECT = REPO / "testproject"
BACKENDS = ("sqlite", "postgresql", "mysql")
REQUIRE_DATABASES = os.environ.get("AUTHTOOLS_REQUIRE_DATABASES") == "1"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


# For the tests' own instruments (seed data, snapshots of rows and schema, login): a child
# started with this environment is not measured by coverage (COVERAGE_PROCESS_START empty).
# Their scripts import no authtools module; what the app runs at Django's start-up (its import,
# ready()) is measured in every other manage.py run (checked: 34 arcs, all also covered by a
# plain ``manage.py check``). Measuring them cost about 0.25 s of CPU each.
UNMEASURED = {"COVERAGE_PROCESS_START": ""}


# Project.manage_each: the commands run one after another in one Django start by run_here, as
# the migration reset's verification runs them (each as from its own manage.py run); the results
# go to the file AUTHTOOLS_RESULTS names (stdout is left to what the commands' own child processes
# may print).
RUN_COMMANDS = """
import json, os
from authtools.procedures.childproc import run_here

with open(os.environ["AUTHTOOLS_RESULTS"], "w") as file:
    json.dump(run_here({commands}), file)
"""


@dataclass
class Result:
    out: str
    err: str
    code: int

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by pytest when an assertion on a Result fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Database:
    """A throw-away database on one backend, and a direct connection to read it.

    The project fixtures create a server database when it is first used (a child process's
    environment, a connection), so that ``Project.migrate()`` can create it from a migrated
    template instead of dropping an empty one (each DROP DATABASE costs PostgreSQL a
    checkpoint)."""

    def __init__(self, vendor: str, workdir: Path) -> None:
        self.vendor = vendor
        self.name = f"authtools_test_{uuid.uuid4().hex[:10]}"
        self.created = vendor == "sqlite"  # SQLite creates the file when it is first opened
        self.create_on_use = False
        if vendor == "sqlite":
            self.name = str(workdir / "db.sqlite3")

    def create(self) -> None:
        self.create_named(self.name)
        self.created = True

    def ensure_created(self) -> None:
        if self.create_on_use and not self.created:
            self.create()

    def drop(self) -> None:
        self.drop_named(self.name)
        self.created = self.vendor == "sqlite"

    def create_named(self, name: str) -> None:
        if self.vendor == "postgresql":
            self._server_execute(f'CREATE DATABASE "{name}"')
        elif self.vendor == "mysql":
            self._server_execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def drop_named(self, name: str) -> None:
        if self.vendor == "postgresql":
            self._server_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif self.vendor == "mysql":
            self._server_execute(f"DROP DATABASE IF EXISTS `{name}`")

    def _server_execute(self, sql: str) -> None:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
                conn.execute(sql)
        else:
            import MySQLdb

            conn = MySQLdb.connect(**MY)
            try:
                conn.cursor().execute(sql)
            finally:
                conn.close()

    def connect(self) -> Any:
        self.ensure_created()
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(dbname=self.name, autocommit=True, **PG)
        if self.vendor == "mysql":
            import MySQLdb

            conn = MySQLdb.connect(database=self.name, **MY)
            conn.autocommit(True)
            return conn
        return sqlite3.connect(self.name, isolation_level=None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL written with %s placeholders; return the rows as tuples."""
        if self.vendor == "sqlite":
            sql = sql.replace("%s", "?")
        conn = self.connect()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            return [tuple(row) for row in rows]
        finally:
            conn.close()

    def is_empty(self) -> bool:
        """No tables (a database not created yet is empty too)."""
        if not self.created or (self.vendor == "sqlite" and not Path(self.name).exists()):
            return True
        return not self.tables()

    def tables(self) -> set[str]:
        if self.vendor == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        elif self.vendor == "postgresql":
            rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        else:
            rows = self.query("SHOW TABLES")
        return {r[0] for r in rows}


def server_unavailable(vendor: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        if vendor == "postgresql":
            import psycopg

            psycopg.connect(dbname="postgres", connect_timeout=3, **PG).close()
        elif vendor == "mysql":
            import MySQLdb

            MySQLdb.connect(connect_timeout=3, **MY).close()
    except Exception as exc:
        return f"{vendor} at 127.0.0.1 cannot be used: {type(exc).__name__}: {exc}"
    return None


class Project:
    """A temporary copy of testproject/ and the ways to run it."""

    def __init__(self, path: Path, db: Database) -> None:
        self.path = path
        self.db = db

    # --- running -----------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        self.db.ensure_created()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TESTPROJECT_"))}
        env.update(
            TESTPROJECT_DB=self.db.vendor,
            TESTPROJECT_DB_NAME=self.db.name,
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        # A fork of the tests' server process that imported Django once, or a real process
        # (tests/forkserver.py says when, and how the fork stands for ``python ARGS``).
        out, err, code = forkserver.run(
            forkserver.Command(list(args), self.path, env or self.env(), input)
        )
        return Result(out, err, code)

    def manage(self, *args: str, input: str | None = None, **env: str) -> Result:
        return self.run("manage.py", *args, input=input, env=self.env(**env) if env else None)

    def manage_each(self, *commands: Sequence[str], **env: str) -> list[Result]:
        """Run several manage.py commands one after another in one Django start (see
        RUN_COMMANDS): each gets its own stdout, stderr and exit status, as from its own
        ``manage.py`` run. For read-only commands whose results do not depend on a fresh
        process; each start of Django costs CPU (tests/forkserver.py gives figures)."""
        fd, results = tempfile.mkstemp(prefix="authtools-results-", suffix=".json")
        os.close(fd)
        try:
            code = RUN_COMMANDS.format(commands=json.dumps([list(c) for c in commands]))
            self.ok("shell", "-v", "0", "-c", code, AUTHTOOLS_RESULTS=results, **env)
            return [Result(*r) for r in json.loads(Path(results).read_text())]
        finally:
            os.unlink(results)

    def authtools(self, *args: str) -> Result:
        """``python -m authtools ARGS`` from the project folder (no manage.py involved)."""
        return self.run("-m", "authtools", *args)

    def ok(self, *args: str, **env: str) -> Result:
        """Run manage.py and fail the test, showing its output, unless it exits 0."""
        result = self.manage(*args, **env)
        assert result.code == 0, str(result)
        return result

    def migrate(self) -> None:
        """``manage.py migrate --no-input -v 0`` on the empty database. Its result depends only
        on the project's files and the backend, so when this process has already migrated a
        project with the same files on this backend, a copy of that database is taken instead
        (a second migrate of the same files costs a Django start-up and the whole migration run;
        see MigratedTemplates). Only a migrate from an empty database is kept as a template."""
        empty = self.db.is_empty()
        if empty and TEMPLATES.restore(self):
            return
        self.ok("migrate", "--no-input", "-v", "0")
        if empty:
            TEMPLATES.save(self)

    def shell(self, code: str) -> str:
        """Run Python CODE (dedented) in ``manage.py shell -v 0``; fail the test unless it exits
        0; return its output (-v 0: Django 5.2+ would list its auto-imports)."""
        return self.ok("shell", "-v", "0", "-c", textwrap.dedent(code)).out

    # --- files -------------------------------------------------------------------------------
    def write(self, rel: str, text: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def remove(self, rel: str) -> None:
        path = self.path / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    def use_gallery(self, variant: str) -> None:
        """Replace accounts/models.py with testproject/gallery/VARIANT.py."""
        self.write("accounts/models.py", (TESTPROJECT / "gallery" / f"{variant}.py").read_text())

    @property
    def settings_file(self) -> Path:
        return self.path / "testproject" / "settings.py"

    def set_setting(self, name: str, source: str) -> int:
        """Set ``NAME = SOURCE`` in settings.py (replacing it or appending); return its line."""
        text = self.settings_file.read_text()
        pattern = re.compile(rf"^{name}\s*=.*$", re.M)
        line = f"{name} = {source}"
        text = pattern.sub(lambda m: line, text) if pattern.search(text) else text + line + "\n"
        self.settings_file.write_text(text)
        return self.setting_line(name)

    def remove_setting(self, name: str) -> None:
        text = self.settings_file.read_text()
        self.settings_file.write_text(re.sub(rf"^{name}\s*=.*\n", "", text, flags=re.M))

    def setting_line(self, name: str) -> int:
        for number, line in enumerate(self.settings_file.read_text().splitlines(), 1):
            if re.match(rf"{name}\s*=", line):
                return number
        raise AssertionError(f"{name} is not set in settings.py")

    def line_of(self, rel: str, needle: str) -> int:
        """The 1-based line number of the first line of REL containing NEEDLE."""
        for number, line in enumerate(self.read(rel).splitlines(), 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in {rel}")


class MigratedTemplates:
    """Databases migrated once, copied for every later ``Project.migrate()`` of the same project
    files on the same backend: SQLite copies the file, PostgreSQL creates the database from a
    template. MariaDB/MySQL has no database templates and migrates every time: a copy made from
    SHOW CREATE TABLE is not what migrate builds (a foreign key's implicit index becomes an
    explicit KEY, which a later ALTER of the key column keeps; the widened-keys swap test saw the
    difference). A copy is only taken into an empty database (no tables), so it is the state
    migrate would have produced, apart from the times in django_migrations.applied. One set per
    process (each xdist worker has its own); dropped when the process exits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], str] = {}  # (vendor, files digest) -> template
        self._folder: Path | None = None
        atexit.register(self.drop_all)

    @staticmethod
    def key(project: Project) -> tuple[str, str]:
        digest = hashlib.sha256()
        for path in sorted(project.path.rglob("*")):
            rel = path.relative_to(project.path)
            skipped = rel.parts[0] == ".authtools-backups" or "__pycache__" in rel.parts
            if path.is_file() and not skipped and not rel.name.startswith("db.sqlite3"):
                digest.update(f"{rel}\0{path.stat().st_size}\0".encode() + path.read_bytes())
        return project.db.vendor, digest.hexdigest()

    def restore(self, project: Project) -> bool:
        """Copy the template for PROJECT into its empty database; False if there is none yet."""
        db = project.db
        if db.vendor not in COPIED:
            return False
        with self._lock:
            template = self._made.get(self.key(project))
            if template is None:
                return False
            if db.vendor == "sqlite":
                shutil.copyfile(template, db.name)
            else:
                if db.created:
                    db.drop()
                db._server_execute(f'CREATE DATABASE "{db.name}" TEMPLATE "{template}"')
                db.created = True
        return True

    def save(self, project: Project) -> None:
        """Keep PROJECT's database, just migrated from empty, as the template for its files."""
        db = project.db
        if db.vendor not in COPIED:
            return
        with self._lock:
            key = self.key(project)
            if key in self._made:
                return
            if db.vendor == "sqlite":
                if self._folder is None:
                    self._folder = Path(tempfile.mkdtemp(prefix="authtools-templates-"))
                template = str(self._folder / f"{len(self._made)}.sqlite3")
                shutil.copyfile(db.name, template)
            else:
                template = f"authtools_test_tmpl_{uuid.uuid4().hex[:10]}"
                try:  # waits up to 5 s for the migrate child's session to end
                    db._server_execute(f'CREATE DATABASE "{template}" TEMPLATE "{db.name}"')
                except Exception as exc:  # still in use: no template, the next one migrates
                    if "is being accessed by other users" not in str(exc):
                        raise
                    return
            self._made[key] = template

    def drop_all(self) -> None:
        for (vendor, _), template in self._made.items():
            if vendor != "sqlite":
                Database(vendor, Path()).drop_named(template)
        self._made.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


COPIED = ("sqlite", "postgresql")  # the backends whose copies are exact
TEMPLATES = MigratedTemplates()


def copy_testproject(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", ".authtools-backups")
    shutil.copytree(TESTPROJECT, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="session", autouse=True)
def _migrated_templates() -> Iterator[None]:
    """Drop this process's migrated templates at the end of the session (pytest-xdist workers
    do not always run atexit handlers)."""
    yield
    TEMPLATES.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs once per backend."""
    vendor: str = request.param
    if vendor != "sqlite":
        reason = server_unavailable(vendor)
        if reason:
            if REQUIRE_DATABASES:
                pytest.fail(f"AUTHTOOLS_REQUIRE_DATABASES=1 but {reason}")
            pytest.skip(reason)
    return vendor


def _make_project(tmp_path: Path, vendor: str) -> Iterator[Project]:
    db = Database(vendor, tmp_path)
    db.create_on_use = True
    try:
        yield Project(copy_testproject(tmp_path / "project"), db)
    finally:
        if db.created:
            db.drop()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A copy of the test project on SQLite (for tests that do not depend on the backend)."""
    yield from _make_project(tmp_path, "sqlite")


@pytest.fixture
def db_project(tmp_path: Path, backend: str) -> Iterator[Project]:
    """A copy of the test project on each backend in turn, with an empty database."""
    yield from _make_project(tmp_path, backend)


# The longest tests, longest first (a test matches by node id prefix): the kill and fault
# injection tests (20-43 CPU-s each, 120-210 s wall with 4 workers at load ~6.7), then the docs,
# swap and reset scenarios of 15-20 s of CPU each (Django 6.1 under coverage, getrusage per test).
# They start first, so that pytest-xdist's load scheduling, which hands tests out in collection
# order, spreads them over the workers instead of leaving one running alone at the end.
SLOWEST_FIRST: tuple[str, ...] = (
    "tests/test_swap_user_model_kill.py::test_killed_after_each_step[mysql]",
    "tests/test_fault_injection_reset.py::",
    "tests/test_swap_user_model_kill.py::test_killed_after_each_step[postgresql]",
    "tests/test_reset_user_migrations.py::test_old_migrations_squashed_and_depended_on",
    "tests/test_fault_injection.py::",
    "tests/test_fault_injection_contenttypes.py::",
    "tests/test_swap_user_model_kill.py::test_killed_after_each_step[sqlite]",
    "tests/test_docs.py::test_committed_blocks_are_what_the_commands_print",
    "tests/test_swap_user_model_wagtail.py::",
    "tests/test_swap_user_model_custom.py::",
    "tests/test_swap_user_model_phases.py::",
    "tests/test_reset_verbosity.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(prefix)),
            len(SLOWEST_FIRST),
        )

    items.sort(key=rank)  # stable: the others keep their order
