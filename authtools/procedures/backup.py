"""Private, timestamped backup folders: data, never code.

Every document is written atomically (a temporary file in the same folder, flushed and
fsynced, renamed over the target, then the folder fsynced), with explicit modes whatever the
umask: folders 0700, files 0600 (they may hold password hashes). ``manifest.json`` records the
procedure, the authtools version, the database (alias, vendor, NAME), the project root and a
sha256 digest of every document and saved file; ``Backup.open`` checks all of it before a
backup is used, so a truncated, garbled, tampered, foreign or misplaced backup is refused in
one line naming the file and the field. The journal alone is not digested (it is rewritten
after every step): it is checked by shape, and a journal that fails is treated as missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from authtools.procedures.schema import Keys, ShapeError, check

FORMAT = 1
MANIFEST = "manifest.json"
JOURNAL = "journal"
FILES = "files"
DIR_MODE = 0o700
FILE_MODE = 0o600
SOURCE_MODE = 0o644  # generated source files (migrations): readable like the rest of the code
UNLISTED = frozenset({JOURNAL})  # rewritten after every step: checked by shape, not by digest
IGNORE_TEXT = "# authtools backups hold password hashes: never commit them.\n*\n"

MANIFEST_SCHEMA = Keys(
    {
        "format": int,
        "procedure": str,
        "authtools_version": str,
        "created": str,
        "database": Keys({"alias": str, "vendor": str, "name": str}),
        "project_root": str,
        "documents": dict[str, str],  # name -> sha256 of NAME.json
        "files": dict[str, str],  # path relative to the project root -> sha256 of the copy
    }
)


class BackupError(Exception):
    pass


def invalid(file: Path, field: str, problem: str) -> BackupError:
    """The one-line refusal of a backup: the file, the field, what is wrong with it."""
    where = f"field {field!r} " if field else ""
    return BackupError(f"Backup file {str(file)!r}: {where}{problem}")


# --- atomic writes --------------------------------------------------------------------------
def fsync_dir(folder: Path) -> None:
    """Make a rename in FOLDER durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, data: str | bytes, mode: int = FILE_MODE) -> None:
    """Write DATA to TARGET so that a crash leaves either the old or the new content, never a
    truncated file: temporary file beside it, fsync, rename over TARGET, fsync the folder.
    MODE is set explicitly (the umask plays no part)."""
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def make_private_dir(path: Path) -> None:
    """Create PATH (and missing parents) with mode 0700, whatever the umask."""
    missing = []
    for parent in [path, *path.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)
        fsync_dir(folder.parent)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- where backups go -----------------------------------------------------------------------
def database_identity(alias: str) -> dict[str, str]:
    from django.db import connections

    connection = connections[alias]
    return {
        "alias": alias,
        "vendor": str(connection.vendor),
        "name": str(connection.settings_dict.get("NAME") or ""),
    }


def prepare_root(given: Path | None, project_root: Path) -> tuple[Path, list[str]]:
    """The real folder backups go into, and what the plan must say about it.

    The project root itself ("", ".") is refused: a ``.gitignore`` with ``*`` there would hide
    the whole project from git. A symlink is resolved (the plan shows the real path). An
    existing folder writable by group or others is tightened to 0700 when the backup is
    taken (the plan says so). Nothing is created here.
    """
    default = given is None
    root = project_root / ".authtools-backups" if given is None else given
    if not default and str(given) in ("", "."):
        raise BackupError(
            "--backup-dir must name a folder of its own, not the current folder: pass e.g. "
            "--backup-dir .authtools-backups"
        )
    real = root.resolve()
    if real == project_root.resolve() or real in project_root.resolve().parents:
        raise BackupError(
            f"--backup-dir {str(root)!r} is the project root or one of its parents: pass a "
            "folder of its own, e.g. --backup-dir .authtools-backups"
        )
    notes = []
    if root.is_symlink() or real != root.absolute():
        notes.append(f"Backup folder {str(root)!r} is {str(real)!r} (symlinks resolved).")
    if real.is_dir():
        loose = stat.S_IMODE(real.stat().st_mode) & 0o077
        if loose & 0o022:
            notes.append(
                f"Backup folder {str(real)!r} is writable by others "
                f"({oct(stat.S_IMODE(real.stat().st_mode))[2:]}): it is set to 0700 first."
            )
    return real, notes


