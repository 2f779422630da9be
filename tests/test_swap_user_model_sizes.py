"""swap_user_model issues the same statements whatever the number of users: the same project
at two data sizes, swapped on SQLite, PostgreSQL and MariaDB, every statement of the command
(Django's start-up included) traced in the process and compared, text by text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REQUIRE_DATABASES, Project, _make_project, server_unavailable
from .swaphelpers import before_state, write_new_model

# More users, a group and an order each (the seed's 4 users come first).
GROW = """
from django.contrib.auth.models import Group, User
from shop.models import Order

users = User.objects.bulk_create(
    User(username=f"user{i}", email=f"user{i}@example.com", password="x") for i in range(N)
)
editors = Group.objects.get(name="editors")
User.groups.through.objects.bulk_create(
    User.groups.through(user_id=u.pk, group_id=editors.pk) for u in users
)
Order.objects.bulk_create(Order(user_id=u.pk, total="1.00") for u in users)
"""

# The whole command in this process; every statement's text (parameters apart) in order.
TRACE = """
import io, json
from django.core.management import call_command
from django.db import connection

statements = []

def trace(execute, sql, params, many, context):
    statements.append(sql)
    return execute(sql, params, many, context)

stdout = io.StringIO()
with connection.execute_wrapper(trace):
    call_command(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", BACKUPS,
        stdout=stdout,
    )
print(json.dumps({"out": stdout.getvalue(), "statements": statements}))
"""


def swapped(tmp_path: Path, vendor: str, users: int) -> dict[str, object]:
    maker = _make_project(tmp_path, vendor)
    project: Project = next(maker)
    try:
        before_state(project)
        if users:
            project.shell(GROW.replace("N", str(users)))
        write_new_model(project)
        backups = repr(str(project.path / "backups"))
        result: dict[str, object] = json.loads(project.shell(TRACE.replace("BACKUPS", backups)))
        result["users"] = project.db.query("SELECT COUNT(*) FROM accounts_user")[0][0]
        return result
    finally:
        maker.close()


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql", "mysql"])
def test_same_statements_at_two_data_sizes(tmp_path: Path, vendor: str) -> None:
    reason = server_unavailable(vendor) if vendor != "sqlite" else None
    if reason:
        if REQUIRE_DATABASES:
            pytest.fail(f"AUTHTOOLS_REQUIRE_DATABASES=1 but {reason}")
        pytest.skip(reason)
    small = swapped(tmp_path / "small", vendor, 0)
    large = swapped(tmp_path / "large", vendor, 3000)
    for result in (small, large):
        assert "Done; verified." in str(result["out"]), result["out"]
    assert (small["users"], large["users"]) == (4, 3004)  # the seed: alice, bob, root, dave
    assert large["statements"] == small["statements"]
    # The run, counted: the catalog read twice (plan, verification), locks, the renames
    # (PostgreSQL: a step's index, constraint and sequence renames in one round trip), the
    # sequence reset and key check (PostgreSQL), the content type, the migration record, the
    # backup's reads and the verification's. MySQL: the connection's set-up (Django's server
    # queries), the snapshot's four queries each time, a LOCK TABLES and UNLOCK TABLES around
    # each table rename; its yardstick asks no storage engine (the snapshot holds them).
    count = {"sqlite": 27, "postgresql": 26, "mysql": 36}[vendor]
    assert len(small["statements"]) == count  # type: ignore[arg-type]
