"""Benchmark: rebuild_contenttypes against Django's own route, at 100, 500 and 2,000 models.

    python benchmarks/rebuild_contenttypes.py [--sizes 100,500,2000] [--models-per-app 20]
                                              [--repeat 5]

Generates a throw-away project (SQLite, in a temporary folder) with as many apps of
--models-per-app models as the largest size needs, four default permissions each, then measures,
from the same starting rows every run:

* create: no content type or permission row at all (the whole project);
* remap at each size N: the first N models' apps renamed (their rows say 'old_app00.m0000'),
  with a group holding all the permissions and one admin log entry per model.

Django's route is what migrate's post_migrate does (create_contenttypes and create_permissions
for every app) followed by remove_stale_contenttypes (--include-stale-apps, so that the renamed
apps' rows go, with their assignments and log entries: the data loss rebuild_contenttypes
avoids); ours is ``call_command("rebuild_contenttypes")`` as a user runs it (plan, backup,
transaction, verification). The two routes alternate within every repeat (Django's first on odd
repeats, ours first on even ones), so a busy machine slows both alike. Reported: queries
(counted with connection.execute_wrapper), the median CPU time of this process (SQLite runs in
it, so that is the database's work too, and other load on the machine changes it far less) and
the median wall time, each with its range, the growth from size to size, and whether it is
linear: the CPU time per model at the largest size over that at the size before (at most 1 for
linear growth with a fixed cost, 4 for quadratic growth from 500 to 2,000); linear when at most
1.5. Not a test: no assertion on time. Exit status 0 when ours is linear and faster (CPU) than
Django's route at every size.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SETTINGS = """
SECRET_KEY = "benchmark"
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "authtools", {apps}
]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
"""


def generate(root: Path, n_apps: int, per_app: int) -> list[str]:
    labels = [f"app{a:02d}" for a in range(n_apps)]
    for a, label in enumerate(labels):
        (root / label).mkdir()
        (root / label / "__init__.py").write_text("")
        models = ["from django.db import models\n"]
        for m in range(per_app):
            models.append(
                f"class M{a * per_app + m:04d}(models.Model):\n    x = models.IntegerField()\n"
            )
        (root / label / "models.py").write_text("\n".join(models))
    apps = ", ".join(repr(label) for label in labels)
    (root / "bench_settings.py").write_text(SETTINGS.format(apps=apps, db=str(root / "db.sqlite3")))
    return labels


def counter() -> tuple[list[int], Callable[..., Any]]:
    """A query counter for connection.execute_wrapper (CaptureQueriesContext keeps only the
    last 9,000 queries)."""
    counted = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted[0] += 1
        return execute(sql, params, many, context)

    return counted, count


def once(prepare: Callable[[], None], run: Callable[[], Any]) -> tuple[int, float, float]:
    """(queries, wall seconds, CPU seconds) of one RUN from the rows PREPARE leaves. SQLite runs
    in this process, so the CPU time holds the database's work too, and a busy machine changes
    it far less than the wall time."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    prepare()
    ContentType.objects.clear_cache()
    counted, count = counter()
    with connection.execute_wrapper(count):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return counted[0], seconds, cpu


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.3f} ({min(times):.3f}-{max(times):.3f})"


