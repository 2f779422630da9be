"""authtools.db.snapshot: the catalog in one read, compared with Django's own introspection on
the migrated test project, and kept current while pinned (renames followed, other DDL and
rolled-back transactions read again)."""

from __future__ import annotations

import json

from .conftest import Project

# Every table, its columns and its constraints as (name, columns, primary key, unique, foreign
# key), from Django's introspection and from one snapshot. Names SQLite does not keep (its
# primary key, foreign keys and inline UNIQUE constraints) are compared as None; CHECK
# constraints are left out (the snapshot does not parse SQLite's CREATE TABLE text for them).
COMPARE = """
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from authtools.db import snapshot

sqlite = connection.vendor == "sqlite"

def named(name, info):
    if sqlite and (info["primary_key"] or info["foreign_key"] or not info["index"]):
        return None
    return name

with CaptureQueriesContext(connection) as queries:
    snap = snapshot.read(connection)
django = {}
with connection.cursor() as cursor:
    for table in connection.introspection.table_names(cursor):
        constraints = connection.introspection.get_constraints(cursor, table)
        django[table] = {
            "columns": [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ],
            "constraints": sorted((
                [named(name, i), list(i["columns"]), i["primary_key"],
                 bool(i["unique"] or i["primary_key"]),
                 list(i["foreign_key"]) if i["foreign_key"] else None]
                for name, i in constraints.items() if not i["check"]
            ), key=json.dumps),
            "sequences": sorted(
                s["name"] for s in connection.introspection.get_sequences(cursor, table)
            ) if connection.vendor == "postgresql" else [],
        }
mine = {
    table: {
        "columns": list(snap.columns[table]),
        "constraints": sorted((
            [None if sqlite and c.kind != "index" else c.name, list(c.columns),
             c.kind == "primary", c.unique or c.kind == "primary",
             [c.ref_table, c.ref_columns[0]] if c.kind == "foreign" else None]
            for c in snap.constraints_of(table).values() if c.kind != "check"
        ), key=json.dumps),
        "sequences": sorted(s.name for s in snap.sequences_of(table)),
    }
    for table in snap.tables
}
print(json.dumps({"queries": len(queries.captured_queries), "django": django, "mine": mine}))
"""


def test_snapshot_matches_django_introspection(db_project: Project) -> None:
    db_project.migrate()
    vendor = db_project.db.vendor
    result = json.loads(db_project.shell(COMPARE))
    assert result["queries"] == {"postgresql": 1, "mysql": 4, "sqlite": 3}[vendor]
    assert result["mine"] == result["django"]
    # Not vacuous: the project's tables, with their indexes, foreign keys and sequences.
    groups = result["mine"]["accounts_user_groups"]
    assert groups["columns"] == ["id", "user_id", "group_id"]
    assert sorted(c[1:] for c in groups["constraints"] if c[4]) == [
        [["group_id"], False, False, ["auth_group", "id"]],
        [["user_id"], False, False, ["accounts_user", "id"]],
    ]
    if vendor == "postgresql":
        assert groups["sequences"] == ["accounts_user_groups_id_seq"]


# Inside pinned(): renames run through schema.rename_sql keep the snapshot equal to a new read
# with no catalog query; foreign DDL makes it read again; so does a transaction rolled back.
PINNED = """
import json
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from authtools.db import snapshot
from authtools.db.schema import Rename, exists, rename_sql

def same(a, b):
    return (a.columns, a.constraints, a.sequences) == (b.columns, b.constraints, b.sequences)

def run(statements):
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)

out = {}
renames = [
    Rename("table", "shop_order", "shop_order", "shop_purchase"),
    Rename("column", "shop_purchase", "total", "amount"),
]
if connection.vendor == "postgresql":
    renames.append(Rename("sequence", "shop_purchase", "shop_order_id_seq", "shop_purchase_id_seq"))
run(["CREATE INDEX shop_order_total_idx ON shop_order (total)"])
# (SQLite cannot rename an index: rename_sql drops it and creates it again)
renames.append(
    Rename("index", "shop_purchase", "shop_order_total_idx", "shop_purchase_total", ("amount",))
)
with snapshot.pinned(connection):
    snapshot.current(connection)
    statements = {s for r in renames for s in rename_sql(connection, r)}
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            for r in renames:
                assert exists(connection, r.kind, r.old, r.table if r.kind != "table" else r.old)
                run(rename_sql(connection, r))
        out["other_queries"] = [
            q["sql"] for q in queries.captured_queries if q["sql"] not in statements
        ]
        out["followed"] = same(snapshot.current(connection), snapshot.read(connection))
    out["tables_after"] = sorted(
        t for t in snapshot.current(connection).tables if t.startswith("shop_")
    )
    run(["CREATE TABLE shop_extra (id integer PRIMARY KEY)"])
    out["foreign_ddl"] = "shop_extra" in snapshot.current(connection).tables
    if connection.features.can_rollback_ddl:
        try:
            with transaction.atomic():
                gone = Rename("table", "shop_extra", "shop_extra", "shop_gone")
                run(rename_sql(connection, gone))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        out["rolled_back"] = sorted(
            t for t in snapshot.current(connection).tables if t in ("shop_extra", "shop_gone")
        )
print(json.dumps(out))
"""


def test_pinned_snapshot_follows_renames_and_rereads_otherwise(db_project: Project) -> None:
    db_project.migrate()
    result = json.loads(db_project.shell(PINNED))
    assert result.pop("followed") is True
    assert result.pop("tables_after") == ["shop_purchase"]
    assert result.pop("foreign_ddl") is True
    if db_project.db.vendor != "mysql":
        assert result.pop("rolled_back") == ["shop_extra"]
    assert result == {"other_queries": []}  # no catalog read between the renames
