"""The protocol every recovery command shares (authtools/management/base.py): plan, confirm,
backup, run, verify. Exercised through rebuild_contenttypes, the cheapest of the three."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

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


def test_the_backup_root(project: Project, tmp_path: Path) -> None:
    """The project root is refused; an existing folder gets no .gitignore and is tightened to
    0700 when others may write to it; a symlink is resolved and shown in the plan; modes are
    0700 / 0600 whatever the umask."""
    project_missing_a_permission(project)
    for given in ("", "."):
        refused = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", given)
        assert refused.code == 1, str(refused)
        assert refused.err == (
            "CommandError: --backup-dir must name a folder of its own, not the current folder: "
            "pass e.g. --backup-dir .authtools-backups. Nothing was changed.\n"
        )
    root = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(project.path))
    assert root.code == 1 and len(root.err.splitlines()) == 1, str(root)
    assert not (project.path / ".gitignore").exists()
    assert permission_count(project) == 0

    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)
    link = tmp_path / "link"
    link.symlink_to(loose)
    run = project.run(
        "-c",
        "import os, runpy, sys; os.umask(0); "
        "sys.argv = ['manage.py', 'rebuild_contenttypes', '--noinput', '--backup-dir', "
        f"{str(link)!r}]; "
        "runpy.run_path('manage.py', run_name='__main__')",
    )
    assert run.code == 0, str(run)
    assert (
        f"  Note: Backup folder {str(link)!r} is {str(loose)!r} (symlinks resolved).\n" in run.out
    )
    assert (
        f"  Note: Backup folder {str(loose)!r} is writable by others (777): it is set to 0700 "
        "first.\n" in run.out
    )
    assert f"Backup folder {str(loose)!r}: mode 777 set to 700.\n" in run.out
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert not (loose / ".gitignore").exists()
    [backup] = list(loose.iterdir())
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in backup.iterdir()}
    assert modes == {"manifest.json": 0o600, "contenttypes.json": 0o600, "journal.json": 0o600}
    assert permission_count(project) == 1
