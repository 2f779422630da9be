"""--rollback, --resume and --restore follow the protocol of a first run: the plan is shown,
--dry-run changes nothing, a typed "no" cancels, --format json is one document, the end state is
verified, what is left to change by hand is said, and undoing what is undone says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .backuphelpers import dump, fingerprint, only_backup
from .conftest import Project
from .swaphelpers import before_state, write_new_model

# Cancelling exits 0, as Django's flush does; the prompt and the message go to stdout.
CANCELLED = "Type 'yes' to continue, or 'no' to cancel: Cancelled: nothing was changed.\n"
BY_HAND_SETTING = (
    "AUTH_USER_MODEL still names 'accounts.User': set it back to 'auth.User' in the settings"
)
BY_HAND_APP = (
    "the app 'accounts' stays in INSTALLED_APPS and on disk (its model and migrations): "
    "remove it, or keep it for the next swap"
)


def test_swap_rollback_and_resume(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    folder = tmp_path / "backups"

    before = fingerprint(project)
    done = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(folder)
    )
    assert done.code == 0, str(done)
    backup = only_backup(folder)
    after = fingerprint(project)

    dry = project.manage("swap_user_model", "--rollback", "--dry-run", "--backup-dir", str(folder))
    assert dry.code == 0, str(dry)
    assert dry.out.startswith("Plan (swap_user_model):\n  1. Undo: "), str(dry)
    assert dry.out.endswith("Dry run: nothing was changed.\n")
    assert fingerprint(project) == after

    no = project.manage("swap_user_model", "--rollback", "--backup-dir", str(folder), input="no\n")
    assert (no.code, no.err, no.out.endswith(CANCELLED)) == (0, "", True), str(no)
    assert fingerprint(project) == after

    rolled = project.manage(
        "swap_user_model",
        "--rollback",
        "--noinput",
        "--format",
        "json",
        "--backup-dir",
        str(folder),
    )
    assert rolled.code == 0, str(rolled)
    document = json.loads(rolled.out)  # one document, nothing else on stdout
    steps = document["plan"]["steps"]
    assert steps[0]["description"] == "Undo: Record migration accounts.0001_initial as applied"
    assert steps[-1]["description"] == "Undo: Rename table 'auth_user' to 'accounts_user'"
    assert document["result"]["verified"] is True
    assert document["result"]["backup"] == str(backup)
    assert document["result"]["by_hand"] == [BY_HAND_SETTING, BY_HAND_APP]
    assert fingerprint(project) == before

    again = project.manage(
        "swap_user_model", "--rollback", "--noinput", "--backup-dir", str(folder)
    )
    assert (again.code, again.out, again.err) == (0, "Nothing to undo.\n", "")

    resumed = project.manage(
        "swap_user_model", "--resume", "--noinput", "--backup-dir", str(folder)
    )
    assert resumed.code == 0, str(resumed)
    assert f"Note: Resume the swap of backup {str(backup)!r}: 0 of {len(steps)} step(s)" in (
        resumed.out
    )
    assert "Done; verified." in resumed.out
    assert dump(project) == after[0]

    text = project.manage("swap_user_model", "--rollback", "--noinput", "--backup-dir", str(folder))
    assert text.code == 0, str(text)
    assert text.out.endswith(
        f"Backup: {backup}\n"
        f"Undid {len(steps)} step(s); verified: the database is as before the swap.\n"
        f"Still to do by hand: {BY_HAND_SETTING}\n"
        f"Still to do by hand: {BY_HAND_APP}\n"
    ), str(text)
    assert fingerprint(project) == before


def test_rebuild_contenttypes_restore(project: Project, tmp_path: Path) -> None:
    project.migrate()
    project.db.query("DELETE FROM auth_permission WHERE codename = %s", ["change_group"])
    before = dump(project)
    folder = tmp_path / "backups"
    run = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(folder))
    assert run.code == 0, str(run)
    backup = str(only_backup(folder))
    after = dump(project)

    def restore(*args: str, input: str | None = None, backup: str = backup) -> Any:
        return project.manage(
            "rebuild_contenttypes",
            "--restore",
            backup,
            *args,
            "--backup-dir",
            str(folder),
            input=input,
        )

    dry = restore("--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.out.startswith(
        "Plan (rebuild_contenttypes-restore):\n"
        f"  1. Restore the rows saved in {backup}\n"
        "       delete what the run created: 0 content types, 1 permission\n"
    ), str(dry)
    assert dry.out.endswith("Dry run: nothing was changed.\n")
    assert dump(project) == after
    no = restore(input="no\n")
    assert (no.code, no.err, no.out.endswith(CANCELLED)) == (0, "", True), str(no)
    assert dump(project) == after
    restored = restore("--noinput", "--format", "json")
    assert restored.code == 0, str(restored)
    assert json.loads(restored.out)["result"]["verified"] is True
    assert dump(project) == before
    again = restore("--noinput")
    assert (again.code, again.out) == (
        0,
        "Nothing to undo: the rows of this backup are in place.\n",
    ), str(again)

    # The restore took a backup of its own: restoring it undoes the restore, through the same
    # protocol, and once undone there is nothing to undo.
    undo = json.loads(restored.out)["result"]["backup"]
    assert Path(undo).name.startswith("rebuild_contenttypes-restore-"), undo
    dry = restore("--dry-run", backup=undo)
    assert dry.out.startswith(
        "Plan (rebuild_contenttypes-restore):\n"
        f"  1. Restore the rows saved in {undo}\n"
        "       auth_permission: 1 row for id in 1 value\n"
    ), str(dry)
    assert dry.out.endswith("Dry run: nothing was changed.\n"), str(dry)
    assert dump(project) == before
    undone = restore("--noinput", "--format", "json", backup=undo)
    assert undone.code == 0, str(undone)
    assert json.loads(undone.out)["result"]["verified"] is True
    assert dump(project) == after
    again = restore("--noinput", backup=undo)
    assert (again.code, again.out) == (
        0,
        "Nothing to undo: the rows of this backup are in place.\n",
    ), str(again)


def test_reset_restore(project: Project, tmp_path: Path) -> None:
    project.migrate()
    project.remove("accounts/migrations/0001_initial.py")
    before = fingerprint(project)
    folder = tmp_path / "backups"
    run = project.manage("reset_user_migrations", "--noinput", "--backup-dir", str(folder))
    assert run.code == 0, str(run)
    backup = str(only_backup(folder))
    after = fingerprint(project)

    def restore(*args: str, input: str | None = None) -> object:
        return project.manage(
            "reset_user_migrations",
            "--restore",
            backup,
            *args,
            "--backup-dir",
            str(folder),
            input=input,
        )

    dry = restore("--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.out.startswith("Plan (reset_user_migrations):\n  1. Replace the migration files")
    assert dry.out.endswith("Dry run: nothing was changed.\n")
    assert fingerprint(project) == after
    no = restore(input="no\n")
    assert (no.code, no.err, no.out.endswith(CANCELLED)) == (0, "", True), str(no)
    assert fingerprint(project) == after
    restored = restore("--noinput", "--format", "json")
    assert restored.code == 0, str(restored)
    assert json.loads(restored.out)["result"]["verified"] is True
    assert fingerprint(project) == before
    again = restore("--noinput")
    assert (again.code, again.out) == (
        0,
        "Nothing to undo: the files and rows of this backup are in place.\n",
    ), str(again)
