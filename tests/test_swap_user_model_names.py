"""Table names that SQL built by string formatting would break on: a `'`, spaces, non-ASCII and
an injection attempt in Meta.db_table. The swap and its rollback run with them (identifiers
quoted with their quote characters escaped, values bound); a name holding the backend's own
identifier quote, which Django's SQL cannot take, is refused at plan time."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .conftest import Project
from .swaphelpers import (
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    before_state,
    relabelled,
    snapshot,
    verified,
    write_new_model,
)

NAME = "acc'||(select current_user)||' ü"


def with_db_table(project: Project, name: str) -> None:
    project.write(
        "accounts/models.py",
        "from django.contrib.auth.models import AbstractUser\n\n\nclass User(AbstractUser):\n"
        f"    class Meta:\n        db_table = {name!r}\n",
    )
    project.remove("accounts/migrations/0001_initial.py")
    project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")


def test_quotes_spaces_and_non_ascii_in_db_table(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    expected = snapshot(project)
    write_new_model(project)
    with_db_table(project, NAME)
    tables = project.db.tables()
    sql = project.manage("swap_user_model", "--from", "auth.User", "--sql")
    assert sql.code == 0, str(sql)
    if project.db.vendor == "postgresql":
        assert (
            "SELECT setval(pg_get_serial_sequence('\"acc''||(select current_user)||'' ü\"', "
            '\'id\'), COALESCE(MAX("id"), 1), MAX("id") IS NOT NULL) FROM '
            "\"acc'||(select current_user)||' ü\";"
        ) in sql.out.splitlines(), sql.out
    backups = tmp_path / "backups"
    run = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(backups)
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert {NAME, f"{NAME}_groups", f"{NAME}_user_permissions"} <= project.db.tables()
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    # The backup's spec holds names and inputs, no SQL.
    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    assert "setval" not in (folder / "swap-spec.json").read_text()
    assert "ALTER" not in (folder / "swap-spec.json").read_text()

    back = project.manage("swap_user_model", "--rollback", str(folder), "--noinput")
    assert back.code == 0, str(back)
    assert project.db.tables() == tables
    assert project.db.query("SELECT COUNT(*) FROM auth_user") == [(len(expected["users"]),)]


def test_a_quote_character_in_db_table_is_refused_at_plan_time(project: Project) -> None:
    before_state(project)
    write_new_model(project)
    with_db_table(project, 'acc"ounts')
    tables = project.db.tables()
    result = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert result.code == 1, str(result)
    assert result.err == (
        "CommandError: Refused: the table or column name 'acc\"ounts' of accounts.User cannot "
        "be used: it holds '\"', which Django's own SQL (migrate, the schema editor) does not "
        "escape; choose a name without it (Meta.db_table). Nothing was changed.\n"
    )
    assert project.db.tables() == tables


RENAMED_ORDER = """from django.conf import settings
from django.db import models


