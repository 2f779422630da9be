"""Benchmark: swap_user_model as users run it, against the hand-written floor, on every backend.

    .venvs/django-6.1/bin/python benchmarks/swap_user_model.py                  # 10k and 100k users
    .venvs/django-6.1/bin/python benchmarks/swap_user_model.py --sizes 10000 100000 1000000
    .venvs/django-6.1/bin/python benchmarks/swap_user_model.py --backends sqlite --runs 5

For each backend (SQLite, PostgreSQL on 127.0.0.1:5432 as postgres, MariaDB on 127.0.0.1:3306 as
root) and each size it builds the test project on auth.User, migrates it and bulk-loads N users
(3 groups each, an order each, an admin log row for every tenth user), switches the code to
accounts.User (its 0001_initial written), then runs, interleaved, --runs times each:

- the floor: what a person would type by hand, in one transaction (one connection, timed from
  BEGIN to COMMIT): record accounts.0001_initial, relabel the content type, rename the three
  tables and (PostgreSQL) their sequences;
- the whole command: ``manage.py swap_user_model --from auth.User --noinput`` in a child process
  (Django start-up, preflight, backup, run, verification): wall and CPU time (user + system, from
  the child's resource usage), and its database time (every statement and commit, timed inside
  the process by a connection wrapper) and statement count;
- ``manage.py check`` on the same project (its CPU time is the whole command's yardstick).

Each run gets the same starting database: SQLite a copy of the loaded file, PostgreSQL a copy
made with CREATE DATABASE ... TEMPLATE; MariaDB cannot copy a database cheaply, so the swap is
undone with ``swap_user_model --rollback`` and the floor with the reverse statements (untimed).

It prints medians with [min-max] ranges, the ratio of the swap's database time to the floor's,
the growth from the smallest to the largest size, and each against its goal:
database time within 3x of the floor, growth under 1.5x, the whole command within 1.2x the CPU
of ``manage.py check``. 1,000,000 users is opt-in (--sizes): loading it takes minutes per
backend. Exit status 0 when every goal is met, 1 when not; --json writes the figures too.

The swap's statements are also counted by kind (catalog, lock, rename, write, read, ...);
--trace splits them by phase of the command and keeps every statement in the --json file.
The commands run this checkout's authtools, with bytecode compiled once beforehand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TESTPROJECT = REPO / "testproject"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
BACKENDS = ("sqlite", "postgresql", "mysql")
GOAL_FLOOR, GOAL_GROWTH, GOAL_CPU = 3.0, 1.5, 1.2

# manage.py with a connection wrapper that times every statement and commit (the database time).
RUNNER = """
import atexit, json, os, re, sys, time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
figures = {"db": 0.0, "statements": 0, "kinds": {}, "phases": {}, "trace": []}
trace = bool(os.environ.get("BENCH_TRACE"))
phase = ["start-up"]
KINDS = [
    ("foreign key check", re.compile(r"PRAGMA\\s+foreign_key_check", re.I)),
    ("catalog", re.compile(
        r"\\b(pg_catalog|pg_class|pg_constraint|pg_index|pg_attribute|pg_namespace|"
        r"pg_get_serial_sequence|to_regclass|information_schema|sqlite_master|"
        r"sqlite_schema)\\b|PRAGMA\\s+\\w+|^\\s*SHOW\\b", re.I)),
    ("lock", re.compile(
        r"advisory_(un)?lock|GET_LOCK|RELEASE_LOCK|^\\s*LOCK\\s+TABLE|'lock_timeout'|"
        r"lock_wait_timeout|SAVEPOINT", re.I)),
    ("rename", re.compile(
        r"^\\s*(ALTER\\s+(TABLE|INDEX|SEQUENCE)\\b.*\\bRENAME\\b|RENAME\\s+TABLE)", re.I | re.S)),
    ("other DDL", re.compile(r"^\\s*(ALTER|CREATE|DROP)\\b", re.I)),
    ("write", re.compile(r"^\\s*(INSERT|UPDATE|DELETE)\\b", re.I)),
    ("read", re.compile(r"^\\s*(SELECT|WITH)\\b", re.I)),
]

