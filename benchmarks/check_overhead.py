"""Benchmark: what installing authtools adds to ``manage.py check``.

It writes the 100-app project of ``diagnose_vs_showmigrations.py`` (no database: ``check``
reads none), then runs ``manage.py check`` alternately with and without ``authtools`` in
INSTALLED_APPS (the same settings file; an environment variable takes the app out), RUNS times
each, in subprocesses, and prints the median wall and CPU time (user + system, of the child) of
each with its range, and the ratios. The goal: with authtools costs at most 1.05x without, in
CPU time (wall time is printed too; on a shared machine it is the noisier of the two).

    .venvs/django-6.1/bin/python benchmarks/check_overhead.py [--runs 15]

Exit status 0 when the goal is met, 1 when it is not.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnose_vs_showmigrations import bench_env, write_project

GOAL = 1.05
WITHOUT = "BENCH_WITHOUT_AUTHTOOLS"
SETTINGS_TAIL = f"""
if os.environ.get({WITHOUT!r}):
    INSTALLED_APPS.remove("authtools")
"""


def run_check(root: Path, with_authtools: bool) -> tuple[float, float]:
    """(wall, cpu) seconds of one ``manage.py check``; a failure stops the benchmark."""
    env = bench_env()
    env.pop(WITHOUT, None)
    if not with_authtools:
        env[WITHOUT] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or proc.stdout != "System check identified no issues (0 silenced).\n":
        sys.exit(f"`manage.py check` failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (range {min(values):.3f}-{max(values):.3f})"


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
        run_check(root, True)  # warm the bytecode caches of both variants, then measure
        run_check(root, False)
        wall: dict[bool, list[float]] = {True: [], False: []}
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.runs):
            for variant in (True, False) if i % 2 == 0 else (False, True):
                w, c = run_check(root, variant)
                wall[variant].append(w)
                cpu[variant].append(c)
        for variant, name in ((True, "with authtools"), (False, "without authtools")):
            print(f"{name:18} wall {summary(wall[variant])}; cpu {summary(cpu[variant])}")
        wall_ratio = statistics.median(wall[True]) / statistics.median(wall[False])
        cpu_ratio = statistics.median(cpu[True]) / statistics.median(cpu[False])
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
