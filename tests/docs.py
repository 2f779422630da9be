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

A scenario is (starting State, function). A State is built once per process and copied for each
scenario that starts from it. The project of a scenario lives in TMP/mysite, shown as
/srv/mysite; what a scenario puts beside it (a vendor/ folder) shows under /srv, and the Python
executable as /srv/venv/bin/python. A command's stdout and stderr are shown interleaved, as a
terminal shows them. Excerpts (findings_excerpt, plan_excerpt, tail_after_plan) cut long output
and say so ('  ...', '[N more findings left out of this excerpt]').
"""

from __future__ import annotations

import argparse
import atexit
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.backuphelpers import rewrite
from tests.conftest import REPO, Database, Project, copy_testproject
from tests.helpers import migrate_as_auth_user, settings_package, switch_to_accounts_user
from tests.swaphelpers import SEED as SWAP_SEED
from tests.swaphelpers import before_state, remove_app, write_new_model
from tests.test_diagnose_references import MIGRATION as REFERENCES_MIGRATION
from tests.test_diagnose_references import TEMPLATE as REFERENCES_TEMPLATE
from tests.test_diagnose_references import VIEWS as REFERENCES_VIEWS
from tests.test_fix_user_model_code import break_the_project
from tests.test_swap_user_model_fields import EMAIL_MODEL
from tests.test_swap_user_model_keys import BIG_APPS
from tests.test_swap_user_model_keys import MODEL as BIG_MODEL

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(
    r"(?P<open><!-- output: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close><!-- /output -->)",
    re.S,
)
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

    def __init__(self, project: Project, tmp: Path) -> None:
        self.project = project
        self.tmp = tmp  # the project is TMP/mysite; what lies beside it shows under /srv
        self.parts: list[str] = []

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
        # stdout and stderr on one pipe, as a terminal shows them (the children run unbuffered)
        proc = subprocess.run(
            [sys.executable, *argv],
            cwd=self.project.path,
            env=self.project.env(**(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        out = proc.stdout
        if proc.returncode != code:
            raise RuntimeError(
                f"{shlex.join(argv)}: expected exit {code}, got {proc.returncode}:\n{out}"
            )
        if not show:
            return out
        if short_traceback and "Traceback (most recent call last):" in out:
            before, _, trace = out.partition("Traceback (most recent call last):")
            last = trace.rstrip("\n").splitlines()[-1]
            out = f"{before}Traceback (most recent call last):\n  ...\n{last}\n"
        shown = "python " + shlex.join(argv)
        self.parts.append(f"$ {shown}\n{excerpt(out) if excerpt else out}")
        return out

    def text(self) -> str:
        text = "".join(self.parts)
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


SEED = """
from django.contrib.auth.models import Group, Permission, User
group = Group.objects.create(name="staff")
group.permissions.add(Permission.objects.get(codename="change_user"))
User.objects.create_user("alice", "alice@example.com", "pw-alice").groups.add(group)
"""


VIEWS = """from django.contrib.auth.decorators import permission_required


@permission_required("auth.change_user")
def edit_user(request, pk):
    ...