def per_model_ratio(sizes: list[int], medians: list[float]) -> float:
    """Time per model at the largest size over time per model at the one before: at most 1
    when the time grows linearly (less with a fixed cost), the size ratio when it grows
    quadratically (4 from 500 to 2,000 models)."""
    return (medians[-1] / sizes[-1]) / (medians[-2] / sizes[-2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--sizes", default="100,500,2000", help="Remapped models, comma-separated.")
    parser.add_argument("--models-per-app", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = sorted(int(x) for x in args.sizes.split(","))
    per_app = args.models_per_app
    if len(sizes) < 3 or any(n % per_app for n in sizes):
        parser.error(f"give three sizes or more, each a multiple of --models-per-app {per_app}")
    n_apps = sizes[-1] // per_app
    load_before = os.getloadavg()

    root = Path(tempfile.mkdtemp(prefix="authtools-bench-"))
    generate(root, n_apps, per_app)
    sys.path.insert(0, str(root))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()
    from django.apps import apps
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", run_syncdb=True, verbosity=0)
    user = apps.get_model("auth", "User").objects.create(username="bench")
    backups = root / "backups"

    def empty() -> None:
        with connection.cursor() as cursor:
            for table in ("django_admin_log", "auth_group_permissions", "auth_permission"):
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM django_content_type")

    def django_create() -> None:
        for app_config in apps.get_app_configs():
            create_contenttypes(app_config, verbosity=0)
            create_permissions(app_config, verbosity=0)

    def django_route() -> None:
        django_create()
        call_command(
            "remove_stale_contenttypes", interactive=False, include_stale_apps=True, verbosity=0
        )

    def ours() -> None:
        call_command(
            "rebuild_contenttypes", interactive=False, backup_dir=backups, stdout=io.StringIO()
        )

    bench_labels = [f"app{a:02d}" for a in range(n_apps)]

    def renamed(models: int) -> Callable[[], None]:
        """The rows with the apps of the first MODELS models renamed."""
        labels = bench_labels[: models // per_app]

        def prepare() -> None:
            empty()
            ContentType.objects.clear_cache()
            django_create()
            group, _ = Group.objects.get_or_create(name="everything")
            group.permissions.set(Permission.objects.filter(content_type__app_label__in=labels))
            LogEntry.objects.bulk_create(
                LogEntry(
                    user=user,
                    content_type=ct,
                    object_id="1",
                    object_repr="x",
                    action_flag=CHANGE,
                    change_message="[]",
                )
                for ct in ContentType.objects.filter(app_label__in=labels)
            )
            for label in labels:
                ContentType.objects.filter(app_label=label).update(app_label=f"old_{label}")

        return prepare

    routes = (("django", django_route), ("ours", ours))
    cases = [("create", sizes[-1], empty)] + [("remap", n, renamed(n)) for n in sizes]
    times: dict[tuple[str, int, str], list[float]] = {}
    cpu_times: dict[tuple[str, int, str], list[float]] = {}
    queries: dict[tuple[str, int, str], list[int]] = {}
    for repeat in range(args.repeat):
        for case, n, prepare in cases:
            for name, run in routes if repeat % 2 == 0 else routes[::-1]:
                q, seconds, cpu = once(prepare, run)
                times.setdefault((case, n, name), []).append(seconds)
                cpu_times.setdefault((case, n, name), []).append(cpu)
                queries.setdefault((case, n, name), []).append(q)

    load_after = os.getloadavg()
    print(
        f"rebuild_contenttypes against Django's route (post_migrate + remove_stale_contenttypes "
        f"--include-stale-apps); SQLite; Django {django.get_version()}; Python "
        f"{sys.version.split()[0]}; {per_app} models an app, 4 permissions a model; median "
        f"(min-max) of {args.repeat} interleaved runs; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after, on {os.cpu_count()} CPUs"
    )
    print(
        f"{'case':<7} {'models':>6} {'route':<7} {'queries':>8} {'CPU s (range)':>24} "
        f"{'wall s (range)':>24}"
    )
    for case, n, _ in cases:
        for name, _ in routes:
            key = (case, n, name)
            print(
                f"{case:<7} {n:>6} {name:<7} {statistics.median(queries[key]):>8.0f} "
                f"{summary(cpu_times[key]):>24} {summary(times[key]):>24}"
            )
    ok = True
    for name, _ in routes:
        medians = [statistics.median(cpu_times[("remap", n, name)]) for n in sizes]
        steps = ", ".join(
            f"{a}->{b} models: {y / x:.1f}x CPU time"
            for a, b, x, y in zip(sizes, sizes[1:], medians, medians[1:], strict=False)
        )
        ratio = per_model_ratio(sizes, medians)
        linear = ratio <= 1.5
        print(
            f"remap growth, {name}: {steps}; CPU time per model at {sizes[-1]} / at "
            f"{sizes[-2]}: {ratio:.2f} ({'linear' if linear else 'NOT linear'})"
        )
        if name == "ours":
            ok = ok and linear
    for case, n, _ in cases:
        faster = statistics.median(cpu_times[(case, n, "ours")]) < statistics.median(
            cpu_times[(case, n, "django")]
        )
        ok = ok and faster
        if not faster:
            print(f"{case} at {n} models: rebuild_contenttypes is NOT faster than Django's route")
    prepare = renamed(sizes[-1])
    perms = sizes[-1] * 4
    for name, run in routes:
        prepare()
        run()
        kept = Group.objects.get(name="everything").permissions.count()
        print(
            f"after the remap of {sizes[-1]} models: the group keeps {kept} of {perms} "
            f"permissions with {name}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
