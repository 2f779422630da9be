"""authtools.db.catalog: foreign keys, primary keys and column types as each backend's catalog
records them (answered from one authtools.db.snapshot read), from a migrated test project in a
child process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authtools.db.catalog import same_type, sqlite_affinity

from .conftest import Project

READ_CATALOG = """
import json
from dataclasses import asdict
from django.db import connection
from django.test.utils import CaptureQueriesContext
from authtools.db import catalog

with CaptureQueriesContext(connection) as queries:
    everything = catalog.foreign_keys(connection)
count = len(queries.captured_queries)
print(json.dumps({
    "queries": count,
    "all": [asdict(k) for k in everything],
    "to_user": [asdict(k) for k in catalog.foreign_keys(connection, "accounts_user")],
    "pk": catalog.primary_key(connection, "accounts_user"),
    "pk_missing": catalog.primary_key(connection, "no_such_table"),
    "types": sorted(
        [*key, value]
        for key, value in catalog.column_types(
            connection, ["shop_order", "no_such_table"]).items()
    ),
}))
"""

# What Django creates for an AutoField key and a foreign key to it, per backend.
INT = {"sqlite": "INTEGER", "postgresql": "integer", "mysql": "int(11)"}
BIGINT = {"sqlite": "INTEGER", "postgresql": "bigint", "mysql": "bigint(20)"}


def read_catalog(project: Project) -> dict[str, Any]:
    return json.loads(project.shell(READ_CATALOG))


def user_fk(vendor: str, table: str) -> dict[str, Any]:
    """TABLE.user_id -> accounts_user.id, without the constraint name."""
    return {
        "table": table,
        "column": "user_id",
        "ref_table": "accounts_user",
        "ref_column": "id",
        "column_type": INT[vendor],
        "ref_column_type": INT[vendor],
    }


def test_foreign_keys_of_a_migrated_project(db_project: Project) -> None:
    db_project.migrate()
    vendor = db_project.db.vendor
    result = read_catalog(db_project)
    # One catalog snapshot (authtools.db.snapshot), whatever the number of tables.
    assert result["queries"] == {"postgresql": 1, "mysql": 4, "sqlite": 3}[vendor]

    to_user = result["to_user"]
    constraints = [k.pop("constraint") for k in to_user]
    assert to_user == [
        user_fk(vendor, table)
        for table in (
            "accounts_user_groups",
            "accounts_user_user_permissions",
            "django_admin_log",
            "profiles_profile",
            "shop_order",
        )
    ]
    if vendor == "sqlite":
        assert constraints == [None] * 5  # SQLite does not name foreign keys
    else:
        assert all(name and "fk_accounts" in name for name in constraints), constraints

    # Every foreign key of the project, including those not to the user model.
    assert {(k["table"], k["column"], k["ref_table"]) for k in result["all"]} == {
        ("accounts_user_groups", "group_id", "auth_group"),
        ("accounts_user_groups", "user_id", "accounts_user"),
        ("accounts_user_user_permissions", "permission_id", "auth_permission"),
        ("accounts_user_user_permissions", "user_id", "accounts_user"),
        ("auth_group_permissions", "group_id", "auth_group"),
        ("auth_group_permissions", "permission_id", "auth_permission"),
        ("auth_permission", "content_type_id", "django_content_type"),
        ("django_admin_log", "content_type_id", "django_content_type"),
        ("django_admin_log", "user_id", "accounts_user"),
        ("profiles_profile", "user_id", "accounts_user"),
        ("shop_order", "user_id", "accounts_user"),
    }

    assert result["pk"] == ["id", INT[vendor]]
    assert result["pk_missing"] is None
    decimal = {"sqlite": "decimal", "postgresql": "numeric(10,2)", "mysql": "decimal(10,2)"}
    timestamp = {
        "sqlite": "datetime",
        "postgresql": "timestamp with time zone",
        "mysql": "datetime(6)",
    }
    assert result["types"] == sorted(
        [
            ["shop_order", "id", BIGINT[vendor]],
            ["shop_order", "total", decimal[vendor]],
            ["shop_order", "created", timestamp[vendor]],
            ["shop_order", "user_id", INT[vendor]],
        ]
    )


def test_foreign_keys_the_constraint_name_lies_about(db_project: Project) -> None:
    """A constraint named after accounts_user that points at auth_group: the catalog tells."""
    db_project.migrate()
    vendor = db_project.db.vendor
    if vendor == "sqlite":
        # SQLite: a REFERENCES clause without a column names the primary key.
        db_project.db.query(
            "CREATE TABLE legacy (id integer PRIMARY KEY, "
            "owner_id integer REFERENCES auth_group DEFERRABLE INITIALLY DEFERRED)"
        )
    else:
        quote = '"' if vendor == "postgresql" else "`"
        db_project.db.query("CREATE TABLE legacy (id integer PRIMARY KEY, owner_id integer)")
        db_project.db.query(
            f"ALTER TABLE legacy ADD CONSTRAINT {quote}legacy_owner_id_fk_accounts_user_id{quote} "
            "FOREIGN KEY (owner_id) REFERENCES auth_group (id)"
        )
    result = read_catalog(db_project)
    [legacy] = [k for k in result["all"] if k["table"] == "legacy"]
    assert legacy == {
        "table": "legacy",
        "column": "owner_id",
        "ref_table": "auth_group",
        "ref_column": "id",
        "constraint": None if vendor == "sqlite" else "legacy_owner_id_fk_accounts_user_id",
        "column_type": INT[vendor],
        "ref_column_type": INT[vendor],
    }
    assert "legacy" not in {k["table"] for k in result["to_user"]}


@pytest.mark.parametrize(
    ("vendor", "a", "b", "same"),
    [
        ("sqlite", "integer", "bigint", True),  # 64-bit integers either way
        ("sqlite", "INTEGER", "varchar(32)", False),
        ("sqlite", "char(32)", "varchar(32)", True),
        ("postgresql", "integer", "bigint", False),
        ("postgresql", "bigint", "BIGINT", True),
        ("mysql", "int(11)", "int", True),  # display widths mean nothing
        ("mysql", "int(11)", "bigint(20)", False),
        ("mysql", "int(10) unsigned", "int(11)", False),  # signedness does
    ],
)
def test_same_type(vendor: str, a: str, b: str, same: bool) -> None:
    assert same_type(vendor, a, b) is same


def test_sqlite_affinity() -> None:
    assert [sqlite_affinity(t) for t in ("BIGINT", "varchar(10)", "", "double", "decimal")] == [
        "INTEGER",
        "TEXT",
        "BLOB",
        "REAL",
        "NUMERIC",
    ]


NEXT_KEY = """
import json
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from authtools.db.schema import next_key_follows

