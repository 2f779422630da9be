"""Benchmark: swap_user_model against the dumpdata/loaddata route, on PostgreSQL.

    .venvs/django-4.2/bin/python benchmarks/swap_user_model.py            # 10k, 100k, 1M users
    .venvs/django-4.2/bin/python benchmarks/swap_user_model.py --sizes 10000 --dump-load-max 10000

For each size it builds a project on auth.User in a fresh PostgreSQL database (127.0.0.1:5432,
user postgres), bulk-loads N users (3 groups each, one order each, an admin log row for every
tenth user) with generate_series, then switches the code to accounts.User and times:

- the swap: preflight (reading the project and the catalog) and the run (backup of the metadata
  rows, every step in one transaction, verification), in one Django process, as the command
  does it; "db" is the time spent in the database by the steps and the verification;
- the dump/load route (sizes up to --dump-load-max): dumpdata of the users, groups, orders and
  admin log on the old model, a fresh database migrated on the new model, loaddata of the dump
  with the model label rewritten. Above --dump-load-max its time is extrapolated linearly from
  the largest measured size and labelled "extrapolated".

Prints one table; --json writes the figures as JSON too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TESTPROJECT = REPO / "testproject"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}

LOAD = """
INSERT INTO auth_group (name) VALUES ('editors'), ('buyers'), ('staff');
INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name,
                       email, is_staff, is_active, date_joined)
SELECT 'md5$bench$' || md5(i::text), NULL, false, 'user' || i, '', '',
       'user' || i || '@example.com', false, true, now()
FROM generate_series(1, %(n)s) AS i;
INSERT INTO auth_user_groups (user_id, group_id)
SELECT u.id, g.id FROM auth_user u CROSS JOIN auth_group g;
INSERT INTO shop_order (total, created, user_id) SELECT 9.99, now(), id FROM auth_user;
INSERT INTO django_admin_log (action_time, object_id, object_repr, action_flag,
                              change_message, content_type_id, user_id)
SELECT now(), id::text, 'user', 2, '[]',
       (SELECT id FROM django_content_type WHERE app_label = 'auth' AND model = 'user'), id
FROM auth_user WHERE id %% 10 = 0;
ANALYZE;
"""

SWAP = """
import json, time
from pathlib import Path
from django.db import connection
from authtools.procedures import swap
from authtools.procedures.backup import Backup
from authtools.procedures.runner import execute

started = time.perf_counter()
spec = swap.preflight("default", "auth.User")
plan = swap.build_plan(spec)
planned = time.perf_counter()
db_time = 0.0

def timed(execute_sql, sql, params, many, context):
    global db_time
    t = time.perf_counter()
    try:
        return execute_sql(sql, params, many, context)
    finally:
        db_time += time.perf_counter() - t

with swap.locked("default"), swap.ddl_session("default"):
    backup = Backup.create(Path(BACKUPS), "swap_user_model")
    with connection.execute_wrapper(timed):
        result = execute(plan, backup)