def tighten_root(root: Path) -> str | None:
    """Make an existing ROOT 0700 if group or others may write to it; say what was done."""
    if not root.is_dir():
        return None
    mode = stat.S_IMODE(root.stat().st_mode)
    if not mode & 0o022:
        return None
    os.chmod(root, DIR_MODE)
    return f"Backup folder {str(root)!r}: mode {oct(mode)[2:]} set to 700."


class Backup:
    """A backup folder: JSON documents and copies of files, listed in manifest.json."""

    def __init__(self, path: Path, manifest: dict[str, Any] | None = None) -> None:
        self.path = path
        self._manifest = manifest

    @classmethod
    def create(cls, root: Path, procedure: str, database: str = "default") -> Backup:
        """Make ROOT/PROCEDURE-YYYYmmddTHHMMSSffffffZ (0700) and its manifest. A ``.gitignore``
        goes into ROOT only when this call creates ROOT."""
        from authtools import __version__
        from authtools.diagnosis.context import current_project_root

        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        created_root = not root.exists()
        try:
            make_private_dir(root)
            path = root / f"{procedure}-{stamp}"
            path.mkdir(mode=DIR_MODE)
            os.chmod(path, DIR_MODE)
            fsync_dir(root)
            if created_root:
                write_atomic(root / ".gitignore", IGNORE_TEXT, FILE_MODE)
        except OSError as exc:
            raise BackupError(
                f"cannot create a backup folder in {str(root)!r} ({exc.strerror}); "
                "pass --backup-dir with a writable folder"
            ) from exc
        backup = cls(path)
        backup._write_manifest(
            {
                "format": FORMAT,
                "procedure": procedure,
                "authtools_version": __version__,
                "created": stamp,
                "database": database_identity(database),
                "project_root": str(current_project_root().resolve()),
                "documents": {},
                "files": {},
            }
        )
        return backup

    @classmethod
    def open(cls, path: Path, *, procedures: tuple[str, ...], database: str) -> Backup:
        """The backup at PATH, checked before use: its manifest's shape, that it was taken by
        one of PROCEDURES on DATABASE of this project, and every listed document and saved
        file against its digest. BackupError (one line) otherwise."""
        from authtools.diagnosis.context import current_project_root

        path = Path(path)
        manifest_file = path / MANIFEST
        if not manifest_file.is_file():
            raise BackupError(f"{str(path)!r} is not an authtools backup (no {MANIFEST})")
        manifest = _load(manifest_file, MANIFEST_SCHEMA)
        if manifest["format"] != FORMAT:
            raise invalid(manifest_file, "format", f"is {manifest['format']}, not {FORMAT}")
        if manifest["procedure"] not in procedures:
            raise invalid(
                manifest_file,
                "procedure",
                f"is {manifest['procedure']!r}: this is not a {procedures[0]} backup",
            )
        here = database_identity(database)
        for key in ("alias", "vendor", "name"):
            if manifest["database"][key] != here[key]:
                raise invalid(
                    manifest_file,
                    f"database.{key}",
                    f"is {manifest['database'][key]!r}, but this run is on {here[key]!r}: "
                    "the backup was taken on another database (pass --database)",
                )
        root = str(current_project_root().resolve())
        if manifest["project_root"] != root:
            raise invalid(
                manifest_file,
                "project_root",
                f"is {manifest['project_root']!r}, not this project ({root!r})",
            )
        backup = cls(path.resolve(), manifest)
        for name, digest in manifest["documents"].items():
            if name in UNLISTED or not _safe_name(name):
                raise invalid(manifest_file, f"documents.{name}", "is not a document name")
            backup._check_digest(path / f"{name}.json", digest, f"documents.{name}")
        for rel, digest in manifest["files"].items():
            if not safe_relative(rel):
                raise invalid(
                    manifest_file,
                    f"files.{rel}",
                    "must be a relative path inside the project (no absolute path, no '..')",
                )
            backup._check_digest(path / FILES / rel, digest, f"files.{rel}")
        return backup

    def _check_digest(self, file: Path, digest: str, field: str) -> None:
        manifest_file = self.path / MANIFEST
        if file.is_symlink() or not file.is_file():
            raise invalid(manifest_file, field, f"lists {file.name!r}, which is missing")
        if _inside(file.resolve(), self.path) is None:
            raise invalid(manifest_file, field, "points outside the backup folder")
        if sha256(file) != digest:
            raise invalid(
                file, "", "does not match its digest in manifest.json (truncated or changed)"
            )

    # --- manifest ---------------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            self._manifest = _load(self.path / MANIFEST, MANIFEST_SCHEMA)
        return self._manifest

    def _write_manifest(self, data: dict[str, Any]) -> None:
        write_atomic(self.path / MANIFEST, json.dumps(data, indent=2, default=str))
        self._manifest = data

    # --- documents --------------------------------------------------------------------------
    def write_json(self, name: str, data: Any) -> Path:
        """Write NAME.json atomically, then list it with its digest in the manifest."""
        target = self.path / f"{name}.json"
        write_atomic(target, json.dumps(data, indent=2, default=str))
        if name not in UNLISTED:
            manifest = self.manifest
            manifest["documents"][name] = sha256(target)
            self._write_manifest(manifest)
        return target

    def read_json(self, name: str, schema: Any = None) -> Any:
        """NAME.json, checked against SCHEMA (when given). A document the manifest does not
        list is refused (it was never completely written), except the journal."""
        target = self.path / f"{name}.json"
        if name not in UNLISTED and name not in self.manifest["documents"]:
            raise invalid(self.path / MANIFEST, f"documents.{name}", "is missing")
        return _load(target, schema)

    def has(self, name: str) -> bool:
        if name in UNLISTED:
            return (self.path / f"{name}.json").is_file()
        return name in self.manifest["documents"]

    def read_journal(self, step_ids: list[str]) -> list[str] | None:
        """The ids of the completed steps, or None when the journal is missing or unreadable
        (a kill at the wrong moment): the caller then asks the database."""
        try:
            journal = _load(self.path / f"{JOURNAL}.json", list[str])
        except (BackupError, OSError):
            return None
        if any(step not in step_ids for step in journal) or len(set(journal)) != len(journal):
            return None
        return list(journal)

    # --- files ------------------------------------------------------------------------------
    def save_file(self, source: Path, root: Path) -> None:
        """Copy SOURCE (a file under ROOT, the project root) into the backup, remembering its
        path relative to ROOT."""
        rel = _inside(source.resolve(), root.resolve())
        if rel is None:
            raise BackupError(
                f"{str(source)!r} is outside the project {str(root)!r}: it cannot be backed up"
            )
        target = self.path / FILES / rel
        make_private_dir(target.parent)
        write_atomic(target, source.read_bytes(), FILE_MODE)
        manifest = self.manifest
        manifest["files"][str(rel)] = sha256(target)
        self._write_manifest(manifest)

    def saved_files(self) -> list[tuple[Path, str]]:
        """(backup copy, path relative to the project root) of every saved file."""
        return [(self.path / FILES / rel, rel) for rel in self.manifest["files"]]


