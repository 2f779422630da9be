"""swap_user_model under live traffic, on PostgreSQL and MariaDB: app workers insert rows
with a foreign key to the user and update last_login while the swap runs. PostgreSQL: the swap
locks the referencing tables before the user table (the order an INSERT takes them in).
MariaDB: LOCK TABLES takes its tables sorted by name, so the swap takes them all or none
(NOWAIT, sent again until the timeout) and never waits while it holds one. Either way nothing
deadlocks; a lock held longer than --lock-timeout makes it retry, then give up with nothing
changed."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import MY, PG, Project
from .swaphelpers import before_state, write_new_model

# An app worker running the new code: it knows both names of the user table (the old one until
# the swap commits). Each request: INSERT an order, UPDATE last_login, in one transaction. Each
# worker has its own users (on InnoDB two such requests for one user deadlock by themselves:
# the foreign key check's shared row lock, then the update's exclusive one).
WORKER = """
import json, os, sys, time

vendor, dbname, stop, report, index, count = sys.argv[1:7]
if vendor == "postgresql":
    import psycopg
    from psycopg import errors

    conn = psycopg.connect(host="127.0.0.1", user="postgres", dbname=dbname)
    now = "now()"

    def kind(exc):
        if isinstance(exc, errors.DeadlockDetected):
            return "deadlock"
        return "renamed" if isinstance(exc, errors.UndefinedTable) else "failed"
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
ids = [row[0] for row in cursor.fetchall()][int(index)::int(count)]
conn.commit()
table, done, deadlocks, renamed, failures, longest = "auth_user", 0, 0, 0, [], 0.0
after_stop = 0
for i in range(5000):
    if os.path.exists(stop):
        after_stop += 1
        if after_stop > 20:
            break
    uid = ids[i % len(ids)]
    started = time.monotonic()
    try:
        cursor.execute(
            f"INSERT INTO shop_order (user_id, total, created) VALUES (%s, 1, {now})", [uid]
        )
        cursor.execute(f"UPDATE {table} SET last_login = {now} WHERE id = %s", [uid])
        conn.commit()
        done += 1
    except Exception as exc:
        conn.rollback()
        what = kind(exc)
        if what == "deadlock":
            deadlocks += 1
        elif what == "renamed":
            renamed += 1
            table = "accounts_user"
        else:
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
        args = [project.db.vendor, project.db.name, str(tmp_path / "stop"), str(report)]
        proc = subprocess.Popen([sys.executable, str(script), *args, str(n), str(count)])
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


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
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
    # One set of locks on PostgreSQL, more on MariaDB (the renames, each many-to-many table),
    # with any retries on top.
    [wait] = [line for line in run.out.splitlines() if line.startswith("Longest lock wait: ")]
    fewest = 1 if project.db.vendor == "postgresql" else 3
    requests = int(
        re.fullmatch(r"Longest lock wait: \d+\.\d\d s \((\d+) lock requests?\)\.", wait)[1]
    )
    assert requests >= fewest, wait
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


def open_request(project: Project) -> Any:
    """A second session with a transaction open (no autocommit), as an app request has."""
    if project.db.vendor == "postgresql":
        import psycopg

        return psycopg.connect(dbname=project.db.name, **PG)
    import MySQLdb

    conn = MySQLdb.connect(database=project.db.name, **MY)
    conn.autocommit(False)
    return conn


