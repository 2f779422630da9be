"""Benchmark: ``manage.py diagnose_user_model`` against ``manage.py showmigrations``.

It writes a project with APPS apps of MIGRATIONS migrations each into a temporary folder (models
with fields, foreign keys to settings.AUTH_USER_MODEL in some, dependencies across apps; the
models match the migrations, so the project is healthy), builds its SQLite database once (the
tables from the models, every migration recorded as applied), then runs
the two commands interleaved in subprocesses, RUNS times each (``harness.compare``), and prints
the median CPU and wall time (user + system of the child) of each, with ranges, the load
average, and their ratios. The goal: the
diagnosis costs at most 1.3x showmigrations in wall time (the exit status); the CPU ratio is
printed against issue 10's goal of 1.0x.

    .venvs/django-6.1/bin/python benchmarks/diagnose_vs_showmigrations.py [--runs 7]

Exit status 0 when the goal is met, 1 when it is not.
"""

# ruff: noqa: E501 - the templates below are generated migration code, kept one line per field
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import Variant

GOAL = 1.3
CPU_GOAL = 1.0  # the issue-10 goal, printed; the exit status follows GOAL
REPO = Path(__file__).resolve().parent.parent

SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark"
DEBUG = False
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "authtools",
    "accounts",
] + [f"app{{i:03d}}" for i in range({apps})]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "bench.urls"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {{"context_processors": ["django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "django.template.context_processors.request"]}}}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}}}
AUTH_USER_MODEL = "accounts.User"
if os.environ.get("BENCH_SYNCDB"):  # the tables straight from the models (see build_database)
    MIGRATION_MODULES = {{label.rsplit(".", 1)[-1]: None for label in INSTALLED_APPS}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

MANAGE = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

ACCOUNTS_MODELS = """\
from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    pass
"""

ACCOUNTS_0001 = """\
import django.contrib.auth.models
import django.contrib.auth.validators
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [
        migrations.CreateModel(
            name="User",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("password", models.CharField(max_length=128, verbose_name="password")),
                ("last_login", models.DateTimeField(blank=True, null=True, verbose_name="last login")),
                ("is_superuser", models.BooleanField(default=False, help_text="Designates that this user has all permissions without explicitly assigning them.", verbose_name="superuser status")),
                ("username", models.CharField(error_messages={"unique": "A user with that username already exists."}, help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.", max_length=150, unique=True, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name="username")),
                ("first_name", models.CharField(blank=True, max_length=150, verbose_name="first name")),
                ("last_name", models.CharField(blank=True, max_length=150, verbose_name="last name")),
                ("email", models.EmailField(blank=True, max_length=254, verbose_name="email address")),
                ("is_staff", models.BooleanField(default=False, help_text="Designates whether the user can log into this admin site.", verbose_name="staff status")),
                ("is_active", models.BooleanField(default=True, help_text="Designates whether this user should be treated as active. Unselect this instead of deleting accounts.", verbose_name="active")),
                ("date_joined", models.DateTimeField(default=django.utils.timezone.now, verbose_name="date joined")),
                ("groups", models.ManyToManyField(blank=True, help_text="The groups this user belongs to. A user will get all permissions granted to each of their groups.", related_name="user_set", related_query_name="user", to="auth.group", verbose_name="groups")),
                ("user_permissions", models.ManyToManyField(blank=True, help_text="Specific permissions for this user.", related_name="user_set", related_query_name="user", to="auth.permission", verbose_name="user permissions")),
            ],
            options={"verbose_name": "user", "verbose_name_plural": "users", "abstract": False},
            managers=[("objects", django.contrib.auth.models.UserManager())],
        ),
    ]
"""

# Field source shared by the migrations and the models, so that nothing is pending.
ADDED_FIELDS = [
    "models.IntegerField(default=0)",
    'models.CharField(max_length=50, default="", blank=True)',
    "models.BooleanField(default=False)",
    "models.DecimalField(max_digits=10, decimal_places=2, default=0)",
    "models.DateField(null=True, blank=True)",
]


def app_plan(i: int, n_migrations: int) -> list[dict[str, object]]:
    """The migrations of app I: what each creates or adds, and what it depends on."""
    app = f"app{i:03d}"
    plan: list[dict[str, object]] = []
    for k in range(1, n_migrations + 1):
        step: dict[str, object] = {"k": k, "deps": [], "swappable": False}
        if k == 1:
            step["kind"] = "thing"
            step["swappable"] = i % 3 == 0
        elif k % 2 == 0:
            step["kind"] = "field"
            step["field"] = (f"field{k:02d}", ADDED_FIELDS[k % len(ADDED_FIELDS)])
        else:
            step["kind"] = "part"
            step["user_fk"] = k % 7 == 0
            step["swappable"] = k % 7 == 0
            step["cross"] = f"app{i - 1:03d}" if (k % 5 == 0 and i > 0) else None
            if step["cross"]:
                step["deps"] = [(step["cross"], "0001_initial")]
        step["name"] = (
            f"{k:04d}_"
            + {"thing": "initial", "field": f"thing_field{k:02d}", "part": f"part{k:02d}"}[
                str(step["kind"])
            ]
        )
        step["app"] = app
        plan.append(step)
    return plan


def part_fields(step: dict[str, object], app: str) -> list[tuple[str, str]]:
    k = step["k"]
    fields = [
        ("label", "models.CharField(max_length=50)"),
        (
            "thing",
            f'models.ForeignKey(on_delete=models.CASCADE, related_name="parts{k:02d}", to="{app}.thing")',
        ),
    ]
    if step["user_fk"]:
        fields.append(
            (
                "owner",
                f'models.ForeignKey(on_delete=models.CASCADE, related_name="{app}_part{k:02d}", to=settings.AUTH_USER_MODEL)',
            )
        )
    if step["cross"]:
        fields.append(
            (
                "other",
                f'models.ForeignKey(null=True, on_delete=models.SET_NULL, related_name="{app}_part{k:02d}", to="{step["cross"]}.thing")',
            )
        )
    return fields


def migration_source(step: dict[str, object], previous: str | None) -> str:
    app = str(step["app"])
    deps = [f"({app!r}, {previous!r})"] if previous else []
    if step["swappable"]:
        deps.append("migrations.swappable_dependency(settings.AUTH_USER_MODEL)")
    deps += [f"({a!r}, {n!r})" for a, n in step["deps"]]  # type: ignore[attr-defined]
    auto = 'models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")'
    if step["kind"] == "thing":
        fields = [
            ("id", auto),
            ("name", "models.CharField(max_length=100)"),
            ("created", "models.DateTimeField(auto_now_add=True)"),
        ]
        if step["swappable"]:
            fields.append(
                (
                    "owner",
                    'models.ForeignKey(null=True, on_delete=models.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)',
                )
            )
        op = _create("Thing", fields)
    elif step["kind"] == "field":
        name, source = step["field"]  # type: ignore[misc]
        op = f'migrations.AddField(model_name="thing", name={name!r}, field={source})'
    else:
        op = _create(f"Part{step['k']:02d}", [("id", auto), *part_fields(step, app)])
    return textwrap.dedent(
        f"""\
        from django.conf import settings
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = {step["k"] == 1}
            dependencies = [{", ".join(deps)}]
            operations = [{op}]
        """
    )


def _create(name: str, fields: list[tuple[str, str]]) -> str:
    body = ", ".join(f"({n!r}, {s})" for n, s in fields)
    return f"migrations.CreateModel(name={name!r}, fields=[{body}])"


def models_source(plan: list[dict[str, object]]) -> str:
    app = str(plan[0]["app"])
    thing = [
        "    name = models.CharField(max_length=100)",
        "    created = models.DateTimeField(auto_now_add=True)",
    ]
    if plan[0]["swappable"]:
        thing.append(
            '    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")'
        )
    parts = []
    for step in plan:
        if step["kind"] == "field":
            name, source = step["field"]  # type: ignore[misc]
            thing.append(f"    {name} = {source}")
        elif step["kind"] == "part":
            lines = [f"class Part{step['k']:02d}(models.Model):"]
            lines += [f"    {fname} = {source}" for fname, source in part_fields(step, app)]
            parts.append("\n".join(lines))
    return (
        "from django.conf import settings\nfrom django.db import models\n\n\n"
        + "class Thing(models.Model):\n"
        + "\n".join(thing)
        + "\n\n\n"
        + "\n\n\n".join(parts)
        + "\n"
    )


def write_project(root: Path, n_apps: int, n_migrations: int) -> None:
    (root / "bench").mkdir(parents=True)
    (root / "bench" / "__init__.py").write_text("")
    (root / "bench" / "settings.py").write_text(SETTINGS.format(apps=n_apps))
    (root / "bench" / "urls.py").write_text("urlpatterns = []\n")
    (root / "manage.py").write_text(MANAGE)
    _write_app(root / "accounts", ACCOUNTS_MODELS, {"0001_initial": ACCOUNTS_0001})
    for i in range(n_apps):
        plan = app_plan(i, n_migrations)
        files, previous = {}, None
        for step in plan:
            files[str(step["name"])] = migration_source(step, previous)
            previous = str(step["name"])
        _write_app(root / f"app{i:03d}", models_source(plan), files)


def _write_app(path: Path, models: str, migrations: dict[str, str]) -> None:
    (path / "migrations").mkdir(parents=True)
    (path / "__init__.py").write_text("")
    (path / "models.py").write_text(models)
    (path / "migrations" / "__init__.py").write_text("")
    for name, source in migrations.items():
        (path / "migrations" / f"{name}.py").write_text(source)


def build_database(root: Path) -> None:
    """Create the tables from the models, then record every migration as applied.

    The models match the migrations, so this is the database ``migrate`` builds, without
    running 2,000 migrations one by one (which takes tens of minutes on SQLite).
    """
    migrate = ("migrate", "--no-input", "-v", "0")
    harness.run(root, Variant("syncdb", (*migrate, "--run-syncdb"), {"BENCH_SYNCDB": "1"}))
    harness.run(root, Variant("fake", (*migrate, "--fake")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Runs of each command (default 7).")
    parser.add_argument("--apps", type=int, default=100, help="Apps in the project (default 100).")
    parser.add_argument(
        "--migrations", type=int, default=20, help="Migrations per app (default 20)."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the generated project and print where."
    )
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="authtools-bench-"))
    try:
        write_project(root, args.apps, args.migrations)
        started = time.perf_counter()
        build_database(root)
        print(
            f"project: {args.apps} apps x {args.migrations} migrations, database built "
            f"in {time.perf_counter() - started:.1f} s"
        )
        diagnose, show = "diagnose_user_model", "showmigrations"
        timings = harness.compare(
            root, [Variant(diagnose, (diagnose,)), Variant(show, (show,))], args.runs
        )
        harness.report(timings, args.runs)
        ratio = timings.median_ratio("wall", diagnose, show)
        cpu_ratio = timings.median_ratio("cpu", diagnose, show)
        met = ratio <= GOAL
        print(
            f"ratio cpu {cpu_ratio:.3f} (goal <= {CPU_GOAL}): "
            f"{'met' if cpu_ratio <= CPU_GOAL else 'missed'}; "
            f"wall {ratio:.3f} (goal <= {GOAL}): {'met' if met else 'MISSED'}"
        )
        if args.keep:
            print(f"project kept in {root}")
        return 0 if met else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
