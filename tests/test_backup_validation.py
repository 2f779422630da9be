"""Backups are data, never code: crafted backup folders given to --rollback, --resume and
--restore are refused in one line naming the file and the field, and nothing changes (every row
of every table, and every file of the project, compared before and after)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backuphelpers import (
    add_file,
    assert_refused,
    copy_backup,
    fingerprint,
    only_backup,
    rewrite,
)
from .conftest import Project
from .swaphelpers import before_state, write_new_model

Craft = Callable[[Path], None]


def manifest_field(key: str, value: Any) -> Craft:
    def craft(backup: Path) -> None:
        def change(data: dict[str, Any]) -> None:
            target = data
            *parents, last = key.split(".")
            for parent in parents:
                target = target[parent]
            target[last] = value

        rewrite(backup, "manifest", change)

    return craft


def check_crafts(
    project: Project,
    valid: Path,
    command: list[str],
    crafts: dict[str, tuple[Craft, str, str | None]],
    tmp_path: Path,
) -> None:
    """Each craft applied to a copy of VALID: COMMAND + [copy] refused naming (file, field), and
    nothing changed. The commands run one after another in one Django start
    (Project.manage_each), each with its own output and exit status; the rows and files are
    compared once, after the last (a refused command changes nothing, so a change by any of them
    is still there at the end)."""
    before = fingerprint(project)
    backups = {}
    for name, (craft, _, _) in crafts.items():
        backups[name] = copy_backup(valid, tmp_path / "crafted" / name)
        craft(backups[name])
    results = project.manage_each(*([*command, str(b), "--noinput"] for b in backups.values()))
    for (_, file, field), result in zip(crafts.values(), results, strict=True):
        assert_refused(result, file, field)  # the error names the backup: crafted/NAME
    assert fingerprint(project) == before


def swap_crafts(project: Project, outside: Path) -> dict[str, tuple[Craft, str, str | None]]:
    def spec(change: Callable[[dict[str, Any]], Any]) -> Craft:
        return lambda backup: rewrite(backup, "swap-spec", change)

    def step_sql(data: dict[str, Any]) -> None:
        data["steps"][0]["sql"] = ["DROP TABLE auth_group"]

    def foreign_table(data: dict[str, Any]) -> None:
        data["steps"][0]["renames"][0].update(table="auth_group", old="auth_group", new="x")

    def write_outside(path: str) -> Callable[[dict[str, Any]], None]:
        def change(data: dict[str, Any]) -> None:
            data["files"][path] = "import os\n"

        return change

    def truncate(backup: Path) -> None:
        text = (backup / "swap-spec.json").read_text()
        (backup / "swap-spec.json").write_text(text[: len(text) // 2])

    link = project.path / "accounts" / "migrations" / "linked"
    link.symlink_to(outside)
    return {
        "sql-field": (spec(lambda d: d.update(sql=["DROP TABLE auth_group"])), "swap-spec", "sql"),
        "sql-in-step": (spec(step_sql), "swap-spec", "steps[0].sql"),
        "foreign-table": (spec(foreign_table), "swap-spec", "steps[0].renames[0].old"),
        "absolute-path": (spec(write_outside(str(outside / "evil.py"))), "swap-spec", "files"),
        "dotdot-path": (spec(write_outside("../../evil.py")), "swap-spec", "files"),
        "symlink-escape": (spec(write_outside(str(link / "evil.py"))), "swap-spec", "files"),
        "wrong-shape": (spec(lambda d: d.update(steps={})), "swap-spec", "steps"),
        "unknown-step": (spec(lambda d: d["steps"][0].update(kind="shell")), "swap-spec", None),
        "truncated": (truncate, "swap-spec.json", None),
        "garbled-manifest": (
            lambda b: (b / "manifest.json").write_text("{garbled"),
            "manifest.json",
            None,
        ),
        "missing-spec": (
            lambda b: (b / "swap-spec.json").unlink(),
            "manifest.json",
            "documents.swap-spec",
        ),
        "other-procedure": (
            manifest_field("procedure", "rebuild_contenttypes"),
            "manifest.json",
            "procedure",
        ),
        "other-database": (
            manifest_field("database.name", "elsewhere"),
            "manifest.json",
            "database.name",
        ),
        "other-project": (
            manifest_field("project_root", str(outside)),
            "manifest.json",
            "project_root",
        ),
    }


def test_crafted_swap_backups_are_refused(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    folder = tmp_path / "backups"
    done = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(folder)
    )
    assert done.code == 0, str(done)
    valid = only_backup(folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    crafts = swap_crafts(project, outside)
    check_crafts(project, valid, ["swap_user_model", "--rollback"], crafts, tmp_path)
    # The same loader serves --resume.
    resume = copy_backup(valid, tmp_path / "crafted-resume")
    rewrite(resume, "swap-spec", lambda d: d.update(sql=["DROP TABLE auth_group"]))
    before = fingerprint(project)
    result = project.manage("swap_user_model", "--resume", str(resume), "--noinput")
    assert_refused(result, "swap-spec", "sql")
    assert fingerprint(project) == before
    assert list(outside.iterdir()) == []

    # A garbled journal is no reason to refuse: the done steps are read from the database.
    (valid / "journal.json").write_text('["rename-tab')
    rolled = project.manage("swap_user_model", "--rollback", str(valid), "--noinput")
    assert rolled.code == 0, str(rolled)
    assert "read from the database (the journal is missing or unreadable)." in rolled.out
    assert project.db.query("SELECT COUNT(*) FROM auth_user")[0][0] > 0


def test_crafted_contenttypes_backups_are_refused(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    project.migrate()
    project.ok(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('bob', password='bob-pass-1')",
    )
    project.db.query("DELETE FROM auth_permission WHERE codename = %s", ["change_group"])
    folder = tmp_path / "backups"
    run = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(folder))
    assert run.code == 0, str(run)
    valid = only_backup(folder)
    [(bob,)] = project.db.query("SELECT id FROM accounts_user WHERE username = 'bob'")

    def section(change: Callable[[dict[str, Any]], Any]) -> Craft:
        return lambda backup: rewrite(backup, "contenttypes", change)

    def superuser(data: dict[str, Any]) -> None:
        data["sections"].append(
            {
                "table": "accounts_user",
                "pk": "id",
                "columns": ["id", "is_superuser", "password"],
                "scope_column": "id",
                "scope": [bob],
                "rows": [[bob, True, "pbkdf2_sha256$1$x$y"]],
            }
        )

    def foreign_column(data: dict[str, Any]) -> None:
        data["sections"][0]["columns"] = ["id", "app_label", "model", "name"]

    def short_row(data: dict[str, Any]) -> None:
        data["sections"][0]["rows"] = [[1]]

    number = len(json.loads((valid / "contenttypes.json").read_text())["sections"])
    crafts: dict[str, tuple[Craft, str, str | None]] = {
        "user-table": (section(superuser), "contenttypes.json", f"sections[{number}].table"),
        "foreign-column": (section(foreign_column), "contenttypes.json", "sections[0].columns"),
        "short-row": (section(short_row), "contenttypes.json", "sections[0].rows[0]"),
        "wrong-shape": (section(lambda d: d.update(sections="x")), "contenttypes", "sections"),
        "unknown-key": (section(lambda d: d.update(sql="DELETE")), "contenttypes", "sql"),
        "truncated": (
            lambda b: (b / "contenttypes.json").write_text("{"),
            "contenttypes.json",
            None,
        ),
        "other-procedure": (
            manifest_field("procedure", "swap_user_model"),
            "manifest.json",
            "procedure",
        ),
        "other-database": (
            manifest_field("database.alias", "other"),
            "manifest.json",
            "database.alias",
        ),
    }
    check_crafts(project, valid, ["rebuild_contenttypes", "--restore"], crafts, tmp_path)


def test_crafted_reset_backups_are_refused(project: Project, tmp_path: Path) -> None:
    project.migrate()
    project.remove("accounts/migrations/0001_initial.py")
    folder = tmp_path / "backups"
    run = project.manage("reset_user_migrations", "--noinput", "--backup-dir", str(folder))
    assert run.code == 0, str(run)
    valid = only_backup(folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text("precious = True\n")
    os.symlink(outside, project.path / "accounts" / "migrations" / "linked")

    def document(change: Callable[[dict[str, Any]], Any]) -> Craft:
        return lambda backup: rewrite(backup, "reset", change)

    def rows(data: dict[str, Any]) -> None:
        data["rows"] = [{"id": 1, "name": "x'); DROP TABLE auth_user; --", "applied": "2024-01-01"}]

    crafts: dict[str, tuple[Craft, str, str | None]] = {
        "dotdot": (
            lambda b: add_file(b, "../evil.py", "x = 1\n", copy_at="evil.py"),
            "manifest.json",
            "files.../evil.py",
        ),
        "absolute": (
            lambda b: add_file(b, str(outside / "victim.py"), "x = 1\n", copy_at="victim.py"),
            "manifest.json",
            f"files.{outside / 'victim.py'}",
        ),
        "symlink-escape": (
            lambda b: add_file(b, "accounts/migrations/linked/victim.py", "x = 1\n"),
            "manifest.json",
            "files.accounts/migrations/linked/victim.py",
        ),
        "not-a-migration": (
            lambda b: add_file(b, "testproject/settings.py", "SECRET_KEY = 'x'\n"),
            "manifest.json",
            "files.testproject/settings.py",
        ),
        "migrations-folder": (
            document(lambda d: d.update(migrations_folder="../..")),
            "reset.json",
            "migrations_folder",
        ),
        "sql-in-a-name": (document(rows), "reset.json", "rows[0].name"),
        "wrong-shape": (document(lambda d: d.update(rows={})), "reset.json", "rows"),
        "other-project": (
            manifest_field("project_root", str(outside)),
            "manifest.json",
            "project_root",
        ),
        "other-procedure": (
            manifest_field("procedure", "swap_user_model"),
            "manifest.json",
            "procedure",
        ),
    }
    check_crafts(project, valid, ["reset_user_migrations", "--restore"], crafts, tmp_path)
    assert (outside / "victim.py").read_text() == "precious = True\n"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.py"]
