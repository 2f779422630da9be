"""While a swap runs on PostgreSQL, django_migrations is locked: a `migrate` started meanwhile
waits for the swap to commit instead of reading the half-swapped history.

A wrapper runs manage.py and, right after the swap's first step (inside its transaction), tries
to read django_migrations from a second connection with a short lock_timeout, as a concurrent
`migrate` would, and writes down what happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Project
from .swaphelpers import before_state, write_new_model

PROBE = '''"""Run manage.py ARGS; after the first step, read the history from another session."""
import os
import runpy
import sys

import psycopg

from authtools.procedures import plan as plan_module

report = sys.argv[1]
original_add = plan_module.Plan.add


def add(self, step):
    apply = step.apply

    def apply_then_probe(runtime):
        result = apply(runtime)
        if not os.path.exists(report):
            with psycopg.connect(
                host="127.0.0.1", user="postgres", dbname=os.environ["TESTPROJECT_DB_NAME"],
                autocommit=True,
            ) as other:
                other.execute("SET lock_timeout = '300ms'")
                try:
                    other.execute("SELECT COUNT(*) FROM django_migrations").fetchone()
                    outcome = "read"
                except psycopg.errors.LockNotAvailable:
                    outcome = "waited"
            with open(report, "w") as handle:
                handle.write(outcome)
        return result

    step.apply = apply_then_probe
    return original_add(self, step)


plan_module.Plan.add = add
sys.argv = ["manage.py", *sys.argv[2:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("manage.py", run_name="__main__")
'''


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_concurrent_reader_of_the_history_waits_for_the_swap(
    db_project: Project, tmp_path: Path
) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    plan = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert plan.code == 0, str(plan)
    assert (
        "  Note: Locks taken first, in this order (each wait at most 5 s, 4 attempts): "
        "django_admin_log, profiles_profile, shop_order, auth_user_groups, "
        "auth_user_user_permissions, auth_user, django_migrations; a migrate started meanwhile "
        "waits for the swap to commit.\n"
        "  Note: Running app processes still read 'auth_user': restart them right after the swap "
        "commits (until then their user queries fail), or swap without downtime in two deploys: "
        "--phase 1 (keeps the tables), then --phase 2 (deploy its code right after).\n"
    ) in plan.out, plan.out

    probe, report = tmp_path / "probe.py", tmp_path / "report.txt"
    probe.write_text(PROBE)
    run = project.run(
        str(probe),
        str(report),
        "swap_user_model",
        "--from",
        "auth.User",
        "--noinput",
        "--backup-dir",
        str(tmp_path / "backup"),
        "--format",
        "json",
    )
    assert run.code == 0, str(run)
    assert report.read_text() == "waited"
    # --format json: the result as data, with the lock figures the text prints as a sentence.
    result = json.loads(run.out)["result"]
    assert result["verified"] is True
    assert result["failures"] == []
    assert result["lock_requests"] == 1  # PostgreSQL takes every lock in one request
    assert 0 <= result["longest_lock_wait"] < 5
    # Once the swap has committed, the history is readable and records the new app.
    assert project.db.query("SELECT name FROM django_migrations WHERE app = 'accounts'") == [
        ("0001_initial",)
    ]
