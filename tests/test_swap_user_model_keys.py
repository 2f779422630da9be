"""swap_user_model on a project created under BigAutoField (DEFAULT_AUTO_FIELD or the app's
default_auto_field): the new key would be 64-bit while auth_user.id is 32-bit. Refused with the
two commands that work; --write-model keeps the 32-bit key, --widen-keys widens it."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    add_app,
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    before_state,
    fresh_schema,
    relabelled,
    schema,
    snapshot,
    sqlite_index_names,
    write_new_model,
)
from .test_swap_user_model_names import MOVE_ORDER, RENAMED_ORDER

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
# An app whose label sorts before 'accounts' (so a fresh migrate runs its migrations before
# accounts' change migration), whose table was renamed by its second migration.
ABOOK = {
    "abook/__init__.py": "",
    "abook/models.py": (
        "from django.conf import settings\nfrom django.db import models\n\n\n"
        "class Note(models.Model):\n"
        "    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)\n\n"
        "    class Meta:\n        db_table = 'abook_note'\n"
    ),
    "abook/migrations/__init__.py": "",
    "abook/migrations/0001_initial.py": (
        "from django.conf import settings\nfrom django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n"
        "    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]\n"
        "    operations = [\n"
        "        migrations.CreateModel('Note', [\n"
        "            ('id', models.BigAutoField(auto_created=True, primary_key=True, "
        "serialize=False, verbose_name='ID')),\n"
        "            ('user', models.ForeignKey(on_delete=models.CASCADE, "
        "to=settings.AUTH_USER_MODEL)),\n"
        "        ]),\n"
        "    ]\n"
    ),
    "abook/migrations/0002_move.py": (
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('abook', '0001_initial')]\n"
        "    operations = [migrations.AlterModelTable('note', 'abook_note')]\n"
    ),
}
# The tables whose user_id points at the user table.
REFERENCING = (
    "accounts_user_groups",
    "accounts_user_user_permissions",
    "django_admin_log",
    "profiles_profile",
    "shop_order",
)
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


def assert_widened_schema_as_fresh_migrate(
    project: Project, tmp_path: Path, referencing: tuple[str, ...] = REFERENCING
) -> None:
    """The schema after a --widen-keys swap is what a fresh migrate builds (SQLite: but for the
    declared type of the user_id columns of REFERENCING, and the index names it keeps)."""
    if project.db.vendor != "sqlite":
        assert_same_schema_as_fresh_migrate(project, tmp_path)
        return
    built = fresh_schema(project, tmp_path)
    swapped = schema(project)
    for table in referencing:
        assert ["user_id", "INTEGER", False] in swapped[table]["columns"], table
        swapped[table]["columns"].remove(["user_id", "INTEGER", False])
        swapped[table]["columns"].append(["user_id", "bigint", False])
        swapped[table]["columns"].sort(key=str)
    # SQLite also keeps the index names (renaming one would rebuild it).
    assert sqlite_index_names(swapped) == sqlite_index_names(built)


def test_bigautofield_project_refused_then_kept_32_bit(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    vendor = project.db.vendor
    expected = big_project(project)
    refused = project.manage("swap_user_model", "--from", "auth.User", "--noinput")
    assert refused.code == 1, str(refused)
    cmd = "python manage.py swap_user_model --from auth.User"
    write_model = (
        f"`{cmd} --write-model` (adds `id = models.AutoField(primary_key=True)` to accounts.User "
        "in models.py, shown as a diff first)"
    )
    if vendor == "sqlite":  # one storage for both: the message does not speak of bits
        assert refused.err == (
            "CommandError: Refused: accounts.User's primary key would be a BigAutoField but "
            "auth_user.id is auth.User's AutoField (SQLite stores both in 64 bits; the models "
            f"and migrations differ): keep the AutoField key with {write_model}, or widen it "
            f"with `{cmd} --widen-keys` (rebuilds auth_user; the foreign keys pointing at it "
            "stay as they are). Nothing was changed.\n"
        )
    else:
        assert refused.err == (
            "CommandError: Refused: accounts.User's primary key would be a BigAutoField "
            f"({NEW_TYPE[vendor]!r}) but auth_user.id is {OLD_TYPE[vendor]!r} (auth.User's "
            f"AutoField, 32-bit): keep the 32-bit key with {write_model}, or widen it with "
            f"`{cmd} --widen-keys` (rewrites auth_user and the 5 table(s) whose foreign keys "
            "point at it). Nothing was changed.\n"
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
    assert_widened_schema_as_fresh_migrate(project, tmp_path)


def test_widen_keys_with_tables_renamed_by_earlier_migrations(
    db_project: Project, tmp_path: Path
) -> None:
    """Two referencing tables renamed by earlier migrations (AlterModelTable): shop's, whose
    migrations a fresh migrate runs after accounts' change migration (its key keeps the name
    made under 'shop_order'), and abook's, whose migrations run before it (the change re-creates
    its key under 'abook_note'). The widened route ends with the names a fresh migrate builds."""
    project = db_project
    project.write("shop/models.py", RENAMED_ORDER)
    project.write("shop/migrations/0002_move.py", MOVE_ORDER)
    for rel, text in ABOOK.items():
        project.write(rel, text)
    add_app(project, "abook", before="shop")
    expected = big_project(project)
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
    if project.db.vendor == "postgresql":
        lines = run.out.splitlines()
        title = ". Rename the 3 foreign keys the key change re-created, as migrate names them"
        at = next(i for i, line in enumerate(lines) if line.endswith(title))
        assert lines[at + 1 : at + 4] == [
            '       SQL: ALTER TABLE "django_admin_log" RENAME CONSTRAINT '
            '"django_admin_log_user_id_c564eba6_fk" TO '
            '"django_admin_log_user_id_c564eba6_fk_accounts_user_id"',
            '       SQL: ALTER TABLE "profiles_profile" RENAME CONSTRAINT '
            '"profiles_profile_user_id_a3e81f91_fk" TO '
            '"profiles_profile_user_id_a3e81f91_fk_accounts_user_id"',
            '       SQL: ALTER TABLE "shop_purchase" RENAME CONSTRAINT '
            '"shop_purchase_user_id_8b481109_fk" TO '
            '"shop_order_user_id_00aba627_fk_accounts_user_id"',
        ], run.out
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    assert_widened_schema_as_fresh_migrate(
        project, tmp_path, (*REFERENCING[:-1], "shop_purchase", "abook_note")
    )
