"""reset_user_migrations and its --restore killed (SIGKILL) at seeded random points: inside the
writes of backup documents and copies (half the bytes written, before the fsync, before and
after the rename), inside the journal's writes, inside the writes of migration files, before
and after every step, and while a child manage.py process runs (the makemigrations under the
temporary AUTH_USER_MODEL='auth.User', the one under the real value, the verification's).

After each kill: the child process is gone (parent-death signal); no command crashes on what
the kill left; the project (every row of every table and every file) is exactly as before or
after, or the next run refuses and names the way out (--restore BACKUP), which brings it back
with every row; a killed --restore is finished by --restore again.

Each kill picks a kind of point first (backup, journal, source, step, child; every kind once in
the first five kills, in a seeded order), then a point of that kind. AUTHTOOLS_FAULT_SEED
replays a failure; AUTHTOOLS_FAULT_KILLS sets the number of kills of the reset per backend
(default 5; a --restore is killed after the first half-done reset and after half of the others).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .backuphelpers import dump, tree
from .conftest import Project, Result
from .helpers import NICKNAME_MODEL, shop_note_migration

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's"
)

FAULT = '''"""manage.py ARGS, recording its fault points (MODE count: their names go to OUT as JSON)
or SIGKILLed at point N (MODE kill; at a child process, DELAY seconds after it started, its pid
written to OUT)."""
import atexit
import json
import os
import runpy
import signal
import subprocess
import sys
import time

from authtools.procedures import backup as backup_module
from authtools.procedures import childproc
from authtools.procedures import plan as plan_module

mode, n, out, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
passed = []
kind = ["backup"]  # folder fsyncs outside write_atomic make backup folders


def reached(name):
    passed.append(name)
    return mode == "kill" and len(passed) == n


def point(name):
    if reached(name):
        os.kill(os.getpid(), signal.SIGKILL)


original_write_atomic = backup_module.write_atomic


def write_atomic(target, data, mode=backup_module.FILE_MODE):
    """The product's atomic write, its points named after what it writes."""
    if target.name == "journal.json":
        kind[0] = "journal"
    elif any(part.startswith("reset_user_migrations-") for part in target.parts):
        kind[0] = "backup"
    elif target.suffix == ".py":
        kind[0] = "source"
    else:
        kind[0] = "backup"  # the backup root's .gitignore
    try:
        return original_write_atomic(target, data, mode)
    finally:
        kind[0] = "backup"


class Handle:
    """A file whose write stops half-way at a fault point."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)

    def write(self, data):
        half = len(data) // 2
        self.handle.write(data[:half])
        self.handle.flush()
        point(f"{kind[0]} mid-write")
        return self.handle.write(data[half:]) + half

    def __getattr__(self, name):
        return getattr(self.handle, name)


class Os:
    """os, with fault points inside the atomic writes."""

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        return Handle(os.fdopen(fd, *args, **kwargs))

    def fsync(self, fd):
        point(f"{kind[0]} fsync")
        os.fsync(fd)

    def replace(self, source, target):
        point(f"{kind[0]} before-rename")
        os.replace(source, target)
        point(f"{kind[0]} after-rename")


class Subprocess:
    """subprocess, killing the parent while a child runs at a fault point."""

    def __getattr__(self, name):
        return getattr(subprocess, name)

    def run(self, args, **kwargs):
        if not reached(f"child {args[3]}"):  # [python, -c, BOOTSTRAP, command, ...]
            return subprocess.run(args, **kwargs)
        kwargs.pop("capture_output", None)
        kwargs.pop("input", None)
        child = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs
        )
        with open(out, "w") as handle:
            handle.write(str(child.pid))
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGKILL)


backup_module.write_atomic = write_atomic
backup_module.os = Os()
childproc.subprocess = Subprocess()
original_add = plan_module.Plan.add


def add(self, step):
    apply = step.apply

    def apply_with_points(runtime):
        point("step before")
        result = apply(runtime)
        point("step after")
        return result

    step.apply = apply_with_points
    return original_add(self, step)


plan_module.Plan.add = add
if mode == "count":
    atexit.register(lambda: open(out, "w").write(json.dumps(passed)))
sys.argv = ["manage.py", *sys.argv[5:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("manage.py", run_name="__main__")
'''


SHOP_0002 = shop_note_migration("0002_user_nickname")

SEED = """
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from shop.models import Order
group = Group.objects.create(name="staff")
group.permissions.add(Permission.objects.get(codename="change_group"))
group_type = ContentType.objects.get_for_model(Group)
for name in ("alice", "bob"):
    user = get_user_model().objects.create_user(name, name + "@example.com", "pw-" + name)
    user.groups.add(group)
    user.user_permissions.add(Permission.objects.get(codename="add_group"))
    Order.objects.create(user=user, total="12.50")
    LogEntry.objects.create(
        user_id=user.pk, content_type_id=group_type.pk, object_id=str(group.pk),
        object_repr="staff", action_flag=ADDITION,
    )
