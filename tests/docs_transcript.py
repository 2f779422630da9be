"""Running the docs' commands into a transcript (tests/docs.py): normalising, excerpts, and the
project states the scenarios of tests/docs_scenarios.py start from."""

from __future__ import annotations

import atexit
import re
import shlex
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests import forkserver
from tests.conftest import Database, Project, copy_testproject

PROJECT_ROOT = "/srv/mysite"  # where the examples pretend the project lives
PYTHON = "/srv/venv/bin/python"  # and the Python that runs it

# --- normalising ---------------------------------------------------------------------------
_WRITTEN = [  # applied before writing: what differs between two runs on one machine
    (re.compile(r"\d{8}T\d{12}Z"), "20260101T000000000000Z"),  # backup folder stamps
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "2026-01-01T00:00:00+00:00"),
    (re.compile(r"(?:/[^\s'\"():]+)*/site-packages/"), "<site-packages>/"),
    (re.compile(r"[ \t]+$", re.M), ""),  # trailing blanks (a diff's empty context lines)
]
_COMPARED = [  # also applied before comparing: what differs between machines and versions
    (re.compile(r"Django \d+\.\d+(\.\d+)?(\w+)?"), "Django X"),
    (re.compile(r"authtools \d+\.\d+\.\d+(?:\.?(?:a|b|rc|dev|post)\d+)?"), "authtools X"),
]


def normalise(text: str, root: Path | None = None) -> str:
    if root is not None:
        text = text.replace(str(root), PROJECT_ROOT)
    for pattern, replacement in _WRITTEN:
        text = pattern.sub(replacement, text)
    return text


def comparable(text: str) -> str:
    text = normalise(text)
    for pattern, replacement in _COMPARED:
        text = pattern.sub(replacement, text)
    return text


# --- running commands into a transcript ----------------------------------------------------
class Transcript:
    """What a terminal shows: each command after ``$``, then its stdout and stderr."""

    def __init__(self, project: Project, tmp: Path, block: str) -> None:
        self.project = project
        self.tmp = tmp  # the project is TMP/mysite; what lies beside it shows under /srv
        self.parts: dict[str, list[str]] = {block: []}
        self.current = block

    def block(self, name: str) -> None:
        """What runs from now on goes into the block NAME (a scenario may fill several)."""
        self.parts[name] = []
        self.current = name

    def manage(
        self,
        *args: str,
        short_traceback: bool = False,
        code: int = 0,
        show: bool = True,
        excerpt: Callable[[str], str] | None = None,
    ) -> str:
        """Run ``manage.py ARGS``; check its exit status is CODE; add it to the transcript
        unless not SHOW (its stdout through EXCERPT, when given). SHORT_TRACEBACK shows a
        traceback as its first line, '  ...' and its last line."""
        return self._run(("manage.py", *args), short_traceback, code, show, excerpt)

    def module(
        self, *args: str, code: int = 0, excerpt: Callable[[str], str] | None = None, **env: str
    ) -> str:
        """``python -m authtools ARGS`` (with ENV added to the project's environment)."""
        return self._run(("-m", "authtools", *args), False, code, True, excerpt, env)

    def _run(
        self,
        argv: tuple[str, ...],
        short_traceback: bool,
        code: int,
        show: bool,
        excerpt: Callable[[str], str] | None,
        env: dict[str, str] | None = None,
    ) -> str:
        # stdout and stderr in one file, as a terminal shows them (the children run unbuffered)
        out, _, returncode = forkserver.run(
            forkserver.Command(
                list(argv), self.project.path, self.project.env(**(env or {})), merged=True
            )
        )
        if returncode != code:
            raise RuntimeError(
                f"{shlex.join(argv)}: expected exit {code}, got {returncode}:\n{out}"
            )
        if not show:
            return out
        if short_traceback and "Traceback (most recent call last):" in out:
            before, _, trace = out.partition("Traceback (most recent call last):")
            last = trace.rstrip("\n").splitlines()[-1]
            out = f"{before}Traceback (most recent call last):\n  ...\n{last}\n"
        shown = "python " + shlex.join(argv)
        self.parts[self.current].append(f"$ {shown}\n{excerpt(out) if excerpt else out}")
        return out

    def text(self, block: str) -> str:
        text = "".join(self.parts[block])
        text = text.replace(str(self.project.path), PROJECT_ROOT)
        text = text.replace(str(self.tmp), str(Path(PROJECT_ROOT).parent))
        text = text.replace(sys.executable, PYTHON)
        return normalise(text)