def kind_of(sql):
    for kind, pattern in KINDS:
        if pattern.search(sql):
            return kind
    return "session"

def add(table, key, seconds):
    entry = table.setdefault(key, [0, 0.0])
    entry[0] += 1
    entry[1] += seconds

def timed(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        spent = time.perf_counter() - started
        figures["db"] += spent
        figures["statements"] += 1
        kind = kind_of(sql if isinstance(sql, str) else str(sql))
        add(figures["kinds"], kind, spent)
        if trace:
            add(figures["phases"], phase[0] + ": " + kind, spent)
            figures["trace"].append([phase[0], kind, round(spent * 1000, 3), str(sql)[:160]])

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

commit = BaseDatabaseWrapper._commit

def timed_commit(self):
    started = time.perf_counter()
    try:
        return commit(self)
    finally:
        spent = time.perf_counter() - started
        figures["db"] += spent
        add(figures["kinds"], "commit", spent)
        if trace:
            add(figures["phases"], phase[0] + ": commit", spent)
            figures["trace"].append([phase[0], "commit", round(spent * 1000, 3), "COMMIT"])

BaseDatabaseWrapper._commit = timed_commit

def wrap(sender, connection, **kwargs):
    if timed not in connection.execute_wrappers:
        connection.execute_wrappers.append(timed)

connection_created.connect(wrap)
atexit.register(lambda: Path(os.environ["BENCH_FIGURES"]).write_text(json.dumps(figures)))

if trace:  # which part of the command ran each statement (the phases of a swap)
    import django

    django.setup()
    from authtools.procedures import runner, swap
    from authtools.procedures.swap import steps

    def entering(name, module, attribute, after=None):
        original = getattr(module, attribute)

        def wrapper(*args, **kwargs):
            phase[0] = name
            try:
                return original(*args, **kwargs)
            finally:
                if after:
                    phase[0] = after

        setattr(module, attribute, wrapper)

    entering("preflight", swap, "interrupted")
    entering("preflight", swap, "preflight", after="plan")
    entering("backup", steps, "backup_metadata", after="run")
    entering("verify", steps, "verify", after="result")

from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

OLD_TABLES = ("auth_user", "auth_user_groups", "auth_user_user_permissions")
NEW_TABLES = ("accounts_user", "accounts_user_groups", "accounts_user_user_permissions")


def floor_statements(vendor: str, forward: bool = True) -> list[str]:
    """The hand-written swap (or its reverse), one statement a line."""
    old, new = (OLD_TABLES, NEW_TABLES) if forward else (NEW_TABLES, OLD_TABLES)
    label = ("'accounts'", "'user'") if forward else ("'auth'", "'user'")
    was = ("'auth'", "'user'") if forward else ("'accounts'", "'user'")
    now = {"postgresql": "now()", "mysql": "NOW(6)", "sqlite": "datetime('now')"}[vendor]
    statements = [
        "INSERT INTO django_migrations (app, name, applied) "
        f"VALUES ('accounts', '0001_initial', {now})"
        if forward
        else "DELETE FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'",
        f"UPDATE django_content_type SET app_label = {label[0]}, model = {label[1]} "
        f"WHERE app_label = {was[0]} AND model = {was[1]}",
    ]
    if vendor == "mysql":
        statements.append(
            "RENAME TABLE " + ", ".join(f"{a} TO {b}" for a, b in zip(old, new, strict=True))
        )
    else:
        statements += [f"ALTER TABLE {a} RENAME TO {b}" for a, b in zip(old, new, strict=True)]
    if vendor == "postgresql":
        statements += [
            f"ALTER SEQUENCE {a}_id_seq RENAME TO {b}_id_seq" for a, b in zip(old, new, strict=True)
        ]
    return statements


def load_sql(vendor: str, n: int) -> list[str]:
    users = {
        "postgresql": f"SELECT i FROM generate_series(1, {n}) AS s(i)",
        "mysql": f"SELECT seq AS i FROM seq_1_to_{n}",
        "sqlite": f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
        "SELECT i FROM s",
    }[vendor]
    cat = {"postgresql": "||", "sqlite": "||", "mysql": None}[vendor]

    def concat(*parts: str) -> str:
        return f" {cat} ".join(parts) if cat else f"CONCAT({', '.join(parts)})"

    now = {"postgresql": "now()", "mysql": "NOW(6)", "sqlite": "datetime('now')"}[vendor]
    false, true = ("false", "true") if vendor == "postgresql" else ("0", "1")
    text_id = "CAST(id AS CHAR)" if vendor == "mysql" else "CAST(id AS TEXT)"
    password = concat("'md5$bench$'", "i")
    username = concat("'user'", "i")
    email = concat("'user'", "i", "'@example.com'")
    return [
        "INSERT INTO auth_group (name) VALUES ('editors'), ('buyers'), ('staff')",
        "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, "
        "last_name, email, is_staff, is_active, date_joined) "
        f"SELECT {password}, NULL, {false}, {username}, '', '', "
        f"{email}, {false}, {true}, {now} FROM ({users}) AS u",
        "INSERT INTO auth_user_groups (user_id, group_id) "
        "SELECT u.id, g.id FROM auth_user u CROSS JOIN auth_group g",
        f"INSERT INTO shop_order (total, created, user_id) SELECT 9.99, {now}, id FROM auth_user",
        "INSERT INTO django_admin_log (action_time, object_id, object_repr, action_flag, "
        "change_message, content_type_id, user_id) "
        f"SELECT {now}, {text_id}, 'user', 2, '[]', "
        "(SELECT id FROM django_content_type WHERE app_label = 'auth' AND model = 'user'), id "
        "FROM auth_user WHERE id % 10 = 0",
        {"postgresql": "ANALYZE", "sqlite": "ANALYZE", "mysql": "ANALYZE TABLE auth_user"}[vendor],
    ]


# --- databases -------------------------------------------------------------------------------


def connect(vendor: str, name: str) -> Any:
    if vendor == "postgresql":
        import psycopg

        return psycopg.connect(dbname=name, autocommit=True, **PG)  # type: ignore[arg-type]
    if vendor == "mysql":
        import MySQLdb

        conn = MySQLdb.connect(database=name, **MY)
        conn.autocommit(True)
        return conn
    return sqlite3.connect(name, isolation_level=None)


def server(vendor: str, sql: str) -> None:
    conn = connect(vendor, "postgres" if vendor == "postgresql" else "")
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def pg_version() -> int:
    conn = connect("postgresql", "postgres")
    try:
        return int(conn.info.server_version)
    finally:
        conn.close()


def run_sql(vendor: str, name: str, statements: list[str]) -> None:
    conn = connect(vendor, name)
    try:
        cursor = conn.cursor()
        for sql in statements:
            cursor.execute(sql)
    finally:
        conn.close()


def floor(vendor: str, name: str) -> float:
    """The hand-written swap in one transaction; seconds from BEGIN to COMMIT."""
    conn = connect(vendor, name)
    try:
        cursor = conn.cursor()
        started = time.perf_counter()
        cursor.execute("START TRANSACTION" if vendor == "mysql" else "BEGIN")
        for sql in floor_statements(vendor):
            cursor.execute(sql)
        cursor.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


class Database:
    """The loaded template of one backend and size, and a fresh copy of it per run."""

    def __init__(self, vendor: str, root: Path, n: int) -> None:
        self.vendor, self.root, self.n = vendor, root, n
        suffix = uuid.uuid4().hex[:8]
        self.template = (
            str(root / f"template-{n}.sqlite3")
            if vendor == "sqlite"
            else f"authtools_bench_{n}_{suffix}"
        )
        self.copies: list[str] = []

    def create(self, name: str) -> None:
        if self.vendor == "postgresql":
            server(self.vendor, f'CREATE DATABASE "{name}"')
        elif self.vendor == "mysql":
            server(self.vendor, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def copy(self) -> str:
        """A database in the starting state (MariaDB: the template itself, restored after)."""
        if self.vendor == "mysql":
            return self.template
        if self.vendor == "sqlite":
            name = str(self.root / f"run-{uuid.uuid4().hex[:8]}.sqlite3")
            shutil.copyfile(self.template, name)
            # Flush the copy now: else the first COMMIT's fsync writes the whole file (timed).
            with open(name, "rb+") as handle:
                os.fsync(handle.fileno())
        else:
            name = f"{self.template}_{len(self.copies)}"
            # FILE_COPY (PostgreSQL 15+; older servers copy files only): the copy is written
            # and flushed here, untimed. The default WAL_LOG writes the whole database into the
            # WAL, whose checkpoint then ran during the measured commands (at 1M users a copy
            # is some 500 MB: the swap's database time grew 3x from 10k to 1M, the floor's not).
            strategy = " STRATEGY FILE_COPY" if pg_version() >= 150000 else ""
            server(self.vendor, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"{strategy}')
        self.copies.append(name)
        return name

    def discard(self, name: str) -> None:
        if self.vendor == "sqlite":
            Path(name).unlink(missing_ok=True)
        elif self.vendor == "postgresql":
            server(self.vendor, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop(self) -> None:
        for name in self.copies:
            self.discard(name)
        if self.vendor == "sqlite":
            Path(self.template).unlink(missing_ok=True)
        elif self.vendor == "postgresql":
            server(self.vendor, f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        else:
            server(self.vendor, f"DROP DATABASE IF EXISTS `{self.template}`")


# --- projects --------------------------------------------------------------------------------


def make_projects(root: Path) -> tuple[Path, Path]:
    """(the project on auth.User, the project on accounts.User with its 0001_initial)."""
    ignore = shutil.ignore_patterns("__pycache__", "db.sqlite3", ".authtools-backups")
    old, new = root / "old", root / "new"
    shutil.copytree(TESTPROJECT, old, ignore=ignore)
    shutil.copytree(TESTPROJECT, new, ignore=ignore)
    settings = old / "testproject" / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            'AUTH_USER_MODEL = "accounts.User"', 'AUTH_USER_MODEL = "auth.User"'
        )
    )
    (old / "accounts" / "models.py").write_text('"""auth.User for now."""\n')
    (old / "accounts" / "admin.py").write_text("")
    (old / "accounts" / "migrations" / "0001_initial.py").unlink()
    for path in (old, new):
        (path / "bench_manage.py").write_text(RUNNER)
    compile_all(old, new)
    return old, new


def compile_all(*projects: Path) -> None:
    """Write the bytecode of this checkout's authtools and of the projects once, as installing
    a package and running a project do, so that no measured command compiles a module."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "authtools"), *map(str, projects)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def env_for(vendor: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TESTPROJECT_"))}
    env.update(TESTPROJECT_DB=vendor, TESTPROJECT_DB_NAME=name)
    # Bytecode written and reused, as in an installed project (see compile_all): with
    # PYTHONDONTWRITEBYTECODE every run compiled the project's modules again (the swap loads
    # more of them, its migrations, than `check`), and any changed authtools module.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # The authtools of this checkout (not whichever copy the interpreter has installed).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def command(
    project: Path, vendor: str, name: str, *args: str, trace: bool = False
) -> dict[str, Any]:
    """Run bench_manage.py ARGS; wall, CPU (user + system) and the database time it counted
    (with TRACE, by phase of the swap too, and every statement)."""
    figures_file = project / f"figures-{uuid.uuid4().hex[:8]}.json"
    env = env_for(vendor, name)
    env["BENCH_FIGURES"] = str(figures_file)
    if trace:
        env["BENCH_TRACE"] = "1"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "bench_manage.py", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{stdout[-2000:]}{stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(figures_file.read_text())
    figures_file.unlink()
    figures.update(wall=wall, out=stdout)
    return figures


def timed_command(
    project: Path, vendor: str, name: str, *args: str, trace: bool = False
) -> dict[str, Any]:
    """command() with the child's CPU time (the rusage of waited-for children, before/after)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = command(project, vendor, name, *args, trace=trace)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return figures


# --- the benchmark ---------------------------------------------------------------------------


def populate(db: Database, old_project: Path) -> float:
    started = time.perf_counter()
    db.create(db.template)
    command(old_project, db.vendor, db.template, "migrate", "--no-input", "-v", "0")
    statements = load_sql(db.vendor, db.n)
    if db.vendor == "postgresql":
        # The rows are valid by construction: no foreign key trigger per row (the superuser's
        # replica role), no wait for the WAL at each statement's commit.
        statements = [
            "SET session_replication_role = replica",
            "SET synchronous_commit = off",
            *statements,
        ]
    run_sql(db.vendor, db.template, statements)
    return time.perf_counter() - started


def measure(
    vendor: str, n: int, runs: int, root: Path, log: Callable[[str], None], trace: bool = False
) -> dict[str, Any]:
    old_project, new_project = make_projects(root / f"{vendor}-{n}")
    db = Database(vendor, root, n)
    try:
        log(f"{vendor} {n:,} users: loading ({populate(db, old_project):.1f} s)")
        result: dict[str, list[Any]] = {
            k: [] for k in ("floor", "db", "statements", "wall", "cpu", "check_wall", "check_cpu")
        }
        result["kinds"], result["phases"], result["trace"] = [], [], []
        backups = root / f"backups-{vendor}-{n}"

        def run_floor() -> None:
            name = db.copy()
            result["floor"].append(floor(vendor, name))
            if vendor == "mysql":
                run_sql(vendor, name, floor_statements(vendor, forward=False))
            else:
                db.discard(name)

        def run_swap() -> dict[str, Any]:
            name = db.copy()
            swap = timed_command(
                new_project,
                vendor,
                name,
                "swap_user_model",
                "--from",
                "auth.User",
                "--noinput",
                "--backup-dir",
                str(backups),
                trace=trace,
            )
            if "Done; verified." not in swap["out"]:
                raise RuntimeError(f"the swap did not verify:\n{swap['out']}")
            for key in ("db", "statements", "wall", "cpu", "kinds", "phases", "trace"):
                result[key].append(swap[key])
            check = timed_command(new_project, vendor, name, "check")
            result["check_wall"].append(check["wall"])
            result["check_cpu"].append(check["cpu"])
            swap["check_cpu"] = check["cpu"]
            if vendor == "mysql":
                command(
                    new_project,
                    vendor,
                    name,
                    "swap_user_model",
                    "--rollback",
                    "--noinput",
                    "--backup-dir",
                    str(backups),
                )
            else:
                db.discard(name)
            return swap

        for run in range(runs):
            # Interleaved, and each goes first in every other run.
            if run % 2 == 0:
                run_floor()
                swap = run_swap()
            else:
                swap = run_swap()
                run_floor()
            log(
                f"  run {run + 1}: floor {result['floor'][-1] * 1000:.1f} ms, swap db "
                f"{swap['db'] * 1000:.1f} ms ({swap['statements']} statements), wall "
                f"{swap['wall']:.2f} s, cpu {swap['cpu']:.2f} s; check cpu "
                f"{swap['check_cpu']:.2f} s"
            )
        return {"backend": vendor, "users": n, **result}
    finally:
        db.drop()


def by_kind(kinds: list[dict[str, list[float]]]) -> str:
    """Statements (and the median milliseconds) of each kind over the runs."""
    names = sorted({k for run in kinds for k in run}, key=lambda k: (k == "commit", k))
    parts = []
    for name in names:
        counts = [run.get(name, [0, 0.0])[0] for run in kinds]
        ms = statistics.median(run.get(name, [0, 0.0])[1] for run in kinds) * 1000
        count = int(statistics.median(counts))
        parts.append(f"{name} {count} ({ms:.1f} ms)")
    return ", ".join(parts)


def median_range(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    m = statistics.median(values) * scale
    return f"{m:.{digits}f} [{min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f}]"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(rows: list[dict[str, Any]], header: str) -> bool:
    met = True
    print(header)
    print(
        f"{'backend':<10} {'users':>9}  {'floor ms':<18} {'swap db ms':<20} {'ratio':>6}  "
        f"{'stmts':>5}  {'swap wall s':<18} {'swap cpu s':<18} {'check cpu s':<18} {'cpu ratio':>9}"
    )
    for r in rows:
        ratios = [d / f for d, f in zip(r["db"], r["floor"], strict=True)]
        cpu_ratios = [c / k for c, k in zip(r["cpu"], r["check_cpu"], strict=True)]
        r["ratio"], r["cpu_ratio"] = statistics.median(ratios), statistics.median(cpu_ratios)
        print(
            f"{r['backend']:<10} {r['users']:>9,}  {median_range(r['floor'], 1000):<18} "
            f"{median_range(r['db'], 1000):<20} {r['ratio']:>5.1f}x  "
            f"{int(statistics.median(r['statements'])):>5}  {median_range(r['wall'], 1, 2):<18} "
            f"{median_range(r['cpu'], 1, 2):<18} {median_range(r['check_cpu'], 1, 2):<18} "
            f"{r['cpu_ratio']:>8.2f}x"
        )
    print()
    for r in rows:
        print(f"{r['backend']} {r['users']:,}, statements by kind: {by_kind(r['kinds'])}")
        if any(r["phases"]):
            print(f"  by phase of the swap: {by_kind(r['phases'])}")
    print()
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        worst = max(r["ratio"] for r in mine)
        cpu = max(r["cpu_ratio"] for r in mine)
        line = (
            f"{backend}: database time {worst:.1f}x the floor at worst (goal <= {GOAL_FLOOR:.0f}x: "
            f"{'met' if worst <= GOAL_FLOOR else 'NOT met'}); whole command "
            f"{cpu:.2f}x the CPU of manage.py check at worst (goal <= {GOAL_CPU}x: "
            f"{'met' if cpu <= GOAL_CPU else 'NOT met'})"
        )
        met &= worst <= GOAL_FLOOR and cpu <= GOAL_CPU
        if len(mine) > 1:
            first, last = mine[0], mine[-1]
            growth = statistics.median(last["db"]) / statistics.median(first["db"])
            wall = statistics.median(last["wall"]) / statistics.median(first["wall"])
            line += (
                f"; growth {first['users']:,} -> {last['users']:,}: database time {growth:.2f}x, "
                f"wall {wall:.2f}x (goal < {GOAL_GROWTH}x: "
                f"{'met' if growth < GOAL_GROWTH else 'NOT met'})"
            )
            met &= growth < GOAL_GROWTH
        print(line)
    print(f"load average (/proc/loadavg) after the run: {loadavg()}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--runs", type=int, default=3, help="Runs of each (default 3).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="Also count the swap's statements by phase (start-up, preflight, plan, backup, run, "
        "verify, result) and keep every statement in the --json file (patches the command's "
        "functions to know the phase: for profiling, not for the figures).",
    )
    options = parser.parse_args(argv)
    import django

    header = (
        f"swap_user_model against the hand-written floor; Django {django.get_version()}; Python "
        f"{sys.version.split()[0]}; median [min-max] of {options.runs} interleaved runs; "
        f"load average (/proc/loadavg) before: {loadavg()}, on {os.cpu_count()} CPUs"
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows = []
    with tempfile.TemporaryDirectory(prefix="authtools-bench-") as tmp:
        for vendor in options.backends:
            for n in sorted(options.sizes):
                rows.append(measure(vendor, n, options.runs, Path(tmp), log, options.trace))
    met = report(rows, header)
    if options.json:
        options.json.write_text(json.dumps(rows, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