def _load(file: Path, schema: Any) -> Any:
    try:
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise invalid(file, "", "is missing") from None
    except OSError as exc:
        raise invalid(file, "", f"cannot be read ({exc.strerror})") from None
    except ValueError:
        raise invalid(file, "", "is not valid JSON (truncated or garbled)") from None
    if schema is not None:
        try:
            check(data, schema)
        except ShapeError as exc:
            raise invalid(file, exc.field, exc.problem) from None
    return data


def _safe_name(name: str) -> bool:
    return bool(name) and name.replace("-", "").replace("_", "").isalnum()


def safe_relative(rel: str) -> bool:
    """A relative path with no '..', no empty or absolute part."""
    path = Path(rel)
    return (
        bool(rel)
        and not path.is_absolute()
        and "\\" not in rel
        and all(part not in ("..", ".", "") for part in rel.split("/"))
    )


def _inside(path: Path, root: Path) -> Path | None:
    try:
        return path.relative_to(root)
    except ValueError:
        return None


def resolve_inside(rel: str, root: Path, folders: list[Path]) -> Path | None:
    """ROOT/REL when REL is a safe relative path that resolves (symlinks followed) into one of
    FOLDERS; None otherwise."""
    if not safe_relative(rel):
        return None
    target = (root / rel).resolve()
    if any(_inside(target, folder.resolve()) is not None for folder in folders):
        return target
    return None