class Order(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "shop_purchase"
"""

MOVE_ORDER = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.AlterModelTable("order", "shop_purchase")]
"""


def constraint_names(project: Project, table: str) -> list[str]:
    return sorted(
        project.shell(
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            f"    print('\\n'.join(connection.introspection.get_constraints(c, {table!r})))\n"
        ).split()
    )


def test_names_made_under_an_earlier_table_name_are_renamed_and_verified(
    db_project: Project, tmp_path: Path
) -> None:
    """shop.Order's table was renamed by an earlier migration (AlterModelTable): its foreign
    key to the user keeps the name made under 'shop_order'. The swap renames it where the
    backend can (a fresh migrate of the same migrations names it after the new user table),
    and the verification reports any name, column or foreign key a fresh migrate would build
    differently."""
    project = db_project
    project.write("shop/models.py", RENAMED_ORDER)
    project.write("shop/migrations/0002_move.py", MOVE_ORDER)
    before_state(project)
    expected = snapshot(project)
    write_new_model(project)
    backups = tmp_path / "backups"
    run = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(backups)
    )
    assert run.code == 0, str(run)
    assert "Done; verified." in run.out
    assert snapshot(project) == relabelled(expected)
    assert_same_schema_as_fresh_migrate(project, tmp_path)
    names = constraint_names(project, "shop_purchase")
    fks = [n for n in names if "_fk_" in n]
    if project.db.vendor == "postgresql":
        assert [n for n in names if "auth_user" in n] == []
        assert len(fks) == 1 and fks[0].startswith("shop_order_user_id_"), names
        assert fks[0].endswith("_fk_accounts_user_id"), names
    elif project.db.vendor == "mysql":  # a foreign key cannot be renamed in place there
        assert fks[0].startswith("shop_order_user_id_"), names
        assert fks[0].endswith("_fk_auth_user_id"), names
        assert "MySQL cannot rename a foreign key in place" in run.out

    # The verification, given schemas a fresh migrate would not build.
    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    spec = str(folder / "swap-spec.json")
    assert verified(project, spec) == []
    project.db.query("ALTER TABLE accounts_user ADD COLUMN extra integer")
    lines = [
        "table 'accounts_user' has column(s) extra that a fresh migrate of accounts.User "
        "would not build"
    ]
    # What a fresh migrate of accounts.User builds (Django's schema editor), matched by
    # columns: a missing index or constraint, and on PostgreSQL and MySQL one under another
    # name, even a name that none of the swap's rules would recognise.
    if project.db.vendor == "postgresql":
        [like] = [n for n in constraint_names(project, "accounts_user") if n.endswith("_like")]
        project.db.query(f'DROP INDEX "{like}"')
        lines.append(
            "index on accounts_user(username) is missing (a fresh migrate of accounts.User "
            f"builds it ({like!r}))"
        )
        [group] = [
            n
            for n in constraint_names(project, "accounts_user_groups")
            if n.startswith("accounts_user_groups_group_id_") and "_fk_" not in n
        ]
        project.db.query(f'ALTER INDEX "{group}" RENAME TO "hand_named"')
        lines.append(
            f"index 'hand_named' of 'accounts_user_groups' keeps an old name (a fresh migrate "
            f"names it {group!r})"
        )
        old = fks[0].replace("_fk_accounts_user_id", "_fk_auth_user_id")
        project.db.query(f'ALTER TABLE shop_purchase RENAME CONSTRAINT "{fks[0]}" TO "{old}"')
        lines.append(
            f"constraint {old!r} of 'shop_purchase' keeps an old name (a fresh migrate names "
            f"it {fks[0]!r})"
        )
    elif project.db.vendor == "mysql":
        project.db.query("ALTER TABLE accounts_user DROP INDEX username")
        lines.append(
            "unique constraint on accounts_user(username) is missing (a fresh migrate of "
            "accounts.User builds it ('username'))"
        )
        [unique] = [n for n in constraint_names(project, "accounts_user_groups") if "_uniq" in n]
        digest = hashlib.md5(b"auth_user_groupsuser_idgroup_id").hexdigest()[:8]
        old = f"auth_user_groups_user_id_group_id_{digest}_uniq"
        project.db.query(f"ALTER TABLE accounts_user_groups RENAME INDEX {unique} TO {old}")
        lines.append(
            f"index {old!r} of 'accounts_user_groups' keeps an old name (a fresh migrate names "
            f"it {unique!r})"
        )
    else:  # SQLite's indexes keep their names: only what is missing counts
        [group] = [
            n
            for n in constraint_names(project, "accounts_user_groups")
            if n.startswith("auth_user_groups_group_id_")
        ]
        project.db.query(f'DROP INDEX "{group}"')
        digest = hashlib.md5(b"accounts_user_groupsgroup_id").hexdigest()[:8]
        lines.append(
            "index on accounts_user_groups(group_id) is missing (a fresh migrate of "
            f"accounts.User builds it ('accounts_user_groups_group_id_{digest}'))"
        )
    assert verified(project, spec) == lines
