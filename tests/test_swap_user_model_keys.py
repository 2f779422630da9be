"""swap_user_model on a project created under BigAutoField (DEFAULT_AUTO_FIELD or the app's
default_auto_field): the new key would be 64-bit while auth_user.id is 32-bit. Refused with the
two commands that work; --write-model keeps the 32-bit key, --widen-keys widens it."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    before_state,
    fresh_database,
    fresh_env,
    relabelled,
    schema,
    snapshot,
    sqlite_index_names,
    write_new_model,
)

BIG_APPS = (
    "from django.apps import AppConfig\n\n\nclass AccountsConfig(AppConfig):\n"
    "    default_auto_field = 'django.db.models.BigAutoField'\n    name = 'accounts'\n"
)
MODEL = (
    "from django.contrib.auth.models import AbstractUser\n\n\nclass User(AbstractUser):\n"
    '    """The project\'s user model."""\n'
)
OLD_TYPE = {"sqlite": "INTEGER", "postgresql": "integer", "mysql": "int(11)"}
NEW_TYPE = {"sqlite": "bigint", "postgresql": "bigint", "mysql": "bigint"}
# The column types after the swap; SQLite declares an integer key "integer" whatever its field.
NEW_ID = {"sqlite": "integer", "postgresql": "bigint", "mysql": "bigint(20)"}


def big_project(project: Project) -> dict[str, object]:
    """The project on auth.User with data, then a startapp-style user model under BigAutoField
    and its migration (what `startapp` and makemigrations give since Django 3.2)."""
    before_state(project)
    expected = snapshot(project)
    write_new_model(project)
    project.write("accounts/apps.py", BIG_APPS)
    project.write("accounts/models.py", MODEL)
    project.remove("accounts/migrations/0001_initial.py")
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    return expected


def column_type(project: Project, table: str, column: str) -> str:
    vendor = project.db.vendor
    if vendor == "postgresql":
        rows = project.db.query(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = %s",
            [table, column],
        )
    elif vendor == "mysql":
        rows = project.db.query(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            [table, column],
        )
    else:
        rows = [r[2:3] for r in project.db.query(f"PRAGMA table_info({table})") if r[1] == column]
    return str(rows[0][0]).lower()


