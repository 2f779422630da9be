"""Benchmark: swap_user_model under live traffic (two app workers writing while the swap runs).

    .venvs/django-6.1/bin/python benchmarks/swap_traffic.py           # PostgreSQL, 50k users
    .venvs/django-6.1/bin/python benchmarks/swap_traffic.py --backends postgresql mysql --runs 3

For each backend (PostgreSQL on 127.0.0.1:5432 as postgres, MariaDB on 127.0.0.1:3306 as root) it
builds the test project on auth.User with N users (as benchmarks/swap_user_model.py does), then,
--runs times, on the same starting data (PostgreSQL: a copy made with CREATE DATABASE ...
TEMPLATE; MariaDB: the loaded database, the swap undone with --rollback after each run):

- starts two worker processes (127.0.0.1, one connection each, bounded loops of --requests): each
  request is one transaction that INSERTs an order (a foreign key to the user) and UPDATEs the
  user's last_login, as an app request does (each worker its own users: two such requests for
  one user deadlock by themselves on InnoDB, the foreign key check's shared lock on the user row
  upgraded by the update, with or without a swap); the workers run the new code in the sense that
  they know both names of the user table: when the old one is gone (the swap committed), the
  request is rolled back and sent again on the new name (counted as "met the rename");
- once both are sending, runs the single-run swap as users run it (``manage.py swap_user_model
  --from auth.User --noinput --lock-timeout T``, the runbook's first route: restart right after);
- stops the workers shortly after the swap ends and counts.

It prints, per run and as medians [min-max] over the runs: deadlocks (seen by a worker or
retried by the swap, goal 0), failed requests (any error other than the rename, after the retry,
goal 0), the longest request (the longest a writer waited behind the swap, goal at most the
lock timeout), rows lost (orders committed by the workers and not in the table, users missing,
orders pointing at no user, goal 0), the swap's exit status, its longest lock wait, wall and
CPU time and database time. Exit status 0 when every goal is met in every run, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from swap_user_model import (  # (the benchmark beside this one)
    Database,
    connect,
    env_for,
    loadavg,
    make_projects,
    populate,
)

# One app worker: bounded loop of requests (INSERT an order, UPDATE last_login, one transaction).
WORKER = r"""
import json, os, sys, time

vendor, dbname, stop, report, requests, pause, index, workers = sys.argv[1:9]
requests, pause, index, workers = int(requests), float(pause), int(index), int(workers)
if vendor == "postgresql":
    import psycopg
    from psycopg import errors

    conn = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname)
    now = "now()"

    def kind(exc):
        if isinstance(exc, errors.DeadlockDetected):
            return "deadlock"
        if isinstance(exc, errors.UndefinedTable):
            return "renamed"
        return "failed"
else:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", password="", database=dbname)
    conn.autocommit(False)
    now = "NOW(6)"

    def kind(exc):
        code = exc.args[0] if exc.args else None
        return {1213: "deadlock", 1146: "renamed"}.get(code, "failed")

cursor = conn.cursor()
cursor.execute("SELECT id FROM auth_user ORDER BY id")
ids = [row[0] for row in cursor.fetchall()][index::workers]  # each worker its own users
conn.commit()
tables = ["auth_user", "accounts_user"]  # the new code knows both names
table = tables[0]
counts = {"done": 0, "deadlock": 0, "renamed": 0, "failed": 0, "after_swap": 0}
errors_seen, longest, after_stop = [], 0.0, 0
open(report + ".started", "w").close()
for i in range(requests):
    if os.path.exists(stop):
        after_stop += 1
        if after_stop > 50:
            break
    uid = ids[i % len(ids)]
    started = time.monotonic()
    for attempt in (1, 2):
        try:
            cursor.execute(
                f"INSERT INTO shop_order (user_id, total, created) VALUES (%s, 1, {now})", [uid]
            )
            cursor.execute(f"UPDATE {table} SET last_login = {now} WHERE id = %s", [uid])
            conn.commit()
            counts["done"] += 1
            counts["after_swap"] += table == tables[1]
            break
        except Exception as exc:
            conn.rollback()
            what = kind(exc)
            if what == "renamed" and attempt == 1 and table == tables[0]:
                counts["renamed"] += 1
                table = tables[1]
                continue  # the same request again, on the new name
            counts[what] += 1
            errors_seen.append(f"{type(exc).__name__}: {exc}"[:300])
            break
    longest = max(longest, time.monotonic() - started)
    if pause:
        time.sleep(pause)
