"""A swap backup's spec names tables, columns, indexes, constraints and sequences: each must
exist in the live catalog and belong to the swap (the user table, its many-to-many tables, the
tables with foreign keys to it). A crafted spec naming any other object in any field is refused
in one line naming the file and the field, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backuphelpers import assert_refused, copy_backup, fingerprint, only_backup, rewrite
from .conftest import Project
from .swaphelpers import before_state, write_new_model

Change = Callable[[dict[str, Any]], Any]

# What --rollback and --resume do first with a backup, for each crafted one: its refusal.
LOAD = """
import json, os
from pathlib import Path
from authtools.procedures.backup import BackupError
from authtools.procedures.swap.run import open_backup
from authtools.procedures.swap.spec import load_spec
for path in json.loads(os.environ["CRAFTED"]):
    try:
        load_spec(open_backup(Path(path), "default"), "default")
        print("accepted", path)
    except BackupError as exc:
        print(exc)
"""


def step_of(data: dict[str, Any], kind: str) -> tuple[int, dict[str, Any]]:
    return next((i, s) for i, s in enumerate(data["steps"]) if s["kind"] == kind)


def table_step(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return next(
        (i, s)
        for i, s in enumerate(data["steps"])
        if s["kind"] == "renames" and s["renames"][0]["kind"] == "table"
    )


def add_rename(kind: str, table: str, old: str, field: str) -> tuple[Change, str]:
    """A rename of KIND appended to the first table rename step: refused naming FIELD."""

    def change(data: dict[str, Any]) -> None:
        _, step = table_step(data)
        step["renames"].append(
            {"kind": kind, "table": table, "old": old, "new": "x", "columns": [], "unique": False}
        )

    return change, field


def crafts(vendor: str, data: dict[str, Any]) -> dict[str, tuple[Change, str]]:
    """Name -> (change of the spec, the field the refusal names)."""
    t, _ = table_step(data)
    c, _ = step_of(data, "contenttypes")
    m, _ = step_of(data, "migrations")
    out: dict[str, tuple[Change, str]] = {
        "old_table": (lambda d: d.update(old_table="auth_group"), "old_table"),
        "new_table": (lambda d: d.update(new_table="auth_group"), "new_table"),
        "renamed_tables": (
            lambda d: d["renamed_tables"].update(auth_group="accounts_group"),
            "renamed_tables.auth_group",
        ),
        "referencing": (
            lambda d: d["referencing"].__setitem__(0, ["auth_group_permissions", "group_id"]),
            "referencing[0]",
        ),
        "pk_column": (lambda d: d.update(pk_column="name"), "pk_column"),
        "dropped_columns": (lambda d: d.update(dropped_columns=["codename"]), "dropped_columns[0]"),
        "widen_rows": (lambda d: d.update(widen_rows={"auth_group": 1}), "widen_rows.auth_group"),
        "widen_ids": (
            lambda d: d.update(
                widen_ids=[
                    {"table": "auth_group", "column": "id", "from": "AutoField", "to": "AutoField"}
                ]
            ),
            "widen_ids[0].table",
        ),
        "rename-table": (
            lambda d: d["steps"][t]["renames"][0].update(table="auth_group"),
            f"steps[{t}].renames[0].table",
        ),
        "rename-column": add_rename("column", "auth_group", "name", f"steps[{t}].renames[1].table"),
        "rename-index": add_rename(
            "index",
            "accounts_user",
            "django_session_expire_date_a5c62663",
            f"steps[{t}].renames[1].old",
        ),
        "contenttype-label": (
            lambda d: d["steps"][c]["data"].update(old="auth.group"),
            f"steps[{c}].data.old",
        ),
        "migrations": (lambda d: d.update(migrations=[["auth", "0001_initial"]]), "migrations"),
        "migrations-step": (
            lambda d: d["steps"][m]["data"].update(migrations=[["auth", "0001_initial"]]),
            f"steps[{m}].data",
        ),
    }
    if vendor == "postgresql":
        s, _ = step_of(data, "sequence")
        out["rename-sequence"] = add_rename(
            "sequence", "accounts_user", "auth_group_id_seq", f"steps[{t}].renames[1].old"
        )
        out["sequence-table"] = (
            lambda d: d["steps"][s]["data"].update(table="auth_group"),
            f"steps[{s}].data.table",
        )
        out["sequence-column"] = (
            lambda d: d["steps"][s]["data"].update(column="nosuch"),
            f"steps[{s}].data.column",
        )
    return out


def test_specs_naming_foreign_objects_are_refused(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    before_state(project)
    write_new_model(project)
    folder = tmp_path / "backups"
    done = project.manage(
        "swap_user_model", "--from", "auth.User", "--noinput", "--backup-dir", str(folder)
    )
    assert done.code == 0, str(done)
    valid = only_backup(folder)
    data = json.loads((valid / "swap-spec.json").read_text())
    before = fingerprint(project)
    # Every craft through the loader of --rollback and --resume, in one process ...
    crafted = {}
    for name, (change, field) in crafts(project.db.vendor, data).items():
        backup = copy_backup(valid, tmp_path / "crafted" / name)
        rewrite(backup, "swap-spec", change)
        crafted[str(backup)] = field
    lines = project.ok("shell", "-v", "0", "-c", LOAD, CRAFTED=json.dumps(list(crafted))).out
    for (path, field), line in zip(crafted.items(), lines.splitlines(), strict=True):
        assert line == line.strip() and line.startswith(
            f"Backup file {path + '/swap-spec.json'!r}: "
        ), line
        assert f"field {field!r} " in line, (field, line)
    # ... and through the command: one line, exit 1, nothing changed.
    result = project.manage("swap_user_model", "--rollback", next(iter(crafted)), "--noinput")
    assert_refused(result, "swap-spec", crafted[next(iter(crafted))])
    backup = copy_backup(valid, tmp_path / "crafted" / "resume")
    rewrite(backup, "swap-spec", lambda d: d["renamed_tables"].update(auth_group="x"))
    result = project.manage("swap_user_model", "--resume", str(backup), "--noinput")
    assert_refused(result, "swap-spec", "renamed_tables.auth_group")
    assert fingerprint(project) == before
    # The untouched spec still rolls back.
    rolled = project.manage("swap_user_model", "--rollback", str(valid), "--noinput")
    assert rolled.code == 0, str(rolled)
    assert "auth_user" in project.db.tables()