def insert_order(request: Any, user_id: int) -> None:
    """An order for USER_ID, in REQUEST's open transaction (a foreign key to the user)."""
    with request.cursor() as cursor:
        cursor.execute(
            "INSERT INTO shop_order (user_id, total, created) VALUES (%s, 1, CURRENT_TIMESTAMP)",
            [user_id],
        )


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_swap_behind_a_long_transaction_retries_then_gives_up(
    db_project: Project, tmp_path: Path
) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    tables = project.db.tables()
    # A session holding a referencing table (an open request that inserted: PostgreSQL ROW
    # EXCLUSIVE, MariaDB its metadata lock).
    holder = open_request(project)
    try:
        insert_order(holder, 1)
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
    if project.db.vendor == "postgresql":
        assert line.endswith(
            "within 0.2 s in 4 attempts (other transactions hold them: find them in "
            "pg_stat_activity, or run again at a quieter time or with a longer --lock-timeout). "
            "Nothing after it ran; the database was rolled back."
        ), line
    else:  # no transaction around DDL: the first step gave up before its statement ran
        [backup] = (tmp_path / "backups").glob("swap_user_model-*")
        assert line.endswith(
            "within 0.2 s in 4 attempts (other transactions hold them: find them in "
            "information_schema.innodb_trx, or run again at a quieter time or with a longer "
            "--lock-timeout). Nothing after it ran; nothing was changed."
        ), line
    assert project.db.tables() == tables
    assert project.db.query("SELECT COUNT(*) FROM django_migrations WHERE app = 'accounts'") == [
        (0,)
    ]
    assert project.db.query("SELECT COUNT(*) FROM shop_order") == [
        (4,)
    ]  # the holder's: rolled back
    if project.db.vendor == "mysql":
        undo = project.manage("swap_user_model", "--rollback", str(backup), "--noinput")
        assert (undo.code, undo.out, undo.err) == (0, "Nothing to undo.\n", ""), str(undo)
    # Run again, as the message says, once the tables are free: the swap goes through.
    again = project.manage(
        "swap_user_model",
        "--from",
        "auth.User",
        "--noinput",
        "--backup-dir",
        str(tmp_path / "backups"),
    )
    assert (again.code, again.err) == (0, ""), str(again)
    assert "Done; verified." in again.out, again.out


@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_request_holding_a_referencing_table_goes_on_while_the_swap_waits(
    db_project: Project, tmp_path: Path
) -> None:
    """An app request that inserted an order (holding shop_order) when the swap starts, and
    then, while the swap is trying to take its locks, updates the user and inserts again: no
    deadlock (MariaDB's LOCK TABLES, waiting for shop_order while holding auth_user, made
    such a request its victim), both finish, every row kept."""
    project = db_project
    before_state(project)
    write_new_model(project)
    orders_before = project.db.query("SELECT COUNT(*) FROM shop_order")[0][0]
    request = open_request(project)
    insert_order(request, 1)
    args = ["swap_user_model", "--from", "auth.User", "--noinput", "--lock-timeout", "1"]
    swap = subprocess.Popen(
        [sys.executable, "manage.py", *args, "--backup-dir", str(tmp_path / "backups")],
        cwd=project.path,
        env=project.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []

    def read() -> None:
        assert swap.stdout is not None
        for line in swap.stdout:
            out.append(line)
            lines.put(line)
        lines.put("")  # the end

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def next_retry() -> str:
        """Wait for the swap's next 'Lock wait:' line (its locks were not free)."""
        while True:
            line = lines.get(timeout=120)
            if not line or line.startswith("Lock wait: "):
                return line

    errors: list[str] = []
    inserted = 1
    try:
        first = next_retry()
        assert first, "".join(out)
        # Into the next attempt (0.5 s after the line, for 1 s): the swap is taking its locks
        # (MariaDB's LOCK TABLES without NOWAIT held auth_user then, waiting for shop_order),
        # and this request, holding shop_order only, now updates the user and inserts again,
        # until the attempt has given up.
        time.sleep(0.8)
        while lines.empty():
            try:
                with request.cursor() as cursor:
                    cursor.execute(
                        "UPDATE auth_user SET last_login = CURRENT_TIMESTAMP WHERE id = 1"
                    )
                insert_order(request, 1)
                inserted += 1
            except Exception as exc:  # (what a deadlock victim sees)
                errors.append(f"{type(exc).__name__}: {exc}")
                break
            time.sleep(0.02)
        second = next_retry()
        request.commit()
    finally:
        request.close()
        swap.wait(timeout=120)
        reader.join(timeout=10)
    assert swap.stderr is not None
    run_out, run_err = "".join(out), swap.stderr.read()
    assert errors == [], run_out
    assert swap.returncode == 0, run_out + run_err
    # (a line that is not there, "", shows as itself in the comparison)
    assert [line.split(" not free after ")[-1].split(" s ")[-1] for line in (first, second)] == [
        "(attempt 1 of 4); retrying in 0.5 s.\n",
        "(attempt 2 of 4); retrying in 1 s.\n",
    ], run_out
    assert "Done; verified." in run_out
    assert inserted > 1
    assert project.db.query("SELECT COUNT(*) FROM shop_order")[0][0] == orders_before + inserted
    # alice (id 1) had one order; the request's are all there, and its update of last_login.
    assert project.db.query("SELECT COUNT(*) FROM shop_order WHERE user_id = 1") == [
        (1 + inserted,)
    ]
    assert project.db.query(
        "SELECT COUNT(*) FROM accounts_user WHERE id = 1 AND last_login IS NOT NULL"
    ) == [(1,)]