"""

KINDS = ("backup", "journal", "source", "step", "child")
RESET = ("reset_user_migrations", "accounts", "--via-auth-user")


def two_migrations_and_a_dependent(project: Project) -> None:
    """accounts has 0001 and 0002, shop's 0002 depends on accounts' 0002, all applied, with
    users, groups, permissions, orders and admin log entries."""
    project.migrate()
    project.write("accounts/models.py", NICKNAME_MODEL)
    project.ok("makemigrations", "accounts", "--name", "user_nickname", "-v", "0")
    project.write("shop/migrations/0002_order_note.py", SHOP_0002)
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "    created =", "    note = models.CharField(max_length=20, blank=True)\n    created ="
        ),
    )
    project.migrate()
    project.shell(SEED)


def state(project: Project) -> tuple[dict[str, Any], dict[str, str]]:
    """Every row of every table, and every file (generated migrations without the line that
    dates them: two resets write the same migration on different dates)."""
    files = tree(project.path)
    for rel in files:
        path = project.path / rel
        if "migrations" in path.parts and path.suffix == ".py":
            text = re.sub(r"^# Generated by Django .*\n", "", path.read_text(), flags=re.M)
            files[rel] = text
    return dump(project), files


def alive(pid: int) -> bool:
    """True while PID runs (a zombie waiting for its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat not in ("Z", "X")


def backups(folder: Path) -> list[Path]:
    """The backup folders under FOLDER, oldest first (their names sort by time)."""
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def test_reset_and_restore_killed_at_random_points(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    seed = int(os.environ.get("AUTHTOOLS_FAULT_SEED") or random.randrange(2**32))
    kills = int(os.environ.get("AUTHTOOLS_FAULT_KILLS") or 5)
    rng = random.Random(seed)
    replay = f"(seed {seed}: AUTHTOOLS_FAULT_SEED={seed} replays it)"
    two_migrations_and_a_dependent(project)
    wrapper = tmp_path / "fault.py"
    wrapper.write_text(FAULT)
    out = tmp_path / "out"
    runs: dict[str, int] = {"wrapped": 0, "plain": 0}

    def manage(*args: str, folder: Path) -> Result:
        runs["plain"] += 1
        result = project.manage(*args, "--noinput", "--backup-dir", str(folder))
        assert "Traceback" not in result.err + result.out, f"{args} {replay}: {result}"
        return result

    def wrapped(mode: str, n: int, *args: str, folder: Path) -> Result:
        runs["wrapped"] += 1
        out.unlink(missing_ok=True)
        delay = f"{rng.uniform(0.05, 0.5):.2f}"
        run = (str(wrapper), mode, str(n), str(out), delay, *args)
        return project.run(*run, "--noinput", "--backup-dir", str(folder))

    def count(*args: str, folder: Path) -> list[str]:
        result = wrapped("count", 0, *args, folder=folder)
        assert result.code == 0, f"{args} {replay}: {result}"
        return list(json.loads(out.read_text()))

    def pick(points: list[str], kind: str) -> int:
        """A point of KIND (any point when the run has none), numbered from 1."""
        numbers = [i for i, name in enumerate(points, 1) if name.split()[0] == kind]
        return rng.choice(numbers or range(1, len(points) + 1))

    def killed(n: int, points: list[str], *args: str, folder: Path) -> str:
        """Kill the run at point N; check that no child outlives it; say where it was."""
        result = wrapped("kill", n, *args, folder=folder)
        where = f"{args[1:] or 'reset'} killed at point {n} of {len(points)} ({points[n - 1]})"
        assert result.code == -signal.SIGKILL, f"{where} {replay}: {result}"
        assert "Traceback" not in result.err, f"{where} {replay}: {result}"
        if points[n - 1].startswith("child") and out.is_file():
            child = int(out.read_text())
            deadline = time.monotonic() + 60
            while alive(child) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(child):
                os.kill(child, signal.SIGKILL)
                raise AssertionError(f"the child {child} outlived its parent: {where} {replay}")
        return where

    before = state(project)
    counted = tmp_path / "counted"
    reset_points = count(*RESET, folder=counted)
    after = state(project)
    assert after != before
    assert {name.split()[0] for name in reset_points} == set(KINDS), reset_points
    restore_args = ("reset_user_migrations", "--restore", str(backups(counted)[0]))
    restore_points = count(*restore_args, folder=counted)
    assert state(project) == before, replay

    def restored(backup: Path, folder: Path, where: str) -> None:
        result = manage("reset_user_migrations", "--restore", str(backup), folder=folder)
        assert result.code == 0, f"--restore after {where} {replay}: {result}"
        assert state(project) == before, f"--restore after {where} {replay}"

    def refused_as_interrupted(folder: Path, where: str) -> None:
        """The next reset names the way out and changes nothing."""
        now = state(project)
        again = manage(*RESET, "--dry-run", folder=folder)
        assert again.code == 1 and again.out == "", f"{where} {replay}: {again}"
        command = re.escape("`python manage.py reset_user_migrations --restore ")
        backup = re.escape(str(folder.resolve())) + r"/reset_user_migrations-\w+"
        assert re.fullmatch(
            f"CommandError: The (reset|restore from '[^']+') of backup '{backup}' was "
            f"interrupted after \\d of \\d steps: (undo it with {command}{backup}`, then run "
            f"the reset again|finish it with {command}[^`]+`, or undo it with {command}{backup}`)"
            "\\. Nothing was changed\\.\n",
            again.err,
        ), f"{where} {replay}: {again}"
        assert state(project) == now, f"{where} {replay}"

    outcomes: dict[str, int] = {}
    order = rng.sample(KINDS, len(KINDS))
    killed_restores = 0
    for i in range(kills):
        kind = order[i % len(order)]
        folder = tmp_path / f"reset-{i}"
        n = pick(reset_points, kind)
        where = killed(n, reset_points, *RESET, folder=folder)
        now = state(project)
        outcome = "before" if now == before else "after" if now == after else "between"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        found = backups(folder)
        if outcome == "before":
            # Nothing changed: the next run plans as usual; --restore of what the kill left is
            # "nothing to undo" or, for a backup cut short, a one-line refusal.
            again = manage(*RESET, "--dry-run", folder=folder)
            assert again.code == 0, f"{where} {replay}: {again}"
            if found:
                result = manage("reset_user_migrations", "--restore", str(found[0]), folder=folder)
                assert result.code in (0, 1), f"{where} {replay}: {result}"
                assert len(result.err.splitlines()) <= 1, f"{where} {replay}: {result}"
            assert state(project) == before, f"{where} {replay}"
            continue
        [backup] = found
        if outcome == "between":
            refused_as_interrupted(folder, where)
        if killed_restores == 0 or rng.random() < 0.5:
            killed_restores += 1
            m = pick(restore_points, rng.choice(KINDS[:4]))
            args = ("reset_user_migrations", "--restore", str(backup))
            result = wrapped("kill", m, *args, folder=folder)
            also = f"{where}, then --restore killed at point {m} ({restore_points[m - 1]})"
            assert result.code in (0, -signal.SIGKILL), f"{also} {replay}: {result}"
            now = state(project)
            # Half restored, or a half-done reset the killed --restore had not touched yet. A
            # complete reset whose --restore died before changing anything is not interrupted.
            if now != before and (now != after or outcome == "between"):
                refused_as_interrupted(folder, also)
            where = also
        restored(backup, folder, where)
    # After all that, the reset runs as on the first day.
    last = tmp_path / "last"
    assert manage(*RESET, folder=last).code == 0, replay
    assert state(project) == after, replay
    print(f"{project.db.vendor}: {runs}, reset kills {outcomes}, {killed_restores} --restore kills")
