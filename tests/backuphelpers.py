"""Helpers for the tests of backups as data: fingerprints of a project and crafted backups."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import Project, Result

SKIPPED = {"django_session"}


def dump(project: Project) -> dict[str, Any]:
    """Every row of every table (django_migrations as (app, name) pairs), read directly: users,
    password hashes, group and permission assignments, rows with foreign keys to the user."""
    db = project.db
    out: dict[str, Any] = {}
    for table in sorted(db.tables() - SKIPPED - {"django_migrations"}):
        if table.startswith("sqlite_"):
            continue
        out[table] = sorted(db.query(f"SELECT * FROM {table}"), key=repr)
    out["django_migrations"] = sorted(db.query("SELECT app, name FROM django_migrations"))
    return out


def tree(root: Path, skip: tuple[str, ...] = (".authtools-backups",)) -> dict[str, str]:
    """Path -> sha256 of every file under ROOT (bytecode and SKIP folders left out)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or "__pycache__" in rel.parts or path.suffix == ".sqlite3":
            continue
        if path.is_file() and not path.is_symlink():
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def fingerprint(project: Project, *skip: str) -> tuple[dict[str, Any], dict[str, str]]:
    return dump(project), tree(project.path, (".authtools-backups", *skip))


def only_backup(folder: Path) -> Path:
    [backup] = [p for p in folder.iterdir() if p.is_dir()]
    return backup


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_backup(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def rewrite(backup: Path, name: str, change: Callable[[Any], Any], *, digest: bool = True) -> None:
    """Change document NAME.json (or manifest.json) with CHANGE; with DIGEST, also update the
    manifest's digest, as an attacker who knows the format would."""
    path = backup / ("manifest.json" if name == "manifest" else f"{name}.json")
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data) or data))
    if digest and name != "manifest":
        manifest = json.loads((backup / "manifest.json").read_text())
        manifest["documents"][name] = sha(path)
        (backup / "manifest.json").write_text(json.dumps(manifest))


def add_file(backup: Path, rel: str, text: str, *, copy_at: str | None = None) -> None:
    """List REL in the manifest's files with a copy (at COPY_AT under files/, default REL)."""
    copy = backup / "files" / (copy_at or rel)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text)
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"][rel] = sha(copy)
    (backup / "manifest.json").write_text(json.dumps(manifest))


def assert_refused(result: Result, file: str, field: str | None = None) -> None:
    """One line, exit 1, naming the backup file (and the field)."""
    assert result.code == 1, str(result)
    assert len(result.err.splitlines()) == 1, str(result)
    assert result.err.startswith("CommandError: "), str(result)
    assert file in result.err, str(result)
    if field is not None:
        assert f"field {field!r}" in result.err, str(result)
    assert result.err.rstrip().endswith("Nothing was changed."), str(result)
    assert "Traceback" not in result.err
