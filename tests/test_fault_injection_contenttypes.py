"""rebuild_contenttypes and its --restore killed (SIGKILL) at seeded random points: inside backup
writes (before and after the rename that ends each atomic write), before and after the step,
and before each statement that writes (inside the transaction). After each kill the database
(every row of every table) and the project's files are exactly as before or after the run, or
--restore brings them there; no command crashes on what the kill left.

The kill points come from the wrapper of tests/test_fault_injection.py (imported, not copied),
run by a small wrapper of this file that adds a point before each writing SQL statement.
AUTHTOOLS_FAULT_SEED replays a failure; AUTHTOOLS_FAULT_KILLS sets the number of kills of each
command per backend (default 2).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .backuphelpers import fingerprint, only_backup
from .conftest import Project, Result
from .test_fault_injection import FAULT

# python STATEMENTS.py FAULT.py MODE N COUNT_FILE manage.py-args: FAULT.py's points, plus one
# before each statement that is not a SELECT (Django's cursor wrapper: ORM and raw SQL alike).
STATEMENTS = """
import sys
from django.db.backends import utils

fault_file = sys.argv[1]
sys.argv = sys.argv[1:]
scope = {"__name__": "__main__", "__file__": fault_file}


def points(method):
    def wrapped(self, sql, *args, **kwargs):
        if not str(sql).lstrip().upper().startswith("SELECT") and "point" in scope:
            scope["point"]("statement")
        return method(self, sql, *args, **kwargs)

    return wrapped


utils.CursorWrapper.execute = points(utils.CursorWrapper.execute)
utils.CursorWrapper.executemany = points(utils.CursorWrapper.executemany)
with open(fault_file) as handle:
    exec(compile(handle.read(), fault_file, "exec"), scope)
"""

# A stale content type to relabel (shop.order moved to an app that is gone: 'legacy'), with
# its permissions held by a group, and a missing permission to create.
STATE = """
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

order = ContentType.objects.get(app_label="shop", model="order")
Group.objects.create(name="clerks").permissions.add(*Permission.objects.filter(content_type=order))
ContentType.objects.filter(pk=order.pk).update(app_label="legacy")
Permission.objects.filter(codename="change_group").delete()
"""


def new_ids_masked(state: Any, before: Any) -> Any:
    """STATE with the ids of content types and permissions created after BEFORE masked: each
    run creates its rows with new ids (ids are not handed out twice), the rest must be equal."""
    rows, files = state
    masked = dict(rows)
    for table in ("django_content_type", "auth_permission"):
        top = max((row[0] for row in before[0][table]), default=0)
        masked[table] = sorted(
            (((None, *row[1:]) if row[0] > top else row) for row in rows[table]), key=repr
        )
    return masked, files


def test_rebuild_contenttypes_killed_at_random_points(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    seed = int(os.environ.get("AUTHTOOLS_FAULT_SEED") or random.randrange(2**32))
    kills = int(os.environ.get("AUTHTOOLS_FAULT_KILLS") or 2)
    rng = random.Random(seed)
    replay = f"(seed {seed}: AUTHTOOLS_FAULT_SEED={seed} replays it)"
    project.migrate()
    project.shell(STATE)
    fault, statements = tmp_path / "fault.py", tmp_path / "statements.py"
    fault.write_text(FAULT)
    statements.write_text(STATEMENTS)
    count_file = tmp_path / "count"

    def rebuild(*args: str, folder: Path) -> Result:
        result = project.manage(
            "rebuild_contenttypes", *args, "--noinput", "--backup-dir", str(folder)
        )
        assert "Traceback" not in result.err, f"{args} {replay}: {result}"
        return result

    def wrapped(mode: str, n: int, *args: str, folder: Path) -> Result:
        return project.run(
            str(statements),
            str(fault),
            mode,
            str(n),
            str(count_file),
            "rebuild_contenttypes",
            *args,
            "--noinput",
            "--backup-dir",
            str(folder),
        )

    def count(*args: str, folder: Path) -> int:
        result = wrapped("count", 0, *args, folder=folder)
        assert result.code == 0, f"{args} {replay}: {result}"
        return int(count_file.read_text())

    def killed(n: int, *args: str, folder: Path) -> None:
        result = wrapped("kill", n, *args, folder=folder)
        assert result.code == -9, f"{args} killed at point {n} {replay}: {result}"

    def now() -> Any:
        return new_ids_masked(fingerprint(project), before)

    def restore(backup: Path, state: Any, where: str) -> None:
        result = rebuild("--restore", str(backup), folder=tmp_path / "restores")
        assert result.code == 0, f"--restore after {where} {replay}: {result}"
        assert now() == state, f"--restore after {where} {replay}"

    before = fingerprint(project)
    counted = tmp_path / "counted"
    forward_points = count(folder=counted)
    after = now()
    assert after != before
    restore_points = count("--restore", str(only_backup(counted)), folder=tmp_path / "counted-r")
    assert now() == before, replay
    outcomes: dict[str, int] = {}

    # The first run, killed anywhere: the database is as before (then its backup, complete or
    # not, restores nothing or is refused in one line) or as after (then --restore undoes it).
    for i in range(kills):
        n = rng.randint(1, forward_points)
        folder = tmp_path / f"forward-{i}"
        killed(n, folder=folder)
        where = f"first run killed at point {n} of {forward_points}"
        state = now()
        assert state in (before, after), f"{where} {replay}"
        outcome = "before" if state == before else "after"
        outcomes[f"run:{outcome}"] = outcomes.get(f"run:{outcome}", 0) + 1
        backups = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
        if state == after:
            restore(only_backup(folder), before, where)
        elif backups:
            result = rebuild("--restore", str(backups[0]), folder=tmp_path / "restores")
            assert result.code in (0, 1) and len(result.err.splitlines()) <= 1, f"{where} {result}"
            assert now() == before, f"{where} {replay}"

    # The restore of a complete run, killed anywhere: the database is as after (--restore again
    # undoes the run) or as before (--restore says there is nothing to undo); the restore's own
    # backup, when complete, puts back what the restore changed.
    for i in range(kills):
        first = tmp_path / f"run-{i}"
        assert rebuild(folder=first).code == 0
        assert now() == after, replay
        n = rng.randint(1, restore_points)
        undo = tmp_path / f"restore-{i}"
        killed(n, "--restore", str(only_backup(first)), folder=undo)
        where = f"--restore killed at point {n} of {restore_points}"
        state = now()
        assert state in (before, after), f"{where} {replay}"
        outcome = "before" if state == before else "after"
        outcomes[f"restore:{outcome}"] = outcomes.get(f"restore:{outcome}", 0) + 1
        again = rebuild("--restore", str(only_backup(first)), folder=tmp_path / "restores")
        assert again.code == 0, f"{where} {replay}: {again}"
        if state == before:
            assert again.out == "Nothing to undo: the rows of this backup are in place.\n", again
        assert now() == before, f"{where} {replay}"
        undos = [p for p in undo.iterdir() if p.is_dir()] if undo.is_dir() else []
        if undos:  # the restore's backup: complete (it brings back after) or refused in one line
            result = rebuild("--restore", str(undos[0]), folder=tmp_path / "restores")
            assert result.code in (0, 1) and len(result.err.splitlines()) <= 1, f"{where} {result}"
            if result.code == 0:
                assert now() == after, f"{where} {replay}"
                restore(only_backup(first), before, where)
            assert now() == before, f"{where} {replay}"
    print(
        f"{project.db.vendor}: points {forward_points} (run), {restore_points} (--restore); "
        f"kills {outcomes}, seed {seed}"
    )
