"""The runner shared by the manage.py benchmarks (check_overhead.py, diagnose_vs_showmigrations.py).

``compare()`` runs named variants of one manage.py command in subprocesses, interleaved (each
variant first in every other round), after one untimed warm-up run of each, and returns the wall
and CPU time (user + system of the child, from ``getrusage``) of every run. ``report()`` prints
each variant's medians with ranges, CPU next to wall, and the load average before and after.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Variant:
    """One measured command: manage.py ARGS in ROOT with ENV added (a None value removes the
    variable); EXPECT, when given, is the whole stdout it must print."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str | None] = field(default_factory=dict)
    expect: str | None = None


@dataclass
class Timings:
    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    load_before: str
    load_after: str

    def median_ratio(self, kind: str, a: str, b: str) -> float:
        values = self.wall if kind == "wall" else self.cpu
        return statistics.median(values[a]) / statistics.median(values[b])


def bench_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a measured command: no DJANGO_SETTINGS_MODULE (manage.py sets it),
    and bytecode written and reused, as in an installed project. PYTHONDONTWRITEBYTECODE is
    removed, not set to "0": any non-empty value disables writing, and every run would compile
    each module without a .pyc again (authtools' own, in a fresh clone)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(root: Path, variant: Variant) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; a failure (or an unexpected output) stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", *variant.args],
        cwd=root,
        env=bench_env(variant.env),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = " ".join(variant.args)
    if proc.returncode != 0 or (variant.expect is not None and proc.stdout != variant.expect):
        sys.exit(f"`manage.py {command}` failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def load_average() -> str:
    """The 1-minute load average, from /proc/loadavg."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return f"{os.getloadavg()[0]:.2f}"


def compare(
    root: Path, variants: Sequence[Variant], runs: int, progress: Callable[[str], None] = print
) -> Timings:
    """Warm each variant once, then RUNS rounds of every variant, the order reversed in every
    other round."""
    for variant in variants:
        run(root, variant)
    load_before = load_average()
    wall: dict[str, list[float]] = {v.name: [] for v in variants}
    cpu: dict[str, list[float]] = {v.name: [] for v in variants}
    for i in range(runs):
        for variant in variants if i % 2 == 0 else list(reversed(variants)):
            w, c = run(root, variant)
            wall[variant.name].append(w)
            cpu[variant.name].append(c)
    return Timings(wall, cpu, load_before, load_average())


def summary(values: list[float]) -> str:
    """'1.000 s (0.950-1.100)': the median and the range."""
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def report(timings: Timings, runs: int) -> None:
    """Each variant's median CPU and wall time with their ranges, and the load average."""
    import django

    print(
        f"Django {django.get_version()}, Python {sys.version.split()[0]}; median (min-max) of "
        f"{runs} interleaved runs; load average {timings.load_before} before, "
        f"{timings.load_after} after, on {os.cpu_count()} CPUs"
    )
    width = max(len(name) for name in timings.cpu)
    for name in timings.cpu:
        print(
            f"{name:{width}}  cpu {summary(timings.cpu[name])}  wall {summary(timings.wall[name])}"
        )