"""


def _live_on_auth_user(project: Project) -> None:
    """A project that went live on auth.User (the accounts app not yet installed)."""
    migrate_as_auth_user(project, then=SEED)


LIVE_ON_AUTH_USER = State(_live_on_auth_user)


def _setting_switched(project: Project) -> None:
    """... then set AUTH_USER_MODEL = 'accounts.User' (the project's settings): migrate now
    fails with InconsistentMigrationHistory. A view still checks the old model's permission."""
    project.write("shop/views.py", VIEWS)


SETTING_SWITCHED = State(_setting_switched, LIVE_ON_AUTH_USER)
# ... and created the new tables by hand and recorded them (migrate refuses all the same).
SWITCHED = State(switch_to_accounts_user, LIVE_ON_AUTH_USER)
MIGRATED = State(lambda project: project.migrate())


def _model_written(project: Project) -> None:
    """Migrated on auth.User; accounts.User and its migration written; setting not switched."""
    saved = {rel: project.read(rel) for rel in ("accounts/models.py", "accounts/admin.py")}
    saved["accounts/migrations/0001_initial.py"] = project.read(
        "accounts/migrations/0001_initial.py"
    )
    project.remove("accounts/migrations")
    project.write("accounts/models.py", "")
    project.write("accounts/admin.py", "")
    project.set_setting("AUTH_USER_MODEL", "'auth.User'")
    project.migrate()
    for rel, text in saved.items():
        project.write(rel, text)
    project.write("accounts/migrations/__init__.py", "")


MODEL_WRITTEN = State(_model_written)


def _on_auth_user_no_app(project: Project) -> None:
    """The project on auth.User with users, orders, profiles, groups and admin history: no
    AUTH_USER_MODEL line, no accounts app (the swap runbook's starting point)."""
    remove_app(project, "accounts")
    project.remove_setting("AUTH_USER_MODEL")
    project.migrate()
    project.shell(SWAP_SEED)


ON_AUTH_USER = State(_on_auth_user_no_app)
SCAFFOLDED = State(
    lambda project: project.ok(
        "swap_user_model", "--scaffold", "accounts", "--write-settings", "-v", "0"
    ),
    ON_AUTH_USER,
)
# The project on auth.User with the same data, the accounts app installed with no model yet.
BEFORE_SWAP = State(before_state)


# --- scenarios: one per marker name ------------------------------------------------------------
def diagnose_switched(t: Transcript) -> None:
    t.manage(
        "diagnose_user_model",
        "--no-color",
        code=1,
        excerpt=findings_excerpt("W303", "E403", "E502", "W602"),
    )


def diagnose_switched_migrations(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E405", "E403"))


def diagnose_target(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--target", "accounts.User", "--no-color", code=1)


def reset_deleted_migration(t: Transcript) -> None:
    t.project.remove("accounts/migrations/0001_initial.py")
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput")
    t.manage("reset_user_migrations", "--noinput")


SHOP_0002 = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField("order", "note", models.CharField(max_length=20, blank=True)),
    ]
"""


def _dependent_deleted(project: Project) -> None:
    """accounts' initial migration deleted after migrate, while shop's new migration (not yet
    applied) depends on it."""
    project.remove("accounts/migrations/0001_initial.py")
    project.write("shop/migrations/0002_order_note.py", SHOP_0002)
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "    created =", "    note = models.CharField(max_length=20, blank=True)\n    created ="
        ),
    )


DEPENDENT_DELETED = State(_dependent_deleted, MIGRATED)


def reset_dependent_deleted(t: Transcript) -> None:
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput")
    t.manage("reset_user_migrations")


def _squash_dependent_deleted(project: Project) -> None:
    """As DEPENDENT_DELETED, but the deleted migration was a squash named
    0001_squashed_0002_user_nickname, which shop's new migration depends on."""
    migrations = project.path / "accounts" / "migrations"
    (migrations / "0001_initial.py").rename(migrations / "0001_squashed_0002_user_nickname.py")
    project.migrate()
    (migrations / "0001_squashed_0002_user_nickname.py").rename(migrations / "0001_initial.py")
    _dependent_deleted(project)
    project.write(
        "shop/migrations/0002_order_note.py",
        SHOP_0002.replace('"0001_initial"),\n    ]', '"0001_squashed_0002_user_nickname"),\n    ]'),
    )


def reset_renamed_dependency(t: Transcript) -> None:
    _squash_dependent_deleted(t.project)
    t.manage("reset_user_migrations", "--dry-run", excerpt=plan_excerpt(3, whole=(3,)))


def reset_restore(t: Transcript) -> None:
    out = t.manage("reset_user_migrations", "--noinput", show=False)
    backup = Path(out.split("Backup: ")[1].split("\n")[0])
    t.manage("reset_user_migrations", "--noinput", "--restore", f".authtools-backups/{backup.name}")


def reset_switched(t: Transcript) -> None:
    """A project that went live on auth.User, then switched: the reset refuses (it would create
    empty user tables) and names the swap."""
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput", code=1)


def rebuild_after_switch(t: Transcript) -> None:
    """The new user tables created by hand and recorded, then migrate (which creates the new
    model's content type): the old content type and its permissions are left behind."""
    t.project.migrate()
    t.manage("rebuild_contenttypes", "--noinput")


def reset_nothing_on_auth_user(t: Transcript) -> None:
    project = t.project
    settings = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        settings + "INSTALLED_APPS = [a for a in INSTALLED_APPS if a not in ('accounts', 'shop', "
        "'profiles')]\nAUTH_USER_MODEL = 'auth.User'\n",
    )
    project.migrate()
    t.manage("reset_user_migrations")


def version(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--version")


# --- swap_user_model ---------------------------------------------------------------------------
def swap_scaffold(t: Transcript) -> None:
    t.manage("swap_user_model", "--scaffold", "accounts", "--write-settings")


def swap_scaffold_settings_package(t: Transcript) -> None:
    settings_package(t.project)  # manage.py now names testproject.settings.local
    t.manage("swap_user_model", "--scaffold", "accounts")


def swap_plan(t: Transcript) -> None:
    t.manage("swap_user_model", "--from", "auth.User", "--dry-run")


def swap_run(t: Transcript) -> None:
    t.manage("swap_user_model", "--from", "auth.User", "--noinput", excerpt=tail_after_plan)


def swap_refused_cause(t: Transcript) -> None:
    """A relation hard-coded to auth.User: once AUTH_USER_MODEL names accounts.User, shop's
    model differs from its migration."""
    models = t.project.read("shop/models.py")
    t.project.write(
        "shop/models.py", models.replace("settings.AUTH_USER_MODEL,", '"auth.User",', 1)
    )
    write_new_model(t.project)
    t.manage("swap_user_model", "--from", "auth.User", "--dry-run", code=1)


def swap_other_fields(t: Transcript) -> None:
    """The email model of testproject/gallery/email_user.py plus a nickname field."""
    t.project.write("accounts/models.py", EMAIL_MODEL)
    t.project.write("accounts/admin.py", "")
    t.project.set_setting("AUTH_USER_MODEL", '"accounts.User"')
    t.project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    t.manage(
        "swap_user_model",
        "--from",
        "auth.User",
        "--drop-columns",
        "--dry-run",
        excerpt=plan_excerpt(1, 2, -2, -1, whole=(1, -2, -1)),
    )


def swap_bigautofield_refused(t: Transcript) -> None:
    """A startapp-style user model under BigAutoField and its migration."""
    write_new_model(t.project)
    t.project.write("accounts/apps.py", BIG_APPS)
    t.project.write("accounts/models.py", BIG_MODEL)
    t.project.remove("accounts/migrations/0001_initial.py")
    t.project.ok("makemigrations", "accounts", "-v", "0", "--skip-checks")
    t.manage("swap_user_model", "--from", "auth.User", "--noinput", code=1)


# --- backups -----------------------------------------------------------------------------------
def _swapped_backup(t: Transcript) -> Path:
    """Run the swap (not shown); return its backup folder."""
    out = t.manage("swap_user_model", "--from", "auth.User", "--noinput", show=False)
    return Path(out.split("Backup: ")[1].split("\n")[0])


def backup_refused_field(t: Transcript) -> None:
    backup = _swapped_backup(t)
    rewrite(backup, "swap-spec", lambda spec: {**spec, "sql": ["DROP TABLE accounts_user"]})
    t.manage("swap_user_model", "--rollback", "--noinput", code=1)


def backup_rollback(t: Transcript) -> None:
    _swapped_backup(t)
    t.manage("swap_user_model", "--rollback", "--noinput", excerpt=tail_after_plan)


# --- fix_user_model_code -----------------------------------------------------------------------
def fix_dry_run(t: Transcript) -> None:
    break_the_project(t.project)
    t.module(
        "fix",
        "--settings=testproject.settings",
        "--dry-run",
        excerpt=plan_excerpt(1, 2, whole=(1, 2)),
    )


# --- diagnose_user_model: setting and model ------------------------------------------------------
def diagnose_setting_typo(t: Transcript) -> None:
    t.project.set_setting("AUTH_USER_MODEL", "'acounts.User'")
    t.module("diagnose", "--settings", "testproject.settings", "--no-color", code=1)


def check_manager(t: Transcript) -> None:
    """The seed article's model: objects = models.Manager()."""
    t.project.use_gallery("seed_user")
    t.project.write("accounts/admin.py", "")  # the article registers no admin
    t.manage("check", code=1)


# --- diagnose_user_model: database ------------------------------------------------------------
def diagnose_database_switched(t: Transcript) -> None:
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E405", "E502"))


STALE_COUPON = """
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
coupon = ContentType.objects.create(app_label="shop", model="coupon")
Group.objects.create(name="editors").permissions.add(Permission.objects.create(
    content_type=coupon, codename="add_coupon", name="Can add coupon"))
"""


def diagnose_stale_contenttype(t: Transcript) -> None:
    t.project.shell(STALE_COUPON)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("W601"))


USERS_WITHOUT_PROFILES = """
from django.contrib.auth import get_user_model
from profiles.models import Profile
for n in range(40):
    user = get_user_model().objects.create_user(f"user{n}")
    if n >= 12:
        Profile.objects.create(user=user)
"""

PROFILE_VIEWS = """from django.shortcuts import redirect


def settings_page(request):
    if not hasattr(request.user, "profile"):
        return redirect("profile-setup")
    ...
"""


def diagnose_related(t: Transcript) -> None:
    t.project.shell(USERS_WITHOUT_PROFILES)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("W701"))
    t.project.write("profiles/views.py", PROFILE_VIEWS)
    t.manage("diagnose_user_model", "--no-color", excerpt=findings_excerpt("I702"))


