"""swap_user_model on PostgreSQL under live traffic: app workers insert rows with a foreign key
to the user and update last_login while the swap runs. The swap locks the referencing tables
before the user table (the order an INSERT takes them in), so nothing deadlocks; a lock held
longer than --lock-timeout makes it retry, then give up with nothing changed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import PG, Project
from .swaphelpers import before_state, write_new_model

# An app worker running the new code: it knows both names of the user table (the old one until
# the swap commits). Each request: INSERT an order, UPDATE last_login, in one transaction.
WORKER = """
import json, sys, time
import psycopg
from psycopg import errors

dbname, stop, report = sys.argv[1], sys.argv[2], sys.argv[3]
conn = psycopg.connect(host="127.0.0.1", user="postgres", dbname=dbname)
table, done, deadlocks, renamed, failures, longest = "auth_user", 0, 0, 0, [], 0.0
ids = [r[0] for r in conn.execute("SELECT id FROM auth_user ORDER BY id").fetchall()]
conn.commit()
after_stop = 0
for i in range(5000):
    if __import__("os").path.exists(stop):
        after_stop += 1
        if after_stop > 20:
            break
    uid = ids[i % len(ids)]
    started = time.monotonic()
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO shop_order (user_id, total, created) VALUES (%s, 1, now())", [uid]
            )
            conn.execute(f"UPDATE {table} SET last_login = now() WHERE id = %s", [uid])
        done += 1
    except errors.DeadlockDetected:
        deadlocks += 1
    except errors.UndefinedTable:
        renamed += 1
        table = "accounts_user"
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    longest = max(longest, time.monotonic() - started)
    with open(report + ".progress", "w") as handle:
        handle.write(str(i))
json.dump(
    {"done": done, "deadlocks": deadlocks, "renamed": renamed, "failures": failures,
     "longest": longest},
    open(report, "w"),
)
"""


def start_workers(
    project: Project, tmp_path: Path, count: int
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = []
    for n in range(count):
        report = tmp_path / f"worker-{n}.json"
        proc = subprocess.Popen(
            [sys.executable, str(script), project.db.name, str(tmp_path / "stop"), str(report)]
        )
        workers.append((proc, report))
    for _, report in workers:  # both are sending requests before the swap starts
        deadline = time.monotonic() + 30
        while not Path(f"{report}.progress").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return workers


def stop_workers(tmp_path: Path, workers: list[tuple[subprocess.Popen[bytes], Path]]) -> list[dict]:
    (tmp_path / "stop").write_text("")
    reports = []
    for proc, report in workers:
        assert proc.wait(timeout=120) == 0
        reports.append(json.loads(report.read_text()))
    return reports


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_swap_under_traffic_no_deadlock_no_row_lost(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    orders_before = project.db.query("SELECT COUNT(*) FROM shop_order")[0][0]
    workers = start_workers(project, tmp_path, 2)
    try:
        run = project.manage(
            "swap_user_model",
            "--from",
            "auth.User",
            "--noinput",
            "--lock-timeout",
            "3",
            "--backup-dir",
            str(tmp_path / "backups"),
        )
    finally:
        reports = stop_workers(tmp_path, workers)
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert run.out.count("Longest lock wait: ") == 1, run.out
    assert run.out.splitlines()[-2] == (
        "Now: restart the app processes (they still read 'auth_user', which is "
        "'accounts_user' from now on)."
    )
    assert [r["deadlocks"] for r in reports] == [0, 0]
    assert [r["failures"] for r in reports] == [[], []]
    # Every committed request's row is there; a request that met the renamed table (the
    # moment the swap committed) was rolled back as a whole and is not counted.
    done = sum(r["done"] for r in reports)
    assert done > 0
    assert project.db.query("SELECT COUNT(*) FROM shop_order")[0][0] == orders_before + done
    assert project.db.query(
        "SELECT COUNT(*) FROM shop_order o LEFT JOIN accounts_user u ON u.id = o.user_id "
        "WHERE u.id IS NULL"
    ) == [(0,)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_swap_behind_a_long_transaction_retries_then_gives_up(
    db_project: Project, tmp_path: Path
) -> None:
    import psycopg

    project = db_project
    before_state(project)
    write_new_model(project)
    tables = project.db.tables()
    # A session holding ROW EXCLUSIVE on a referencing table (an open request that inserted).
    holder = psycopg.connect(dbname=project.db.name, **PG)
    try:
        holder.execute("INSERT INTO shop_order (user_id, total, created) VALUES (1, 1, now())")
        run = project.manage(
            "swap_user_model",
            "--from",
            "auth.User",
            "--noinput",
            "--lock-timeout",
            "0.2",
            "--backup-dir",
            str(tmp_path / "backups"),
        )
    finally:
        holder.rollback()
        holder.close()
    assert run.code == 1, str(run)
    retries = [line for line in run.out.splitlines() if line.startswith("Lock wait: ")]
    assert [line.split(" not free after ")[1].split(" s ")[1] for line in retries] == [
        "(attempt 1 of 4); retrying in 0.5 s.",
        "(attempt 2 of 4); retrying in 1 s.",
        "(attempt 3 of 4); retrying in 2 s.",
    ], run.out
    assert retries[0].startswith(
        "Lock wait: django_admin_log, profiles_profile, shop_order, auth_user_groups, "
        "auth_user_user_permissions, auth_user, django_migrations not free after "
    )
    [line] = run.err.splitlines()
    assert line.startswith(
        "CommandError: Step 1 (Rename table 'auth_user' to 'accounts_user') "
        "failed: LockTimeout: could not lock django_admin_log, "
    ), line
    assert line.endswith(
        "within 0.2 s in 4 attempts (other transactions hold them: find them in "
        "pg_stat_activity, or run again at a quieter time or with a longer --lock-timeout). "
        "Nothing after it ran; the database was rolled back."
    ), line
    assert project.db.tables() == tables
    assert project.db.query("SELECT COUNT(*) FROM django_migrations WHERE app = 'accounts'") == [
        (0,)
    ]
