"""Benchmark: what installing authtools adds to ``manage.py check``.

It writes the 100-app project of ``diagnose_vs_showmigrations.py`` (no database: ``check``
reads none), then runs ``manage.py check`` alternately with and without ``authtools`` in
INSTALLED_APPS (the same settings file; an environment variable takes the app out), RUNS times
each, in subprocesses (``harness.compare``), and prints the median CPU and wall time (user +
system, of the child) of each with its range, the load average, and the ratios. The goal:
with authtools costs at most 1.05x without, in CPU time (wall time is printed too; on a
shared machine it is the noisier of the two).

    .venvs/django-6.1/bin/python benchmarks/check_overhead.py [--runs 15]

Exit status 0 when the goal is met, 1 when it is not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from diagnose_vs_showmigrations import write_project
from harness import Variant

GOAL = 1.05
WITHOUT = "BENCH_WITHOUT_AUTHTOOLS"
SETTINGS_TAIL = f"""
if os.environ.get({WITHOUT!r}):
    INSTALLED_APPS.remove("authtools")
"""


OK = "System check identified no issues (0 silenced).\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="Runs of each variant (default 15).")
    parser.add_argument("--apps", type=int, default=100, help="Apps in the project (default 100).")
    parser.add_argument(
        "--migrations", type=int, default=20, help="Migrations per app (default 20)."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the generated project and print where."
    )
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="authtools-bench-check-"))
    try:
        write_project(root, args.apps, args.migrations)
        with (root / "bench" / "settings.py").open("a") as settings:
            settings.write(SETTINGS_TAIL)
        print(f"project: {args.apps} apps x {args.migrations} migrations; manage.py check")
        with_, without = "with authtools", "without authtools"
        variants = [
            Variant(with_, ("check",), {WITHOUT: None}, expect=OK),
            Variant(without, ("check",), {WITHOUT: "1"}, expect=OK),
        ]
        timings = harness.compare(root, variants, args.runs)
        harness.report(timings, args.runs)
        cpu_ratio = timings.median_ratio("cpu", with_, without)
        wall_ratio = timings.median_ratio("wall", with_, without)
        met = cpu_ratio <= GOAL
        print(
            f"ratio cpu {cpu_ratio:.3f}, wall {wall_ratio:.3f} (goal: cpu <= {GOAL}): "
            f"{'met' if met else 'MISSED'}"
        )
        if args.keep:
            print(f"project kept in {root}")
        return 0 if met else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