def diagnose_unreachable(t: Transcript) -> None:
    """A SQLite file that is not a database."""
    (t.project.path / "db.sqlite3").write_text("not a database\n" * 100)
    t.manage("diagnose_user_model", "--no-color", code=1, excerpt=findings_excerpt("E504"))


# --- diagnose_user_model: imports and references ------------------------------------------------
CYCLE_SHOP = """from django.conf import settings
from django.db import models
from profiles.models import Profile


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, null=True, on_delete=models.SET_NULL)
"""

CYCLE_PROFILES = """from django.conf import settings
from django.db import models

from shop.models import Order


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    last_order = models.ForeignKey(Order, null=True, on_delete=models.SET_NULL, related_name="+")
"""


def diagnose_import_cycle(t: Transcript) -> None:
    t.project.write("shop/models.py", CYCLE_SHOP)
    t.project.write("profiles/models.py", CYCLE_PROFILES)
    t.module("diagnose", "--settings", "testproject.settings", "--no-db", "--no-color", code=1)


REFERENCES_SHOP_MODELS = """from django.contrib.auth.models import User
from django.db import models


class Order(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="orders")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)
"""


LEGACY_MODELS = """from django.conf import settings
from django.db import models


class Note(models.Model):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
"""

LEGACY_INITIAL = """from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("author", models.ForeignKey(
                    on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL
                )),
            ],
        ),
    ]
"""