done = time.perf_counter()
print(json.dumps({
    "preflight": planned - started, "run": done - planned, "db": db_time,
    "failures": result.failures, "steps": len(plan.steps),
}))
"""


def psql(database: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True, **PG) as conn:  # type: ignore[arg-type]
        conn.execute(sql)


def server(sql: str) -> None:
    psql("postgres", sql)


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root

    def project(self, name: str) -> Path:
        path = self.root / name
        shutil.copytree(
            TESTPROJECT, path, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3")
        )
        return path

    def manage(self, path: Path, database: str, *args: str, stdout: Any = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(TESTPROJECT_DB="postgresql", TESTPROJECT_DB_NAME=database)
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=path,
            env=env,
            stdout=stdout or subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout or ""

    def old_model(self, path: Path) -> None:
        settings = path / "testproject" / "settings.py"
        text = settings.read_text().replace(
            'AUTH_USER_MODEL = "accounts.User"', 'AUTH_USER_MODEL = "auth.User"'
        )
        settings.write_text(text)
        (path / "accounts" / "models.py").write_text('"""auth.User for now."""\n')
        (path / "accounts" / "admin.py").write_text("")
        shutil.move(path / "accounts/migrations/0001_initial.py", path / "0001_initial.py.saved")

    def new_model(self, path: Path) -> None:
        for rel in ("accounts/models.py", "accounts/admin.py", "testproject/settings.py"):
            shutil.copy(TESTPROJECT / rel, path / rel)
        shutil.move(path / "0001_initial.py.saved", path / "accounts/migrations/0001_initial.py")

    def populated(self, n: int) -> tuple[Path, str]:
        """A project on auth.User with N users in a new database; code switched to accounts.User."""
        database = f"authtools_bench_{uuid.uuid4().hex[:8]}"
        server(f'CREATE DATABASE "{database}"')
        path = self.project(database)
        self.old_model(path)
        self.manage(path, database, "migrate", "--no-input", "-v", "0")
        psql(database, LOAD % {"n": n})
        return path, database

    def swap(self, n: int) -> dict[str, Any]:
        path, database = self.populated(n)
        try:
            self.new_model(path)
            code = SWAP.replace("BACKUPS", repr(str(path / "backups")))
            out = self.manage(path, database, "shell", "-v", "0", "-c", code)
            figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
            if figures["failures"]:
                raise RuntimeError(f"swap did not verify: {figures['failures']}")
            return figures
        finally:
            server(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def dump_load(self, n: int) -> dict[str, float]:
        path, database = self.populated(n)
        fresh = f"{database}_fresh"
        dump = path / "dump.json"
        try:
            started = time.perf_counter()
            with dump.open("w") as handle:
                self.manage(
                    path,
                    database,
                    "dumpdata",
                    "auth.group",
                    "auth.user",
                    "shop.order",
                    "admin.logentry",
                    "--natural-foreign",
                    stdout=handle,
                )
            dumped = time.perf_counter()
            text = dump.read_text().replace('"model": "auth.user"', '"model": "accounts.user"')
            text = text.replace('["auth", "user"]', '["accounts", "user"]')
            dump.write_text(text)
            self.new_model(path)
            server(f'CREATE DATABASE "{fresh}"')
            self.manage(path, fresh, "migrate", "--no-input", "-v", "0")
            migrated = time.perf_counter()
            self.manage(path, fresh, "loaddata", str(dump), "-v", "0")
            loaded = time.perf_counter()
            return {
                "dumpdata": dumped - started,
                "migrate": migrated - dumped,
                "loaddata": loaded - migrated,
                "total": loaded - started,
            }
        finally:
            server(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            server(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--dump-load-max",
        type=int,
        default=10_000,
        help="Measure the dump/load route up to this many users (it takes minutes at 10,000); "
        "extrapolate linearly above.",
    )
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    options = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="authtools-bench-") as tmp:
        bench = Bench(Path(tmp))
        measured: tuple[int, float] | None = None
        for n in options.sizes:
            swap = bench.swap(n)
            if n <= options.dump_load_max:
                route = bench.dump_load(n)
                measured = (n, route["total"])
                print(json.dumps({"users": n, "dump_load_parts": route}), file=sys.stderr)
                dump_total, label = route["total"], "measured"
            elif measured is not None:
                dump_total, label = measured[1] * n / measured[0], "extrapolated"
            else:
                dump_total, label = float("nan"), "not measured"
            rows.append(
                {
                    "users": n,
                    "swap_db_s": swap["db"],
                    "swap_run_s": swap["run"],
                    "swap_preflight_s": swap["preflight"],
                    "dump_load_s": dump_total,
                    "dump_load": label,
                    "speedup": dump_total / swap["run"],
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    header = (
        f"{'users':>10} {'swap db s':>10} {'swap run s':>11} {'preflight s':>12} "
        f"{'dump/load s':>12} {'':<13} {'speedup':>9}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['users']:>10,} {r['swap_db_s']:>10.3f} {r['swap_run_s']:>11.3f} "
            f"{r['swap_preflight_s']:>12.3f} {r['dump_load_s']:>12.1f} {r['dump_load']:<13} "
            f"{r['speedup']:>8.0f}x"
        )
    first, last = rows[0], rows[-1]
    print(
        f"swap run time, {last['users']:,} vs {first['users']:,} users: "
        f"{last['swap_run_s'] / first['swap_run_s']:.2f}x"
    )
    if options.json:
        options.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
