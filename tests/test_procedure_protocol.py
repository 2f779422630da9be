"""The protocol every recovery command shares (authtools/management/base.py): plan, confirm,
backup, run, verify. Exercised through rebuild_contenttypes, the cheapest of the three."""

from __future__ import annotations

import json
import stat

from .conftest import Project

MISSING = "auth.change_group"


def project_missing_a_permission(project: Project) -> None:
    project.migrate()
    project.db.query("DELETE FROM auth_permission WHERE codename = %s", ["change_group"])


def permission_count(project: Project) -> int:
    return project.db.query("SELECT COUNT(*) FROM auth_permission WHERE codename = 'change_group'")[
        0
    ][0]


def test_confirmation_is_asked_and_never_assumed(project: Project) -> None:
    project_missing_a_permission(project)
    backups = project.path / ".authtools-backups"

    no_stdin = project.manage("rebuild_contenttypes")
    assert no_stdin.code == 1
    assert no_stdin.err == (
        "CommandError: No answer on standard input: nothing was changed. "
        "Pass --noinput to run without confirmation.\n"
    )
    assert no_stdin.out.startswith("Plan (rebuild_contenttypes):\n")

    cancelled = project.manage("rebuild_contenttypes", input="no\n")
    assert cancelled.code == 0  # as Django's flush: cancelling is not an error
    assert cancelled.err == ""
    assert cancelled.out.endswith(
        "Type 'yes' to continue, or 'no' to cancel: Cancelled: nothing was changed.\n"
    )
    assert permission_count(project) == 0
    assert not backups.exists()

    confirmed = project.manage("rebuild_contenttypes", "--format", "json", input="yes\n")
    assert confirmed.code == 0, str(confirmed)
    assert confirmed.err == "Type 'yes' to continue, or 'no' to cancel: "
    document = json.loads(confirmed.out)  # stdout holds the JSON document alone
    assert document["dry_run"] is False
    assert document["result"]["verified"] is True
    assert permission_count(project) == 1

    [backup] = [p for p in backups.iterdir() if p.is_dir()]
    assert str(backup) == document["result"]["backup"]
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in backup.iterdir() if f.is_file())
    assert (backups / ".gitignore").read_text().endswith("*\n")


def test_an_unwritable_backup_folder_changes_nothing(project: Project) -> None:
    project_missing_a_permission(project)
    target = project.path / "not-a-folder"
    target.write_text("a file where the backup folder should go\n")
    result = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(target))
    assert result.code == 1
    assert result.err.startswith(
        f"CommandError: cannot create a backup folder in {str(target)!r} ("
    )
    assert result.err.endswith(
        "); pass --backup-dir with a writable folder. Nothing was changed.\n"
    )
    assert len(result.err.splitlines()) == 1
    assert permission_count(project) == 0


def test_dry_run_changes_nothing_and_says_so(project: Project) -> None:
    project_missing_a_permission(project)
    result = project.manage("rebuild_contenttypes", "--dry-run")
    assert result.code == 0, str(result)
    assert result.out.startswith("Plan (rebuild_contenttypes):\n")
    assert result.out.endswith("Dry run: nothing was changed.\n")
    assert permission_count(project) == 0
    assert not (project.path / ".authtools-backups").exists()


def test_an_unreachable_database_is_one_line_for_every_recovery_command(project: Project) -> None:
    server = "postgresql database 'authtools_nowhere' on 127.0.0.1:1 as 'postgres'"
    env = {"TESTPROJECT_DB": "postgresql", "TESTPROJECT_DB_NAME": "authtools_nowhere"}
    for command in (
        ["rebuild_contenttypes", "--noinput"],
        ["reset_user_migrations", "--noinput"],
        ["swap_user_model", "--from", "auth.User", "--noinput"],
    ):
        result = project.manage(*command, TESTPROJECT_DB_PORT="1", **env)
        assert result.code == 1, str(result)
        assert result.out == ""
        assert result.err.startswith(
            f"CommandError: Cannot connect to the database 'default' ({server}): "
        ), str(result)
        assert result.err.endswith("; start it or fix DATABASES. Nothing was changed.\n")
        assert len(result.err.splitlines()) == 1