def findings_excerpt(*ids: str, probe: str = "") -> Callable[[str], str]:
    """The text report with only the first finding of each of IDS (in report order), or every
    finding of PROBE, the header and the totals, and a line saying how many findings were left
    out."""

    def cut(report: str) -> str:
        paragraphs = report.rstrip("\n").split("\n\n")
        header, body, totals = paragraphs[0], paragraphs[1:-1], paragraphs[-1]
        kept, wanted = [], list(ids)
        for paragraph in body:
            first = paragraph.split("\n")[0]
            found = next((i for i in wanted if f"authtools.{i} " in first), None)
            if found:
                kept.append(paragraph)
                wanted.remove(found)
            elif probe and f" [{probe}] " in first:
                kept.append(paragraph)
        if wanted or not kept:
            raise RuntimeError(f"no finding {', '.join(wanted) or probe} in:\n{report}")
        left_out = len(body) - len(kept)
        note = [f"[{left_out} more findings left out of this excerpt]"] if left_out else []
        return "\n\n".join([header, *kept, *note, totals]) + "\n"

    return cut


STEP = re.compile(r"^  (\d+)\. ")


def plan_excerpt(*steps: int, whole: tuple[int, ...] = ()) -> Callable[[str], str]:
    """A plan with only STEPS (their first line; every line for the steps in WHOLE), '  ...'
    where steps are left out, and every line outside the plan's steps (notes, result). A
    negative number counts from the last step (-1 is the last)."""

    def cut(out: str) -> str:
        lines = out.splitlines()
        last = max(int(m[1]) for m in map(STEP.match, lines) if m)
        shown = {n if n > 0 else last + 1 + n for n in steps}
        full = {n if n > 0 else last + 1 + n for n in whole}
        kept: list[str] = []
        step, skipping = None, False
        for line in lines:
            match = STEP.match(line)
            if match:
                step = int(match[1])
            elif not line.startswith("  ") or line.startswith("  Note: "):
                step = None
            if step is None or step in full or (step in shown and match):
                kept.append(line)
                skipping = False
            elif not skipping:
                kept.append("  ...")
                skipping = True
        return "\n".join(kept) + "\n"

    return cut


def tail_after_plan(out: str) -> str:
    """What a run prints after its plan: '  ...' for the plan, then the result lines."""
    lines = out.splitlines()
    last_plan_line = max(i for i, line in enumerate(lines) if line.startswith("  "))
    return "\n".join(["  ...", *lines[last_plan_line + 1 :]]) + "\n"


# --- project states, built once per process and copied -------------------------------------
@dataclass(frozen=True, eq=False)
class State:
    """A project state that several scenarios start from: BUILD applied to a fresh copy of
    testproject/ (or to PARENT's state). Built once per process, then copied (files and the
    SQLite database) for each scenario. Nothing in a state may hold its own absolute path
    (a backup records the project root, so backups are made inside the scenarios)."""

    build: Callable[[Project], None]
    parent: State | None = None


_built: dict[State, Path] = {}
_locks: dict[State, threading.Lock] = {}
_locks_lock = threading.Lock()
_cache_root: list[Path] = []


def _cache() -> Path:
    with _locks_lock:
        if not _cache_root:
            root = Path(tempfile.mkdtemp(prefix="authtools-docs-states-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            _cache_root.append(root)
        return _cache_root[0]


def prepare(state: State | None, tmp: Path) -> Project:
    """The project of STATE at TMP/mysite, with its SQLite database (db.sqlite3) inside."""
    project = Project(tmp / "mysite", Database("sqlite", tmp / "mysite"))
    if state is None:
        copy_testproject(project.path)
        return project
    with _locks_lock:
        lock = _locks.setdefault(state, threading.Lock())
    with lock:
        if state not in _built:
            built = Path(tempfile.mkdtemp(dir=_cache()))
            state.build(prepare(state.parent, built))
            _built[state] = built
    shutil.copytree(_built[state], tmp, dirs_exist_ok=True)
    return project