def diagnose_references(t: Transcript) -> None:
    """Hard-coded auth.User in the project's models, a migration, a view and a template, and
    in a third-party app outside the project folder."""
    project = t.project
    project.write("shop/models.py", REFERENCES_SHOP_MODELS)
    project.write(
        "shop/migrations/0002_clerk.py",
        REFERENCES_MIGRATION.format(app="shop", previous="0001_initial", model="order"),
    )
    project.write("shop/views.py", REFERENCES_VIEWS)
    project.write("shop/templates/shop/x.html", REFERENCES_TEMPLATE)
    vendor = t.tmp / "vendor" / "legacy"
    for name, text in {
        "__init__.py": "",
        "views.py": REFERENCES_VIEWS,
        "migrations/__init__.py": "",
        "models.py": LEGACY_MODELS,
        "migrations/0001_initial.py": LEGACY_INITIAL,
        "migrations/0002_clerk.py": REFERENCES_MIGRATION.format(
            app="legacy", previous="0001_initial", model="note"
        ),
    }.items():
        (vendor / name).parent.mkdir(parents=True, exist_ok=True)
        (vendor / name).write_text(text)
    with project.settings_file.open("a") as settings:
        settings.write(
            "\nimport sys\n\n"
            'sys.path.insert(0, str(BASE_DIR.parent / "vendor"))\n'
            'INSTALLED_APPS += ["legacy"]\n'
        )
    t.manage(
        "diagnose_user_model",
        "--no-db",
        "--no-color",
        code=1,
        excerpt=findings_excerpt(probe="references"),
    )


def diagnose_missing_driver(t: Transcript) -> None:
    """TESTPROJECT_DB=postgresql in a Python without psycopg (modules on PYTHONPATH that raise
    ImportError stand in for the missing packages)."""
    shim = t.tmp / "no-drivers"
    shim.mkdir()
    for module in ("psycopg", "psycopg2"):
        (shim / f"{module}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n"
        )
    path = os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])
    t.module("diagnose", code=1, TESTPROJECT_DB="postgresql", PYTHONPATH=path)


# --- rebuild_contenttypes ----------------------------------------------------------------------
STALE_GIFT = """
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
gift = ContentType.objects.create(app_label="shop", model="gift")
perms = [Permission.objects.create(content_type=gift, codename=f"{action}_gift",
                                   name=f"Can {action} gift")
         for action in ("add", "change", "delete", "view")]
Group.objects.create(name="sales").permissions.add(*perms)
alice = get_user_model().objects.create_user("alice")
alice.user_permissions.add(perms[0])
LogEntry.objects.create(user=alice, content_type=gift, object_id="1", object_repr="Gift 1",
                        action_flag=ADDITION, change_message="[]")
"""


