"""swap_user_model --phase 1|2 on SQLite, PostgreSQL and MariaDB: phase 1 moves the project to
accounts.User kept on auth.User's tables (Meta.db_table), phase 2 (once Meta.db_table is gone)
renames the tables and applies the model's other change (a new field with a default)."""

from __future__ import annotations

from pathlib import Path

from .conftest import TESTPROJECT, Project
from .swaphelpers import (
    assert_clean,
    assert_same_schema_as_fresh_migrate,
    before_state,
    login,
    relabelled,
    snapshot,
)

MODEL = (TESTPROJECT / "accounts" / "models.py").read_text()
PHASE_1 = MODEL + '\n    class Meta:\n        db_table = "auth_user"\n'
PHASE_2 = (
    MODEL.replace(
        "from django.contrib.auth.models import AbstractUser\n",
        "from django.contrib.auth.models import AbstractUser\nfrom django.db import models\n",
    )
    + '\n    nickname = models.CharField(max_length=50, default="member")\n'
)


def test_swap_in_two_phases(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    expected = snapshot(project)
    tables_before = project.db.tables()

    # Phase 1: the new model on the old tables; only metadata changes.
    project.write("accounts/models.py", MODEL)
    project.write("accounts/admin.py", (TESTPROJECT / "accounts" / "admin.py").read_text())
    project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    refused = project.manage("swap_user_model", "--from", "auth.User", "--phase", "1")
    assert refused.code == 1
    assert refused.err == (
        "CommandError: Refused: in phase 1 accounts.User keeps auth.User's tables: add `class "
        "Meta: db_table = 'auth_user'` to it (its many-to-many tables follow), then run phase 1 "
        "again. Nothing was changed.\n"
    )
    project.write("accounts/models.py", PHASE_1)
    phase1 = project.manage("swap_user_model", "--from", "auth.User", "--phase", "1", "--noinput")
    assert phase1.code == 0, str(phase1)
    steps = [line for line in phase1.out.splitlines() if line[:5].strip()[:-1].isdigit()]
    assert [s.split(". ", 1)[1] for s in steps] == [
        "Write the migration of 'accounts': a mirror of 'auth_user'",
        "Relabel content type 'auth.user' as 'accounts.user'",
        "Record migration accounts.0001_initial as applied",
    ], phase1.out
    assert "Done; verified." in phase1.out
    assert project.db.tables() == tables_before
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    assert login(project, "alice", "alice-pass-1") == str(expected["users"][0][0])

    # Phase 2: Meta.db_table removed and a field added; the swap renames and applies.
    project.write("accounts/models.py", PHASE_2)
    phase2 = project.manage("swap_user_model", "--phase", "2", "--noinput")
    assert phase2.code == 0, str(phase2)
    lines = phase2.out.splitlines()
    assert lines[1] == (
        "  1. Write the migrations of 'accounts': the move to 'accounts_user', then the change"
    )
    assert lines[2:4] == [
        f"       in {project.path / 'accounts' / 'migrations'}",
        "       write 0002_alter_user_table.py",
    ]
    # (Meta without AbstractUser.Meta lost verbose_name in phase 1: it comes back now.)
    assert lines[4] == "       write 0003_alter_user_options_user_nickname.py"
    assert lines[5] == (
        "  2. Apply migrations accounts.0002_alter_user_table, "
        "accounts.0003_alter_user_options_user_nickname"
    )
    assert lines[6:9] == [
        "       - Rename table for user to (default)",
        "       - Change Meta options on user",
        "       - Add field nickname to user",
    ]
    assert "Done; verified." in phase2.out
    tables = project.db.tables()
    assert {"accounts_user", "accounts_user_groups", "accounts_user_user_permissions"} <= tables
    assert not {"auth_user", "auth_user_groups", "auth_user_user_permissions"} & tables
    assert snapshot(project) == relabelled(expected)
    assert_clean(project)
    assert login(project, "dave", "dave-pass-5") == str(expected["users"][-1][0])
    assert_same_schema_as_fresh_migrate(project, tmp_path)

    again = project.manage("swap_user_model", "--phase", "2", "--noinput")
    assert again.code == 1
    assert again.err.startswith("CommandError: Refused: accounts.User is on 'accounts_user'")
