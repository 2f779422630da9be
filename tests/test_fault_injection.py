"""swap_user_model, --rollback and --resume killed (SIGKILL) at seeded random points: inside
backup writes (after the temporary file is fsynced, before and after its rename: the journal's
too), before and after every step, and between the statements of a step. After each kill the
project (every row of every table and every file) is exactly as before or after, or --resume /
--rollback brings it there; no command crashes on what the kill left.

The kill comes from a wrapper (the product has no hook): it counts the points a run passes, or
kills itself at point N. AUTHTOOLS_FAULT_SEED replays a failure; AUTHTOOLS_FAULT_KILLS raises
the number of kills per backend (default 2 of the swap, 1 of its rollback and of its resume).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .backuphelpers import fingerprint
from .conftest import Project, Result
from .swaphelpers import before_state, write_new_model

FAULT = '''"""manage.py ARGS, counting fault points (MODE count: the total goes to COUNT_FILE) or
SIGKILLed at point N (MODE kill)."""
import atexit
import os
import runpy
import signal
import sys

from authtools.procedures import backup as backup_module
from authtools.procedures import plan as plan_module
from authtools.procedures.swap import steps as swap_steps

mode, n, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
passed = []


def point(name):
    passed.append(name)
    if mode == "kill" and len(passed) == n:
        os.kill(os.getpid(), signal.SIGKILL)


class Os:
    """os, with a fault point on each side of the rename that ends an atomic write."""

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, source, target):
        point("before-rename")
        os.replace(source, target)
        point("after-rename")


backup_module.os = Os()
original_add = plan_module.Plan.add


def add(self, step):
    apply = step.apply

    def apply_with_points(runtime):
        point("before-step")
        result = apply(runtime)
        point("after-step")
        return result

    step.apply = apply_with_points
    return original_add(self, step)


plan_module.Plan.add = add
original_retried, original_locked = swap_steps.run_retried, swap_steps.run_locked


def retried(connection, statements, *args, **kwargs):
    for statement in statements:
        point("statement")
        original_retried(connection, [statement], *args, **kwargs)


def locked(connection, locks, statements):  # MariaDB: a table rename under LOCK TABLES
    for statement in statements:
        point("statement")
        original_locked(connection, locks, [statement])


swap_steps.run_retried, swap_steps.run_locked = retried, locked
if mode == "count":
    atexit.register(lambda: open(count_file, "w").write(str(len(passed))))
sys.argv = ["manage.py", *sys.argv[4:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("manage.py", run_name="__main__")
'''


def test_killed_at_random_points(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    seed = int(os.environ.get("AUTHTOOLS_FAULT_SEED") or random.randrange(2**32))
    kills = int(os.environ.get("AUTHTOOLS_FAULT_KILLS") or 0)
    rng = random.Random(seed)
    replay = f"(seed {seed}: AUTHTOOLS_FAULT_SEED={seed} replays it)"
    before_state(project)
    write_new_model(project)
    wrapper = tmp_path / "fault.py"
    wrapper.write_text(FAULT)
    count_file = tmp_path / "count"
    runs = 0

    def swap(*args: str, folder: Path) -> Result:
        result = project.manage("swap_user_model", *args, "--noinput", "--backup-dir", str(folder))
        assert "Traceback" not in result.err, f"{args} {replay}: {result}"
        return result

    def wrapped(mode: str, n: int, *args: str, folder: Path) -> Result:
        nonlocal runs
        runs += 1
        return project.run(
            str(wrapper),
            mode,
            str(n),
            str(count_file),
            "swap_user_model",
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

    before = fingerprint(project)
    forward = ("--from", "auth.User")
    counted = tmp_path / "counted"
    forward_points = count(*forward, folder=counted)
    after = fingerprint(project)
    assert after != before
    rollback_points = count("--rollback", folder=counted)
    assert fingerprint(project) == before, replay
    resume_points = count("--resume", folder=counted)
    assert fingerprint(project) == after, replay
    assert swap("--rollback", folder=counted).code == 0
    assert fingerprint(project) == before, replay

    outcomes: dict[str, int] = {}

    def back_to(state: Any, how: str, folder: Path, where: str) -> None:
        result = swap(how, folder=folder)
        assert result.code == 0, f"{how} after {where} {replay}: {result}"
        assert fingerprint(project) == state, f"{how} after {where} {replay}"

    # The swap, killed anywhere: the next step is --resume or --rollback, chosen by the seed.
    for i in range(kills or 2):
        n = rng.randint(1, forward_points)
        folder = tmp_path / f"forward-{i}"
        killed(n, *forward, folder=folder)
        where = f"swap killed at point {n} of {forward_points}"
        state = fingerprint(project)
        if state == before:
            # Nothing done, or a backup cut short: either nothing to undo, or a one-line refusal.
            result = swap("--rollback", folder=folder)
            assert result.code in (0, 1) and len(result.err.splitlines()) <= 1, f"{where} {result}"
            assert fingerprint(project) == before, f"{where} {replay}"
            outcomes["before"] = outcomes.get("before", 0) + 1
            continue
        if state == after:
            outcomes["after"] = outcomes.get("after", 0) + 1
        else:
            outcomes["between"] = outcomes.get("between", 0) + 1
            # A new swap over a half-done one names the two ways out instead.
            again = swap(*forward, folder=folder)
            assert again.code == 1, f"{where} {replay}: {again}"
            assert "was interrupted after" in again.err and "--resume" in again.err, str(again)
            assert fingerprint(project) == state, f"{where} {replay}"
        if rng.random() < 0.5:
            back_to(after, "--resume", folder, where)
        back_to(before, "--rollback", folder, where)

    # The rollback of a complete swap, killed anywhere: --rollback again finishes it.
    for i in range(max(1, kills // 2)):
        folder = tmp_path / f"rollback-{i}"
        assert swap(*forward, folder=folder).code == 0
        n = rng.randint(1, rollback_points)
        killed(n, "--rollback", folder=folder)
        back_to(before, "--rollback", folder, f"rollback killed at point {n} of {rollback_points}")

    # The resume of an undone swap (it does the swap again), killed anywhere: --resume again
    # finishes it, --rollback undoes it.
    for _ in range(max(1, kills // 2)):
        n = rng.randint(1, resume_points)
        killed(n, "--resume", folder=counted)
        where = f"resume killed at point {n} of {resume_points}"
        back_to(after, "--resume", counted, where)
        back_to(before, "--rollback", counted, where)
    print(f"{project.db.vendor}: {runs} wrapped runs, forward kills {outcomes}, seed {seed}")