def rebuild_stale_kept(t: Transcript) -> None:
    t.project.shell(STALE_GIFT)
    t.manage("rebuild_contenttypes", "--dry-run")


# (starting state, what runs): one scenario per marker name.
SCENARIOS: dict[str, tuple[State | None, Callable[[Transcript], None]]] = {
    "backup-refused-field": (SCAFFOLDED, backup_refused_field),
    "backup-rollback": (SCAFFOLDED, backup_rollback),
    "check-manager": (None, check_manager),
    "diagnose-database-switched": (SWITCHED, diagnose_database_switched),
    "diagnose-import-cycle": (None, diagnose_import_cycle),
    "diagnose-missing-driver": (None, diagnose_missing_driver),
    "diagnose-references": (None, diagnose_references),
    "diagnose-related": (MIGRATED, diagnose_related),
    "diagnose-setting-typo": (None, diagnose_setting_typo),
    "diagnose-stale-contenttype": (MIGRATED, diagnose_stale_contenttype),
    "diagnose-switched": (SETTING_SWITCHED, diagnose_switched),
    "diagnose-switched-migrations": (SETTING_SWITCHED, diagnose_switched_migrations),
    "diagnose-target": (MODEL_WRITTEN, diagnose_target),
    "diagnose-unreachable": (None, diagnose_unreachable),
    "fix-dry-run": (None, fix_dry_run),
    "rebuild-after-switch": (SWITCHED, rebuild_after_switch),
    "rebuild-stale-kept": (MIGRATED, rebuild_stale_kept),
    "reset-deleted-migration": (MIGRATED, reset_deleted_migration),
    "reset-dependent-deleted": (DEPENDENT_DELETED, reset_dependent_deleted),
    "reset-nothing-on-auth-user": (None, reset_nothing_on_auth_user),
    "reset-renamed-dependency": (None, reset_renamed_dependency),
    "reset-restore": (DEPENDENT_DELETED, reset_restore),
    "reset-switched": (LIVE_ON_AUTH_USER, reset_switched),
    "swap-bigautofield-refused": (BEFORE_SWAP, swap_bigautofield_refused),
    "swap-other-fields": (BEFORE_SWAP, swap_other_fields),
    "swap-plan": (SCAFFOLDED, swap_plan),
    "swap-refused-cause": (BEFORE_SWAP, swap_refused_cause),
    "swap-run": (SCAFFOLDED, swap_run),
    "swap-scaffold": (ON_AUTH_USER, swap_scaffold),
    "swap-scaffold-settings-package": (ON_AUTH_USER, swap_scaffold_settings_package),
    "version": (None, version),
}


def run_scenario(name: str) -> str:
    """The block's body (a console code block) as the commands print it now."""
    state, scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="authtools-docs-") as tmp:
        transcript = Transcript(prepare(state, Path(tmp)), Path(tmp))
        scenario(transcript)
        return f"```console\n{transcript.text()}```\n"


# --- the documents ---------------------------------------------------------------------------
def blocks(path: Path) -> Iterator[re.Match[str]]:
    yield from MARKER.finditer(path.read_text())


def marked_names() -> set[str]:
    return {m["name"] for path in DOCUMENTS for m in blocks(path)}


def stale_blocks(name: str, output: str) -> list[str]:
    """A diff for each committed block of NAME that differs from OUTPUT (compared normalised)."""
    stale = []
    for path in DOCUMENTS:
        for m in blocks(path):
            if m["name"] == name and comparable(m["body"]) != comparable(output):
                diff = difflib.unified_diff(
                    comparable(m["body"]).splitlines(),
                    comparable(output).splitlines(),
                    f"{path.relative_to(REPO)} ({name}, committed)",
                    "the commands now",
                    lineterm="",
                )
                stale.append("\n".join(diff))
    return stale


def regenerate(write: bool, only: list[str] | None = None) -> list[str]:
    """Run every marked scenario (or ONLY these) once; rewrite their blocks (WRITE) or list
    the stale ones."""
    unknown = (marked_names() | set(only or ())) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    names = sorted(only or marked_names())
    with ThreadPoolExecutor(max_workers=2) as pool:  # the work is in child processes
        outputs = dict(zip(names, pool.map(run_scenario, names), strict=True))
    stale = [diff for name in names for diff in stale_blocks(name, outputs[name])]
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
    print(f"{len(args.names or marked_names())} scenarios, {len(stale)} block(s) {verb}.")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
