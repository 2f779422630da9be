"""Private, timestamped backup folders (0700 / 0600: they may hold password hashes)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


class BackupError(Exception):
    pass


class Backup:
    """A backup folder: JSON documents and copies of files, listed in manifest.json."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, root: Path, procedure: str) -> Backup:
        """Make ROOT/PROCEDURE-YYYYmmddTHHMMSSZ (mode 0700), after checking ROOT is writable."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = root / f"{procedure}-{stamp}"
            path.mkdir(mode=0o700)
        except OSError as exc:
            raise BackupError(
                f"cannot create a backup folder in {str(root)!r} ({exc.strerror}); "
                "pass --backup-dir with a writable folder"
            ) from exc
        os.chmod(path, 0o700)
        ignore = root / ".gitignore"
        if not ignore.exists():
            with contextlib.suppress(OSError):
                ignore.write_text(
                    "# authtools backups hold password hashes: never commit them.\n*\n"
                )
        backup = cls(path)
        backup._write_manifest(
            {"procedure": procedure, "created": stamp, "files": [], "documents": []}
        )
        return backup

    @classmethod
    def open(cls, path: Path) -> Backup:
        if not (path / MANIFEST).is_file():
            raise BackupError(f"{str(path)!r} is not an authtools backup (no {MANIFEST})")
        return cls(path)

    # --- manifest ---------------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / MANIFEST).read_text())
        return data

    def _write_manifest(self, data: dict[str, Any]) -> None:
        self._write(self.path / MANIFEST, json.dumps(data, indent=2, default=str))

    def _write(self, target: Path, text: str) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(target, 0o600)

    # --- documents --------------------------------------------------------------------------
    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / f"{name}.json"
        self._write(target, json.dumps(data, indent=2, default=str))
        manifest = self.manifest
        if name not in manifest["documents"]:
            manifest["documents"].append(name)
        self._write_manifest(manifest)
        return target

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / f"{name}.json").read_text())

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.json").is_file()

    # --- files ------------------------------------------------------------------------------
    def save_file(self, source: Path, root: Path) -> None:
        """Copy SOURCE (a file under ROOT) into the backup, remembering where it came from."""
        rel = source.resolve().relative_to(root.resolve())
        target = self.path / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(source, target)
        os.chmod(target, 0o600)
        manifest = self.manifest
        manifest.setdefault("root", str(root.resolve()))
        manifest["files"].append(str(rel))
        self._write_manifest(manifest)

    def saved_files(self) -> list[tuple[Path, Path]]:
        """(backup copy, original location) for every saved file."""
        manifest = self.manifest
        root = Path(manifest.get("root", "."))
        return [(self.path / "files" / rel, root / rel) for rel in manifest["files"]]