def test_bigautofield_project_refused_then_kept_32_bit(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    vendor = project.db.vendor
    expected = big_project(project)
    refused = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert refused.code == 1, str(refused)
    cmd = "python manage.py swap_user_model --from auth.User"
    assert refused.err == (
        "CommandError: Refused: accounts.User's primary key would be a BigAutoField "
        f"({NEW_TYPE[vendor]!r}) but auth_user.id is {OLD_TYPE[vendor]!r} (auth.User's "
        f"AutoField, 32-bit): keep the 32-bit key with `{cmd} --write-model` (adds "
        "`id = models.AutoField(primary_key=True)` to accounts.User in models.py, shown as a diff "
        f"first), or widen it with `{cmd} --widen-keys` (rewrites auth_user and the 5 table(s) "
        "whose foreign keys point at it). Nothing was changed.\n"
    )
    assert project.read("accounts/models.py") == MODEL

    dry = project.manage("swap_user_model", "--from", "auth.User", "--write-model", "--dry-run")
    assert dry.code == 0, str(dry)
    model_path = str(project.path / "accounts" / "models.py")
    assert dry.out.splitlines()[:14] == [
        "Plan (swap_user_model):",
        "  1. Give accounts.User the 32-bit key of 'auth_user' in its model file (--write-model)",
        f"       --- {model_path} (before)",
        f"       +++ {model_path} (after)",
        "       @@ -1,5 +1,7 @@",
        "        from django.contrib.auth.models import AbstractUser",
        "       +from django.db import models",
        "        ",
        "        ",
        "        class User(AbstractUser):",
        '            """The project\'s user model."""',
        "       +    id = models.AutoField(primary_key=True)",
        "  2. Write the migration of 'accounts': a mirror of 'auth_user'",
        f"       in {project.path / 'accounts' / 'migrations'}",
    ], dry.out
    assert project.read("accounts/models.py") == MODEL

    run = project.manage(
        "swap_user_model",
        "--from",
        "auth.User",
        "--write-model",
        "--noinput",
        "--backup-dir",
        str(tmp_path / "backups"),
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert project.read("accounts/models.py") == (
        "from django.contrib.auth.models import AbstractUser\nfrom django.db import models\n\n\n"
        "class User(AbstractUser):\n"
        '    """The project\'s user model."""\n'
        "    id = models.AutoField(primary_key=True)\n"
    )
    assert column_type(project, "accounts_user", "id") == OLD_TYPE[vendor].lower()
    # The many-to-many tables' own ids follow the app's key type, as migrate builds them.
    assert column_type(project, "accounts_user_groups", "id") == NEW_ID[vendor]
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    assert_same_schema_as_fresh_migrate(project, tmp_path)


def test_bigautofield_project_widen_keys(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    vendor = project.db.vendor
    expected = big_project(project)
    dry = project.manage("swap_user_model", "--from", "auth.User", "--widen-keys", "--dry-run")
    assert dry.code == 0, str(dry)
    transaction = (
        ", in the swap's transaction"
        if vendor != "mysql"
        else "; MariaDB/MySQL commit each ALTER: --rollback undoes it"
    )
    note = (
        "Note: --widen-keys: SQLite stores every integer in 64 bits, so auth_user.id and the "
        "foreign keys pointing at it hold 64-bit keys already; the change migration rebuilds "
        "auth_user (4 rows) and the foreign key columns keep their declared type 'integer' (a "
        "fresh migrate declares 'bigint': the same storage).\n"
    )
    assert vendor != "sqlite" or note in dry.out, dry.out
    assert (
        vendor == "sqlite"
        or (
            f"Note: --widen-keys: auth_user.id and the foreign keys pointing at it become "
            f"{NEW_TYPE[vendor]!r}: every row of auth_user (4 rows), auth_user_groups (3 rows), "
            "auth_user_user_permissions (2 rows), django_admin_log (2 rows), "
            "profiles_profile (4 rows), shop_order (4 rows) is rewritten (19 rows, time grows "
            f"with them){transaction}.\n"
        )
        in dry.out
    ), dry.out
    run = project.manage(
        "swap_user_model",
        "--from",
        "auth.User",
        "--widen-keys",
        "--noinput",
        "--backup-dir",
        str(tmp_path / "backups"),
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert project.read("accounts/models.py") == MODEL
    for table, column in (
        ("accounts_user", "id"),
        ("shop_order", "user_id"),
        ("django_admin_log", "user_id"),
        ("accounts_user_groups", "user_id"),
        ("accounts_user_groups", "id"),
    ):
        assert column_type(project, table, column) == NEW_ID[vendor], (table, column)
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    if vendor != "sqlite":
        assert_same_schema_as_fresh_migrate(project, tmp_path)
        return
    # SQLite: the declared types of the foreign key columns differ, and nothing else.
    fresh = fresh_database(project, tmp_path)
    try:
        project.ok("migrate", "--no-input", "-v", "0", **fresh_env(project, fresh))
        built = schema(project, **fresh_env(project, fresh))
    finally:
        fresh.drop()
    swapped = schema(project)
    referencing = (
        "accounts_user_groups",
        "accounts_user_user_permissions",
        "django_admin_log",
        "profiles_profile",
        "shop_order",
    )
    for table in referencing:
        assert ["user_id", "INTEGER", False] in swapped[table]["columns"]
        swapped[table]["columns"].remove(["user_id", "INTEGER", False])
        swapped[table]["columns"].append(["user_id", "bigint", False])
        swapped[table]["columns"].sort(key=str)
    # SQLite also keeps the index names (renaming one would rebuild it).
    assert sqlite_index_names(swapped) == sqlite_index_names(built)
