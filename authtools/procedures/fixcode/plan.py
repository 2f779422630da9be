"""The fixer as a Plan: one step per file with its diff, a backup of every file, verification.

The backup keeps a copy of every file before it is rewritten and a document (``fixed-files``)
recording the project root and, per file, its path relative to the root and the SHA-256 of its
text before and after. ``--restore`` validates that document against the project before it
puts anything back (see ``restore_plan``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from pathlib import Path
from typing import Any

from authtools.procedures.fixcode.survey import FileFix, FixError, Survey, survey
from authtools.procedures.fixcode.syntax import Target
from authtools.procedures.plan import Plan, Runtime, Step
from authtools.procedures.schema import Keys

PROCEDURE = "fix_user_model_code"
DOCUMENT = "fixed-files"
# The ids whose findings this fixer means to clear in the files it rewrites.
FIXED_IDS = frozenset(
    {
        "authtools.E202",
        "authtools.W203",
        "authtools.W204",
        "authtools.E301",
        "authtools.E302",
        "authtools.W303",
    }
)


def build_plan(database: str) -> Plan:
    from authtools.diagnosis.boot import booted_state
    from authtools.diagnosis.context import Context

    found = survey(Context.create(booted_state(), database=database), database)
    plan = Plan(PROCEDURE, database)
    plan.data["survey"] = found
    for fix in found.changed:
        plan.add(
            Step(
                f"rewrite:{fix.rel}",
                "file",
                f"Rewrite {fix.rel}: {_summary(fix)}",
                partial(_apply, fix),
                details=fix.diff(),
                undo=partial(_undo, fix),
                atomic=False,
            )
        )
    plan.notes.extend(f"Left alone: {entry}" for entry in found.left_alone())
    plan.backup = lambda runtime: save_backup(found, runtime)
    plan.verify = lambda runtime: verify(found, runtime.state.get("findings_before", []))
    return plan


def _apply(fix: FileFix, runtime: Runtime) -> None:
    write_fix(fix)


def _undo(fix: FileFix, runtime: Runtime) -> None:
    _write_text(fix.path, fix.before)


def _summary(fix: FileFix) -> str:
    count = len(fix.changes)
    return f"{count} change{'s' if count != 1 else ''}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def save_backup(found: Survey, runtime: Runtime) -> None:
    """Copy every file to be rewritten, and note the findings the rewrite means to clear."""
    backup = runtime.backup_dir
    runtime.state["findings_before"] = _findings(found.root)
    for fix in found.changed:
        backup.save_file(fix.path, found.root)
    backup.write_json(
        DOCUMENT,
        {
            "files": [
                {"path": fix.rel, "before": sha256(fix.before), "after": sha256(fix.after)}
                for fix in found.changed
            ]
        },
    )


def read(path: Path) -> str:
    """A file's text as the survey read it: UTF-8, line endings as they are."""
    return path.read_bytes().decode("utf-8")


def write_fix(fix: FileFix) -> None:
    """Write FIX's new text, unless the file changed since the plan was made."""
    current = read(fix.path)
    if current != fix.before:
        raise FixError(f"{fix.rel!r} changed since the plan was made; run the fixer again")
    _write_text(fix.path, fix.after)


def _write_text(path: Path, text: str) -> None:
    """Replace PATH's text atomically (backup.write_atomic), keeping its mode; its bytecode
    goes, so that nothing runs the old version."""
    from authtools.procedures.backup import write_atomic

    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    write_atomic(path, text, mode)
    for cached in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


# --- verification -------------------------------------------------------------------------------
def _findings(root: Path) -> list[tuple[str, str]]:
    """(id, resolved file) of the fixable findings, from ``python -m authtools diagnose`` in a
    child process: this process has the old modules imported, and manage.py may not start
    (an import cycle) where the diagnosis still does."""
    import subprocess
    import sys

    from django.conf import settings

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    command = [sys.executable, "-m", "authtools", "diagnose", "--no-db", "--format", "json"]
    command += ["--fail-level", "info", "--settings", settings.SETTINGS_MODULE]
    proc = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    try:
        document = json.loads(proc.stdout)
    except ValueError:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return [("unreadable", lines[-1] if lines else f"exit status {proc.returncode}")]
    found = []
    for finding in document.get("findings", []):
        location = finding.get("location") or {}
        if finding["id"] in FIXED_IDS and location.get("file"):
            found.append((finding["id"], str((root / location["file"]).resolve())))
    return found


