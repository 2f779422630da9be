"""Table names that SQL built by string formatting would break on: a `'`, spaces, non-ASCII and
an injection attempt in Meta.db_table. The swap and its rollback run with them (identifiers
quoted with their quote characters escaped, values bound); a name holding the backend's own
identifier quote, which Django's SQL cannot take, is refused at plan time."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import assert_clean, before_state, relabelled, snapshot, write_new_model

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