User = get_user_model()
table = User._meta.db_table
out = []

def check(label):
    with CaptureQueriesContext(connection) as queries:
        follows = next_key_follows(connection, table, "id")
    out.append([label, follows, len(queries.captured_queries)])

def setval(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, value])

check("empty")
User.objects.create(username="a")
User.objects.create(username="b")
check("generated")
User.objects.create(id=100, username="c")
check("explicit id 100")
if connection.vendor == "postgresql":
    setval(101)
    check("next 101, not called")
    setval(100)
    check("next 100, not called")
print(json.dumps(out))
"""


def test_next_key_follows(db_project: Project) -> None:
    """Whether the next generated key is above the highest one: PostgreSQL answers in one
    statement once the sequence has handed a key out, and reads the sequence itself when
    setval(..., false) left its last value unset; MySQL and SQLite move their counter with
    an explicit key."""
    db_project.migrate()
    vendor = db_project.db.vendor
    result = json.loads(db_project.shell(NEXT_KEY))
    if vendor == "postgresql":
        assert result == [
            ["empty", True, 2],
            ["generated", True, 1],
            ["explicit id 100", False, 1],
            ["next 101, not called", True, 2],
            ["next 100, not called", False, 2],
        ]
    else:
        assert result == [
            ["empty", True, 2],
            ["generated", True, 2],
            ["explicit id 100", True, 2],
        ]
