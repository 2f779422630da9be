"""swap_user_model killed (SIGKILL) after each step, on SQLite, PostgreSQL and MariaDB.

The kill comes from the test, not from the product: a small wrapper runs manage.py with the
plan's steps (or the journal writes) wrapped so that the process kills itself after step N.
PostgreSQL and SQLite run the steps in one transaction, so the database is as before. MariaDB
cannot roll back DDL: --resume must reach the after state and --rollback the before state,
with every row there, whether the kill came before or after the step was journalled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Project
from .swaphelpers import assert_clean, before_state, login, write_new_model

KILLER = '''"""Run manage.py ARGS and SIGKILL this process after the Nth step (MODE apply:
right after the step ran, before the runner journals it; MODE journal: right after the Nth
journal entry)."""
import os
import runpy
import signal
import sys

from authtools.procedures import plan as plan_module
from authtools.procedures.backup import Backup

mode, after = sys.argv[1], int(sys.argv[2])
applied = []

if mode == "apply":
    original_add = plan_module.Plan.add

    def add(self, step):
        apply = step.apply

        def apply_then_die(runtime):
            result = apply(runtime)
            applied.append(step.id)
            if len(applied) == after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        step.apply = apply_then_die
        return original_add(self, step)

    plan_module.Plan.add = add
else:
    original_write = Backup.write_json

    def write_json(self, name, data):
        result = original_write(self, name, data)
        if name == "journal" and len(data) == after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    Backup.write_json = write_json

sys.argv = ["manage.py", *sys.argv[3:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("manage.py", run_name="__main__")
'''

SKIPPED = {"django_migrations", "django_session"}


def dump(project: Project) -> dict[str, Any]:
    """Every row of every table (django_migrations as (app, name) pairs), read directly."""
    db = project.db
    out: dict[str, Any] = {}
    for table in sorted(db.tables() - SKIPPED):
        if table.startswith("sqlite_"):
            continue
        out[table] = sorted(db.query(f"SELECT * FROM {table}"), key=repr)
    out["django_migrations"] = sorted(db.query("SELECT app, name FROM django_migrations"))
    return out


def test_killed_after_each_step(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    before = dump(project)
    plan = project.manage("swap_user_model", "--from", "auth.User", "--dry-run", "--format", "json")
    assert plan.code == 0, str(plan)
    steps = [s["id"] for s in plan.json()["plan"]["steps"]]
    assert steps[0] == "rename-table-1" and steps[-1] == "record-migrations"
    assert len(steps) >= 5, steps

    def swap(*args: str, folder: str) -> Any:
        return project.manage("swap_user_model", *args, "--backup-dir", str(tmp_path / folder))

    def killed(mode: str, n: int, folder: str) -> None:
        run = project.run(
            str(killer),
            mode,
            str(n),
            "swap_user_model",
            "--from",
            "auth.User",
            "--noinput",
            "--backup-dir",
            str(tmp_path / folder),
        )
        assert run.code == -9, f"{mode} {n}: {run}"

    # The after state, from a complete run; --rollback of a complete run restores every row.
    done = swap("--from", "auth.User", "--noinput", folder="complete")
    assert done.code == 0, str(done)
    after = dump(project)
    assert after != before
    undone = swap("--rollback", "--noinput", folder="complete")
    assert undone.code == 0, str(undone)
    assert dump(project) == before

    transactional = project.db.vendor != "mysql"
    for n, step in enumerate(steps, 1):
        killed("apply", n, f"apply-{n}")
        if transactional:
            assert dump(project) == before, f"killed after step {n} ({step})"
            continue
        resumed = swap("--resume", "--noinput", folder=f"apply-{n}")
        assert resumed.code == 0, f"resume after step {n} ({step}): {resumed}"
        assert "Done; verified." in resumed.out
        assert dump(project) == after, f"resume after step {n} ({step})"
        assert swap("--rollback", "--noinput", folder=f"apply-{n}").code == 0
        assert dump(project) == before, f"rollback of the resumed run {n}"

        killed("journal", n, f"journal-{n}")
        rolled = swap("--rollback", "--noinput", folder=f"journal-{n}")
        assert rolled.code == 0, f"rollback after step {n} ({step}): {rolled}"
        assert dump(project) == before, f"rollback after step {n} ({step})"

    # From the before state the swap still completes, and the project is healthy.
    final = swap("--from", "auth.User", "--noinput", folder="final")
    assert final.code == 0, str(final)
    assert dump(project) == after
    assert_clean(project)
    assert login(project, "alice", "alice-pass-1") != "None"
