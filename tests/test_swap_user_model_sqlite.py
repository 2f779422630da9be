"""swap_user_model on SQLite does nothing that grows with the data: no whole-database
``PRAGMA foreign_key_check`` (planning, --sql, --dry-run or the run), no index rebuilt (SQLite
cannot rename an index: the names are kept, and the plan says so)."""

from __future__ import annotations

import json

from .conftest import Project
from .swaphelpers import before_state, snapshot, write_new_model

# --sql, --dry-run, then the swap, in one process; every statement each of them runs.
TRACE = """
import io, json
from django.core.management import call_command
from django.db import connection

statements = []

def trace(execute, sql, params, many, context):
    statements.append(sql)
    return execute(sql, params, many, context)

out = {}
with connection.execute_wrapper(trace):
    for name, args in (
        ("sql", ["--sql"]),
        ("dry", ["--dry-run"]),
        ("run", ["--noinput", "--backup-dir", BACKUPS]),
    ):
        statements.clear()
        stdout = io.StringIO()
        call_command("swap_user_model", "--from", "auth.User", *args, stdout=stdout)
        out[name] = {
            "out": stdout.getvalue(),
            "checks": [s for s in statements if "foreign_key_check" in s],
            "index_ddl": [s for s in statements if s.lstrip().upper().startswith(
                ("CREATE INDEX", "CREATE UNIQUE INDEX", "DROP INDEX"))],
        }
print(json.dumps(out))
"""

INDEXES = (
    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    "AND tbl_name LIKE %s ORDER BY tbl_name, name"
)


def test_sqlite_swap_rebuilds_no_index_and_checks_no_whole_database(
    project: Project, tmp_path: object
) -> None:
    before_state(project)
    expected_rows = snapshot(project)
    write_new_model(project)
    old = project.db.query(INDEXES, ["auth_user%"])
    assert [name for _, name in old] == [
        "auth_user_groups_group_id_97559544",
        "auth_user_groups_user_id_6a12ed8b",
        "auth_user_groups_user_id_group_id_94350c0c_uniq",
        "auth_user_user_permissions_permission_id_1fbb5f2c",
        "auth_user_user_permissions_user_id_a95ead1b",
        "auth_user_user_permissions_user_id_permission_id_14a6b632_uniq",
    ]

    result = json.loads(project.shell(TRACE.replace("BACKUPS", repr(str(project.path / "b")))))

    note = (
        "Note: SQLite cannot rename an index without rebuilding it (reading every row): the 6 "
        "indexes of 'accounts_user_groups', 'accounts_user_user_permissions' keep their names "
        "('auth_user_groups_group_id_97559544', 'auth_user_groups_user_id_6a12ed8b', "
        "'auth_user_groups_user_id_group_id_94350c0c_uniq', "
        "'auth_user_user_permissions_permission_id_1fbb5f2c', "
        "'auth_user_user_permissions_user_id_a95ead1b', "
        "'auth_user_user_permissions_user_id_permission_id_14a6b632_uniq'); Django finds "
        "indexes by their columns, not their names, and a fresh migrate would name them after "
        "the new tables."
    )
    for name in ("sql", "dry", "run"):
        assert result[name]["checks"] == [], name  # not even of one table: nothing to check
        assert result[name]["index_ddl"] == [], name
    assert note in [line.strip() for line in result["dry"]["out"].splitlines()]
    assert "INDEX" not in result["sql"]["out"]
    assert "Done; verified." in result["run"]["out"]

    # The indexes moved with their tables, under their old names; every row is there.
    assert project.db.query(INDEXES, ["accounts_user%"]) == [
        (table.replace("auth_user", "accounts_user"), name) for table, name in old
    ]
    assert project.db.query(INDEXES, ["auth_user%"]) == []
    assert snapshot(project)["groups"] == expected_rows["groups"]
    assert project.ok("migrate", "--no-input").out.endswith("No migrations to apply.\n")