def verify(found: Survey, before: list[tuple[str, str]]) -> list[str]:
    failures = []
    for fix in found.changed:
        if fix.kind is None:
            continue
        try:
            compile(read(fix.path), str(fix.path), "exec")
        except SyntaxError as exc:
            failures.append(f"{fix.rel} does not compile: {exc}")
    after = _findings(found.root)
    if after[:1] and after[0][0] == "unreadable":
        return [*failures, f"diagnose_user_model failed: {after[0][1]}"]
    for fix in found.changed:
        where = str(fix.path.resolve())
        for finding_id in sorted({i for i, f in before if f == where}):
            still = sum(1 for i, f in after if (i, f) == (finding_id, where))
            if still and not fix.left:
                failures.append(f"{finding_id} is still reported in {fix.rel}")
    return failures


# --- restore ------------------------------------------------------------------------------------
SCHEMA = Keys({"files": list[Keys({"path": str, "before": str, "after": str})]})  # type: ignore[misc]


def restore_plan(database: str, backup: Any, root: Path) -> Plan:
    """Put back every file the fixer rewrote, byte for byte, after validating the backup
    (Backup.open has checked its manifest, digests and project). The files as they are now are
    backed up first, in the same format: restoring that backup applies the fix again."""
    plan = Plan(PROCEDURE, database)
    fixes = []
    for rel, copy, target, after in _validated_entries(backup, root):
        original = read(copy)
        current = read(target)
        if current == original:
            continue
        if sha256(current) != after:
            raise FixError(
                f"{rel!r} changed after the fixer wrote it; restoring it would lose those "
                f"changes: put {str(copy)!r} back by hand"
            )
        fix = FileFix(target, rel, None, current, original)
        fixes.append(fix)
        plan.add(
            Step(
                f"restore:{rel}",
                "file",
                f"Put back {rel}",
                partial(_restore, fix),
                details=fix.diff(),
                atomic=False,
            )
        )
    if not fixes:
        plan.empty_message = "Nothing to undo: every file of this backup is in place."
    found = Survey(root.resolve(), Target("", "", "", ""), fixes)
    plan.backup = lambda runtime: _save_current(found, runtime)
    return plan


def _save_current(found: Survey, runtime: Runtime) -> None:
    backup = runtime.backup_dir
    for fix in found.changed:
        backup.save_file(fix.path, found.root)
    files = [
        {"path": fix.rel, "before": sha256(fix.before), "after": sha256(fix.after)}
        for fix in found.changed
    ]
    backup.write_json(DOCUMENT, {"files": files})


def _restore(fix: FileFix, runtime: Runtime) -> None:
    if read(fix.path) != fix.before:
        raise FixError(f"{fix.rel!r} changed since the plan was made; run --restore again")
    _write_text(fix.path, fix.after)


def _validated_entries(backup: Any, root: Path) -> list[tuple[str, Path, Path, str]]:
    """(relative path, backup copy, file in the project, digest after the fix) per file: the
    document's shape, each path inside the project and saved in the backup with the digest
    the document gives."""
    from authtools.procedures.backup import BackupError, invalid, resolve_inside

    document = backup.path / f"{DOCUMENT}.json"
    try:
        files = backup.read_json(DOCUMENT, SCHEMA)["files"]
    except BackupError as exc:
        raise FixError(str(exc)) from None
    saved = dict(backup.manifest["files"])
    real_root = root.resolve()
    entries = []
    for index, item in enumerate(files):
        field = f"files[{index}].path"
        rel = item["path"]
        target = resolve_inside(rel, real_root, [real_root])
        if target is None:
            raise FixError(str(invalid(document, field, f"{rel!r} is not a file of this project")))
        if rel not in saved:
            raise FixError(str(invalid(document, field, f"{rel!r} has no saved copy")))
        copy = backup.path / "files" / rel
        if sha256(read(copy)) != item["before"]:
            raise FixError(
                str(invalid(document, f"files[{index}].before", "does not match the copy"))
            )
        if not target.is_file():
            raise FixError(str(invalid(document, field, f"{rel!r} is not in the project any more")))
        entries.append((rel, copy, target, item["after"]))
    return entries
