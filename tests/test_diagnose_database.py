"""The database probe (E501-E504) on real databases: each test builds the broken state for real."""

from __future__ import annotations

from typing import Any

from .conftest import Project
from .helpers import diagnose_db, drop_user_table, migrate_as_auth_user_then_switch

DB_CAUSES = ("database", "contenttypes", "related-objects")


def diagnose(project: Project, *args: str) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and the findings of the database probes, from the JSON report."""
    return diagnose_db(project, DB_CAUSES, *args)


def test_user_table_missing(db_project: Project) -> None:
    # Never migrated: only contenttypes and auth are.
    db_project.ok("migrate", "auth", "--no-input", "-v", "0")
    code, findings = diagnose(db_project)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.E501",
            "severity": "error",
            "cause": "database",
            "message": "The table 'accounts_user' of the user model 'accounts.User' does not "
            "exist: the migrations of 'accounts' are not applied.",
            "hint": "Apply them; if migrate refuses (InconsistentMigrationHistory), see the "
            "migrations findings first.",
            "location": {"table": "accounts_user"},
            # migrate (E402's fix) creates it: the table follows from the unapplied migration.
            "fix_command": None,
            "because": "authtools.E402",
        }
    ]

    # Migrated: healthy. Then the table is dropped behind Django's back.
    db_project.migrate()
    assert diagnose(db_project) == (0, [])
    drop_user_table(db_project)
    assert "accounts_user" not in db_project.db.tables()
    code, findings = diagnose(db_project)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.E501",
            "severity": "error",
            "cause": "database",
            "message": "The table 'accounts_user' of the user model 'accounts.User' does not "
            "exist, although django_migrations records 1 migration(s) of 'accounts' as applied.",
            "hint": "The table was dropped or renamed after it was migrated (or the migrations "
            "were faked): restore it from a backup, or recreate it with the SQL of "
            "'python manage.py sqlmigrate accounts 0001_initial'.",
            "location": {"table": "accounts_user"},
            "fix_command": None,
            "because": None,
        }
    ]


def test_foreign_keys_still_point_at_auth_user(db_project: Project) -> None:
    migrate_as_auth_user_then_switch(db_project)
    code, findings = diagnose(db_project)
    assert code == 1
    e502 = [f for f in findings if f["cause"] == "database"]
    expected = []
    for table, label in [
        ("django_admin_log", "admin.LogEntry.user"),
        ("profiles_profile", "profiles.Profile.user"),
        ("shop_order", "shop.Order.user"),
    ]:
        [[constraint]] = constraint_names(db_project, table)
        named = f" (constraint {constraint!r})" if constraint else ""
        expected.append(
            {
                "id": "authtools.E502",
                "severity": "error",
                "cause": "database",
                "message": f"{table}.user_id -> auth_user (the table of auth.User) in the "
                f"database{named}, but {label} relates to AUTH_USER_MODEL 'accounts.User', "
                "table 'accounts_user'.",
                "hint": "The tables were created while AUTH_USER_MODEL named another model; "
                "changing the setting never rewrites existing constraints, so inserting a new "
                "user's rows fails (IntegrityError). Repoint the foreign keys (and move the "
                "rows) to the user table.",
                "location": {"table": table},
                # The swap is printed once, by the E405 these follow from.
                "fix_command": None,
                "because": "authtools.E405",
            }
        )
    assert e502 == expected
    # The new user's own M2M tables point at accounts_user: nothing to say about them.
    assert not any("accounts_user_groups" in f["message"] for f in findings)


def constraint_names(project: Project, table: str) -> list[tuple[Any]]:
    """The name of the foreign key constraint on TABLE.user_id ([(None,)] on SQLite)."""
    if project.db.vendor == "sqlite":
        return [(None,)]
    if project.db.vendor == "postgresql":
        return project.db.query(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = %s::regclass AND confrelid = 'auth_user'::regclass",
            [table],
        )
    return project.db.query(
        "SELECT CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = 'user_id' "
        "AND REFERENCED_TABLE_NAME = 'auth_user'",
        [table],
    )


def widen_order_user_id(project: Project) -> None:
    """shop_order.user_id becomes bigint while accounts_user.id stays a 32-bit integer, as when
    the orders were created against a BigAutoField user key. MySQL/MariaDB refuse a foreign key
    between the two types, so there the column is left without one, as in real projects."""
    vendor = project.db.vendor
    if vendor == "postgresql":
        project.db.query("ALTER TABLE shop_order ALTER COLUMN user_id TYPE bigint")
    elif vendor == "mysql":
        [[name]] = project.db.query(
            "SELECT CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
            "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'shop_order' AND COLUMN_NAME = 'user_id' "
            "AND REFERENCED_TABLE_NAME IS NOT NULL"
        )
        project.db.query(f"ALTER TABLE shop_order DROP FOREIGN KEY `{name}`")
        project.db.query("ALTER TABLE shop_order MODIFY user_id bigint NOT NULL")
    else:
        project.shell(
            """
            from django.db import connection, models
            from shop.models import Order

            old = Order._meta.get_field("user")
            new = models.BigIntegerField(db_index=True)
            new.set_attributes_from_name("user_id")
            new.model = Order
            with connection.schema_editor() as editor:
                editor.alter_field(Order, old, new)
            """
        )


def test_foreign_key_type_differs_from_user_key(db_project: Project) -> None:
    db_project.migrate()
    widen_order_user_id(db_project)
    code, findings = diagnose(db_project)
    vendor = db_project.db.vendor
    if vendor == "sqlite":
        # SQLite keeps every integer in 64 bits: 'bigint' and 'integer' hold the same keys.
        assert db_project.db.query(
            "SELECT type FROM pragma_table_info('shop_order') WHERE name = 'user_id'"
        ) == [("bigint",)]
        assert (code, findings) == (0, [])
        return
    int_type, bigint_type = ("integer", "bigint") if vendor == "postgresql" else ("int", "bigint")
    [(column_type,)] = db_project.db.query(type_query(vendor), ["shop_order", "user_id"])
    [(user_type,)] = db_project.db.query(type_query(vendor), ["accounts_user", "id"])
    assert (column_type.split("(")[0], user_type.split("(")[0]) == (bigint_type, int_type)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.E503",
            "severity": "error",
            "cause": "database",
            "message": f"shop_order.user_id is {column_type} but accounts_user.id, the user key "
            f"it refers to (shop.Order.user), is {user_type}.",
            "hint": "Keys of one type cannot hold the other's values: on MySQL/MariaDB the "
            "foreign key cannot even be created, on PostgreSQL ids past the smaller type fail. "
            "Give both columns the same type in a migration: an AlterField of the user model's "
            "primary key (Django alters the foreign keys to it), or RunSQL that alters this "
            "column.",
            "location": {"table": "shop_order"},
            "fix_command": None,
            "because": None,
        }
    ]


def type_query(vendor: str) -> str:
    if vendor == "postgresql":
        return (
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = %s"
        )
    return (
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s"
    )


def test_unreachable_database_is_one_finding(db_project: Project) -> None:
    vendor = db_project.db.vendor
    missing = (
        str(db_project.path / "no-such-folder" / "db.sqlite3")
        if vendor == "sqlite"
        else "authtools_no_such_database"
    )
    result = db_project.manage(
        "diagnose_user_model", "--format", "json", TESTPROJECT_DB_NAME=missing
    )
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err
    findings = [f for f in result.json()["findings"] if f["cause"] in DB_CAUSES]
    [finding] = findings
    server = {
        "sqlite": f"sqlite3 file {missing!r}",
        "postgresql": f"postgresql database {missing!r} on 127.0.0.1:5432 as 'postgres'",
        "mysql": f"mysql database {missing!r} on 127.0.0.1:3306 as 'root'",
    }[vendor]
    prefix = f"Cannot connect to the database 'default' ({server}): "
    assert finding["message"].startswith(prefix), finding["message"]
    assert "\n" not in finding["message"]
    reason = {
        "sqlite": "unable to open database file",
        "postgresql": f'database "{missing}" does not exist',
        "mysql": f"Unknown database '{missing}'",
    }[vendor]
    assert reason in finding["message"]
    assert {k: v for k, v in finding.items() if k != "message"} == {
        "id": "authtools.E504",
        "severity": "error",
        "cause": "database",
        "hint": (
            "Check DATABASES['default']['NAME'] (a SQLite database file this process can read "
            "and write)"
            if vendor == "sqlite"
            else "Check DATABASES['default'] (HOST, PORT, NAME, USER, PASSWORD) and that the "
            "server runs"
        )
        + ", or run with --no-db to diagnose without the database.",
        "location": None,
        "fix_command": None,
        "because": None,
    }


def test_server_that_refuses_connections(db_project: Project) -> None:
    """Nothing listens on the port (SQLite: NAME is a folder): still one line naming the alias
    and the server."""
    vendor = db_project.db.vendor
    if vendor == "sqlite":
        env = {"TESTPROJECT_DB_NAME": str(db_project.path)}
        server = f"sqlite3 file {str(db_project.path)!r}"
    else:
        env = {"TESTPROJECT_DB_PORT": "1"}
        user = "postgres" if vendor == "postgresql" else "root"
        server = f"{vendor} database {db_project.db.name!r} on 127.0.0.1:1 as {user!r}"
    result = db_project.manage("diagnose_user_model", "--format", "json", **env)
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err
    [finding] = [f for f in result.json()["findings"] if f["cause"] in DB_CAUSES]
    assert finding["id"] == "authtools.E504"
    prefix = f"Cannot connect to the database 'default' ({server}): "
    assert finding["message"].startswith(prefix), finding["message"]
    assert "\n" not in finding["message"]
