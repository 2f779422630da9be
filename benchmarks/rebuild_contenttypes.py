"""Benchmark: rebuild_contenttypes against Django's own route, 500 models, 2,000 permissions.

    python benchmarks/rebuild_contenttypes.py [--apps 25] [--models-per-app 20] [--repeat 5]

Generates a throw-away project (SQLite, in a temporary folder) with APPS x MODELS models, four
default permissions each, then measures two cases, each from the same starting rows every run:

* create: no content type or permission row at all;
* remap: every app renamed (the rows say 'old_app00.m0000'), with a group holding all the
  permissions and one admin log entry per model.

Django's route is what migrate's post_migrate does (create_contenttypes and create_permissions
for every app) followed by remove_stale_contenttypes (--include-stale-apps, so that the renamed
apps' rows go, with their assignments and log entries: the data loss rebuild_contenttypes
avoids). Reported: queries (counted with connection.execute_wrapper) and the median wall
time. Not a test: no assertion on time.
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


def measure(prepare: Callable[[], None], run: Callable[[], Any], repeat: int) -> tuple[int, float]:
    """(queries of one run, median seconds). Queries are counted with an execute wrapper
    (CaptureQueriesContext keeps only the last 9,000)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    times, counted = [], [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted[0] += 1
        return execute(sql, params, many, context)

    for _ in range(repeat):
        prepare()
        ContentType.objects.clear_cache()
        counted[0] = 0
        with connection.execute_wrapper(count):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return counted[0], statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--apps", type=int, default=25)
    parser.add_argument("--models-per-app", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="authtools-bench-"))
    generate(root, args.apps, args.models_per_app)
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

    bench_labels = {f"app{a:02d}" for a in range(args.apps)}

    def renamed() -> None:
        empty()
        ContentType.objects.clear_cache()
        django_create()
        group, _ = Group.objects.get_or_create(name="everything")
        group.permissions.set(Permission.objects.filter(content_type__app_label__in=bench_labels))
        LogEntry.objects.bulk_create(
            LogEntry(
                user=user,
                content_type=ct,
                object_id="1",
                object_repr="x",
                action_flag=CHANGE,
                change_message="[]",
            )
            for ct in ContentType.objects.filter(app_label__in=bench_labels)
        )
        for label in bench_labels:
            ContentType.objects.filter(app_label=label).update(app_label=f"old_{label}")

    models = sum(len(list(apps.get_app_config(label).get_models())) for label in bench_labels)
    perms = models * 4
    print(
        f"Project: {models} models in {args.apps} apps, {perms} permissions; SQLite; "
        f"Django {django.get_version()}; median of {args.repeat} runs"
    )
    print(f"{'case':<8} {'route':<38} {'queries':>8} {'median s':>9}")
    for case, prepare in (("create", empty), ("remap", renamed)):
        for name, run in (
            ("django post_migrate + remove_stale", django_route),
            ("rebuild_contenttypes", ours),
        ):
            queries, seconds = measure(prepare, run, args.repeat)
            print(f"{case:<8} {name:<38} {queries:>8} {seconds:>9.3f}")
        if case == "remap":
            prepare()
            ours()
            kept = Group.objects.get(name="everything").permissions.count()
            print(
                f"after remap: group keeps {kept} of {perms} permissions with rebuild_contenttypes"
            )
            prepare()
            django_route()
            kept = Group.objects.get(name="everything").permissions.count()
            print(f"after remap: group keeps {kept} of {perms} permissions with Django's route")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