json.dump({**counts, "errors": errors_seen[:5], "longest": longest}, open(report, "w"))
"""


def scalar(vendor: str, name: str, sql: str) -> Any:
    conn = connect(vendor, name)
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchone()[0]
    finally:
        conn.close()


def user_table(vendor: str, name: str) -> str:
    tables = (
        "SELECT table_name FROM information_schema.tables WHERE table_name IN "
        "('auth_user', 'accounts_user') AND table_schema = "
        + ("'public'" if vendor == "postgresql" else "DATABASE()")
    )
    conn = connect(vendor, name)
    try:
        cursor = conn.cursor()
        cursor.execute(tables)
        found = [row[0] for row in cursor.fetchall()]
    finally:
        conn.close()
    return "accounts_user" if "accounts_user" in found else "auth_user"


def manage(project: Path, vendor: str, name: str, *args: str) -> dict[str, Any]:
    """bench_manage.py ARGS (the swap benchmark's manage.py that times the database): exit
    status, output, wall, CPU and database time. Does not raise when the command fails."""
    import resource

    figures_file = project / f"figures-{uuid.uuid4().hex[:8]}.json"
    env = env_for(vendor, name)
    env["BENCH_FIGURES"] = str(figures_file)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "bench_manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(figures_file.read_text()) if figures_file.exists() else {"db": 0.0}
    figures_file.unlink(missing_ok=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**figures, "code": proc.returncode, "out": proc.stdout, "err": proc.stderr,
            "wall": wall, "cpu": cpu}  # fmt: skip


def one_run(db: Database, project: Path, root: Path, options: argparse.Namespace) -> dict[str, Any]:
    vendor = db.vendor
    name = db.copy()
    work = root / f"run-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    script = work / "worker.py"
    script.write_text(WORKER)
    stop = work / "stop"
    orders_before = scalar(vendor, name, "SELECT COUNT(*) FROM shop_order")
    users_before = scalar(vendor, name, f"SELECT COUNT(*) FROM {user_table(vendor, name)}")
    workers = []
    for n in range(2):
        report = work / f"worker-{n}.json"
        args = [vendor, name, str(stop), str(report), str(options.requests), str(options.pause)]
        args += [str(n), "2"]
        proc = subprocess.Popen([sys.executable, str(script), *args])
        workers.append((proc, report))
    try:
        deadline = time.monotonic() + 60
        for _, report in workers:  # both are sending before the swap starts
            while not Path(f"{report}.started").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(options.warmup)
        swap = manage(
            project,
            vendor,
            name,
            "swap_user_model",
            "--from",
            "auth.User",
            "--noinput",
            "--lock-timeout",
            f"{options.lock_timeout:g}",
            "--backup-dir",
            str(root / "backups"),
        )
        time.sleep(options.warmup)
    finally:
        stop.write_text("")
        reports = []
        for proc, report in workers:
            code = proc.wait(timeout=600)
            data = json.loads(report.read_text()) if report.exists() else {}
            reports.append({**data, "exit": code})
    table = user_table(vendor, name)
    orders_after = scalar(vendor, name, "SELECT COUNT(*) FROM shop_order")
    users_after = scalar(vendor, name, f"SELECT COUNT(*) FROM {table}")
    orphans = scalar(
        vendor,
        name,
        f"SELECT COUNT(*) FROM shop_order o LEFT JOIN {table} u ON u.id = o.user_id "
        "WHERE u.id IS NULL",
    )
    done = sum(r.get("done", 0) for r in reports)
    waited = re.search(r"Longest lock wait: ([\d.]+) s \((\d+) lock request", swap["out"])
    # (the server's messages: PostgreSQL "deadlock detected", MariaDB "Deadlock found")
    said = (swap["out"] + swap["err"]).lower()
    swap_deadlocks = said.count("deadlock detected") + said.count("deadlock found")
    result = {
        "swap_code": swap["code"],
        "verified": "Done; verified." in swap["out"],
        "swap_wall": swap["wall"],
        "swap_cpu": swap["cpu"],
        "swap_db": swap["db"],
        "lock_wait": float(waited.group(1)) if waited else None,
        "lock_requests": int(waited.group(2)) if waited else None,
        "requests": done,
        "after_swap": sum(r.get("after_swap", 0) for r in reports),
        "met_rename": sum(r.get("renamed", 0) for r in reports),
        "deadlocks": sum(r.get("deadlock", 0) for r in reports) + swap_deadlocks,
        "failed": sum(r.get("failed", 0) for r in reports)
        + sum(1 for r in reports if r["exit"] != 0),
        "longest": max(r.get("longest", 0.0) for r in reports),
        "rows_lost": (orders_before + done - orders_after) + (users_before - users_after) + orphans,
        "errors": [e for r in reports for e in r.get("errors", [])][:5],
        "swap_tail": "" if swap["code"] == 0 else (swap["out"] + swap["err"])[-600:],
    }
    if vendor == "mysql":
        if swap["code"] == 0 or "undo with" in swap["err"]:
            undo = manage(
                project, vendor, name, "swap_user_model", "--rollback", "--noinput",
                "--backup-dir", str(root / "backups"),
            )  # fmt: skip
            if undo["code"] != 0:
                raise RuntimeError(f"--rollback failed:\n{undo['out']}{undo['err']}")
    else:
        db.discard(name)
    return result


def median_range(values: list[float], digits: int = 2) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"[{min(values):.{digits}f}-{max(values):.{digits}f}]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument(
        "--backends", nargs="+", choices=("postgresql", "mysql"), default=["postgresql"]
    )
    parser.add_argument("--runs", type=int, default=3, help="Swaps under traffic (default 3).")
    parser.add_argument("--lock-timeout", type=float, default=5.0, help="The swap's (default 5).")
    parser.add_argument(
        "--requests", type=int, default=20_000, help="Bound of each worker's loop (20,000)."
    )
    parser.add_argument(
        "--pause", type=float, default=0.002, help="Seconds between a worker's requests."
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="Seconds of traffic before and after the swap."
    )
    options = parser.parse_args(argv)
    import django

    print(
        f"swap_user_model (single run, --lock-timeout {options.lock_timeout:g}) under traffic "
        f"from 2 workers; {options.users:,} users; Django {django.get_version()}; Python "
        f"{sys.version.split()[0]}; {options.runs} runs; load average (/proc/loadavg) before: "
        f"{loadavg()}, on {os.cpu_count()} CPUs",
        flush=True,
    )
    met = True
    with tempfile.TemporaryDirectory(prefix="authtools-traffic-") as tmp:
        root = Path(tmp)
        for vendor in options.backends:
            old_project, new_project = make_projects(root / vendor)
            db = Database(vendor, root, options.users)
            try:
                print(f"{vendor}: loading ({populate(db, old_project):.1f} s)", file=sys.stderr)
                runs = []
                for number in range(1, options.runs + 1):
                    r = one_run(db, new_project, root, options)
                    runs.append(r)
                    print(
                        f"{vendor} run {number}: swap exit {r['swap_code']}"
                        f"{' (verified)' if r['verified'] else ''}, wall {r['swap_wall']:.2f} s, "
                        f"cpu {r['swap_cpu']:.2f} s, db {r['swap_db'] * 1000:.0f} ms, longest "
                        f"lock wait {r['lock_wait']} s ({r['lock_requests']} lock request"
                        f"{'' if r['lock_requests'] == 1 else 's'}); "
                        f"requests {r['requests']} ({r['after_swap']} after the swap, "
                        f"{r['met_rename']} met the rename and were sent again); deadlocks "
                        f"{r['deadlocks']}, failed {r['failed']}, longest request "
                        f"{r['longest']:.3f} s, rows lost {r['rows_lost']}",
                        flush=True,
                    )
                    for line in r["errors"]:
                        print(f"  worker error: {line}")
                    if r["swap_tail"]:
                        print(f"  swap: {r['swap_tail']}")
            finally:
                db.drop()
            ok = all(
                r["swap_code"] == 0
                and r["deadlocks"] == 0
                and r["failed"] == 0
                and r["rows_lost"] == 0
                and r["longest"] <= options.lock_timeout
                for r in runs
            )
            met &= ok
            print(
                f"{vendor}: deadlocks {sum(r['deadlocks'] for r in runs)} (goal 0), failed "
                f"requests {sum(r['failed'] for r in runs)} (goal 0), longest request "
                f"{median_range([r['longest'] for r in runs], 3)} s (goal <= "
                f"{options.lock_timeout:g} s), rows lost {sum(r['rows_lost'] for r in runs)} "
                f"(goal 0), swaps verified {sum(r['verified'] for r in runs)} of {len(runs)}; "
                f"swap wall {median_range([r['swap_wall'] for r in runs])} s, cpu "
                f"{median_range([r['swap_cpu'] for r in runs])} s, db "
                f"{median_range([r['swap_db'] * 1000 for r in runs], 0)} ms; "
                f"{'goals met' if ok else 'goals NOT met'}"
            )
    print(f"load average (/proc/loadavg) after: {loadavg()}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
