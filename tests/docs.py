"""The output blocks of README.md and docs/*.md, produced by running the real commands.

A generated block sits between two markers; the first names the scenario that produces it:

    <!-- output: reset-deleted-migration -->
    ```console
    $ python manage.py reset_user_migrations --noinput
    ...
    ```
    <!-- /output -->

``scripts/docs`` (``python -m tests.docs [NAME ...]``) runs each marked scenario (or the NAMEs)
on a SQLite copy of testproject/ and rewrites its block; ``python -m tests.docs --check`` (and
tests/test_docs.py, one test per scenario) fails when a committed block differs from what the
commands print now, after normalising what changes from run to run (times, versions, paths).
Writing is idempotent: times and paths are written normalised, so running it twice changes
nothing.

A scenario (tests/docs_scenarios.py) is (starting State, function); the running, excerpts and
states are in tests/docs_transcript.py. A State is built once per process and copied for each
scenario that starts from it. The project of a scenario lives in TMP/mysite, shown as
/srv/mysite; what a scenario puts beside it (a vendor/ folder) shows under /srv, and the Python
executable as /srv/venv/bin/python. A command's stdout and stderr are shown interleaved, as a
terminal shows them. Excerpts (findings_excerpt, plan_excerpt, tail_after_plan) cut long output
and say so ('  ...', '[N more findings left out of this excerpt]').
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import REPO
from tests.docs_scenarios import ALSO, SCENARIOS
from tests.docs_transcript import PROJECT_ROOT, Transcript, comparable, normalise, prepare

__all__ = ["ALSO", "PROJECT_ROOT", "SCENARIOS", "comparable", "main", "normalise", "regenerate"]

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(
    r"(?P<open><!-- output: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close><!-- /output -->)",
    re.S,
)


def run_scenario(name: str) -> dict[str, str]:
    """The body (a console code block) of each block the scenario NAME fills, as the commands
    print it now."""
    state, scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="authtools-docs-") as tmp:
        transcript = Transcript(prepare(state, Path(tmp)), Path(tmp), name)
        scenario(transcript)
        return {block: f"```console\n{transcript.text(block)}```\n" for block in transcript.parts}


# --- the documents ---------------------------------------------------------------------------
def blocks(path: Path) -> Iterator[re.Match[str]]:
    yield from MARKER.finditer(path.read_text())


def marked_names() -> set[str]:
    return {m["name"] for path in DOCUMENTS for m in blocks(path)}


def block_names() -> set[str]:
    """The blocks the scenarios fill: each its own, and those named in ALSO."""
    return set(SCENARIOS) | {block for names in ALSO.values() for block in names}


def stale_blocks(outputs: dict[str, str]) -> list[str]:
    """A diff for each committed block that differs from its OUTPUTS entry (compared
    normalised)."""
    stale = []
    for path in DOCUMENTS:
        for m in blocks(path):
            name = m["name"]
            if name in outputs and comparable(m["body"]) != comparable(outputs[name]):
                diff = difflib.unified_diff(
                    comparable(m["body"]).splitlines(),
                    comparable(outputs[name]).splitlines(),
                    f"{path.relative_to(REPO)} ({name}, committed)",
                    "the commands now",
                    lineterm="",
                )
                stale.append("\n".join(diff))
    return stale


def regenerate(write: bool, only: list[str] | None = None) -> list[str]:
    """Run every scenario (or ONLY these) once; rewrite their blocks (WRITE) or list the stale
    ones."""
    unknown = (marked_names() - block_names()) | (set(only or ()) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    names = sorted(only or SCENARIOS)
    outputs: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # the work is in child processes
        for filled in pool.map(run_scenario, names):
            outputs.update(filled)
    stale = stale_blocks(outputs)
    if write:
        for path in DOCUMENTS:
            text = path.read_text()
            new = MARKER.sub(
                lambda m: m["open"] + outputs.get(m["name"], m["body"]) + m["close"], text
            )
            if new != text:
                path.write_text(new)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.docs", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="Change nothing; exit 1 if a block is stale."
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="Only these scenarios.")
    args = parser.parse_args(argv)
    # The children must import this checkout's authtools, whatever is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    stale = regenerate(write=not args.check, only=args.names)
    for diff in stale:
        print(diff, file=sys.stderr)
    verb = "stale" if args.check else "rewritten"
    print(f"{len(args.names or SCENARIOS)} scenarios, {len(stale)} block(s) {verb}.")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
