"""The output blocks of README.md and docs/*.md, produced by running the real commands.

A generated block sits between two markers; the first names the scenario that produces it:

    <!-- output: reset-deleted-migration -->
    ```console
    $ python manage.py reset_user_migrations --noinput
    ...
    ```
    <!-- /output -->

``scripts/docs`` (``python -m tests.docs``) runs each marked scenario on a fresh SQLite copy of
testproject/ and rewrites its block; ``python -m tests.docs --check`` (and tests/test_docs.py)
fails when a committed block differs from what the commands print now, after normalising what
changes from run to run (times, versions, paths). Writing is idempotent: times and paths are
written normalised, so running it twice changes nothing.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import REPO, Database, Project, copy_testproject
from tests.helpers import migrate_as_auth_user, switch_to_accounts_user

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(
    r"(?P<open><!-- output: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close><!-- /output -->)",
    re.S,
)
PROJECT_ROOT = "/srv/mysite"  # where the examples pretend the project lives

# --- normalising ---------------------------------------------------------------------------
_WRITTEN = [  # applied before writing: what differs between two runs on one machine
    (re.compile(r"\d{8}T\d{12}Z"), "20260101T000000000000Z"),  # backup folder stamps
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "2026-01-01T00:00:00+00:00"),
    (re.compile(r"(?:/[^\s'\"():]+)*/site-packages/"), "<site-packages>/"),
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

    def __init__(self, project: Project) -> None:
        self.project = project
        self.parts: list[str] = []

    def manage(
        self, *args: str, short_traceback: bool = False, code: int = 0, show: bool = True
    ) -> str:
        """Run ``manage.py ARGS``; check its exit status is CODE; add it to the transcript
        unless not SHOW. SHORT_TRACEBACK shows a traceback as its first line, '  ...' and its
        last line."""
        result = self.project.manage(*args)
        if result.code != code:
            raise RuntimeError(f"manage.py {' '.join(args)}: expected exit {code}, got {result}")
        err = result.err
        if not show:
            return result.out
        if short_traceback and err.startswith("Traceback"):
            lines = err.rstrip("\n").splitlines()
            err = f"{lines[0]}\n  ...\n{lines[-1]}\n"
        self.parts.append(f"$ python manage.py {shlex.join(args)}\n{result.out}{err}")
        return result.out

    def text(self) -> str:
        return normalise("".join(self.parts), self.project.path)


def findings_excerpt(report: str, ids: list[str]) -> str:
    """The text report with only the first finding of each of IDS (in report order), the
    header and the totals, and a line saying how many findings were left out."""
    paragraphs = report.rstrip("\n").split("\n\n")
    header, body, totals = paragraphs[0], paragraphs[1:-1], paragraphs[-1]
    kept, wanted = [], list(ids)
    for paragraph in body:
        found = next((i for i in wanted if f"authtools.{i} " in paragraph.split("\n")[0]), None)
        if found:
            kept.append(paragraph)
            wanted.remove(found)
    if wanted:
        raise RuntimeError(f"no finding {', '.join(wanted)} in the report:\n{report}")
    left_out = len(body) - len(kept)
    note = [f"[{left_out} more findings left out of this excerpt]"] if left_out else []
    return "\n\n".join([header, *kept, *note, totals]) + "\n"


# --- project states --------------------------------------------------------------------------
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


def live_on_auth_user_then_setting_switched(project: Project) -> None:
    """A project that went live on auth.User, then set AUTH_USER_MODEL = 'accounts.User' (the
    project's settings): migrate now fails with InconsistentMigrationHistory. A view still
    checks the old model's permission."""
    migrate_as_auth_user(project, then=SEED)
    project.write("shop/views.py", VIEWS)


def live_on_auth_user_then_switched(project: Project) -> None:
    """A project that went live on auth.User, then set AUTH_USER_MODEL = 'accounts.User' and
    created the new tables by hand (migrate refuses: InconsistentMigrationHistory)."""
    migrate_as_auth_user(project, then=SEED)
    switch_to_accounts_user(project)


def migrated_on_auth_user_with_model_written(project: Project) -> None:
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


# --- scenarios: one per marker name ------------------------------------------------------------
def diagnose_switched(t: Transcript) -> None:
    live_on_auth_user_then_setting_switched(t.project)
    out = t.manage("diagnose_user_model", "--no-color", code=1)
    t.parts[-1] = t.parts[-1].replace(out, findings_excerpt(out, ["W303", "E403", "E502", "W602"]))


def diagnose_switched_migrations(t: Transcript) -> None:
    live_on_auth_user_then_setting_switched(t.project)
    out = t.manage("diagnose_user_model", "--no-color", code=1)
    t.parts[-1] = t.parts[-1].replace(out, findings_excerpt(out, ["E405", "E403"]))


def diagnose_target(t: Transcript) -> None:
    migrated_on_auth_user_with_model_written(t.project)
    t.manage("diagnose_user_model", "--target", "accounts.User", "--no-color", code=1)


def reset_deleted_migration(t: Transcript) -> None:
    t.project.migrate()
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


def dependent_deleted(project: Project) -> None:
    """accounts' initial migration deleted after migrate, while shop's new migration (not yet
    applied) depends on it."""
    project.migrate()
    project.remove("accounts/migrations/0001_initial.py")
    project.write("shop/migrations/0002_order_note.py", SHOP_0002)
    models = project.read("shop/models.py")
    project.write(
        "shop/models.py",
        models.replace(
            "    created =", "    note = models.CharField(max_length=20, blank=True)\n    created ="
        ),
    )


def reset_dependent_deleted(t: Transcript) -> None:
    dependent_deleted(t.project)
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput")
    t.manage("reset_user_migrations")


def reset_restore(t: Transcript) -> None:
    dependent_deleted(t.project)
    out = t.manage("reset_user_migrations", "--noinput", show=False)
    backup = Path(out.split("Backup: ")[1].split("\n")[0])
    t.manage("reset_user_migrations", "--noinput", "--restore", f".authtools-backups/{backup.name}")


def reset_switched(t: Transcript) -> None:
    """A project that went live on auth.User, then switched: the reset refuses (it would create
    empty user tables) and names the swap."""
    migrate_as_auth_user(t.project)
    t.manage("migrate", short_traceback=True, code=1)
    t.manage("reset_user_migrations", "--noinput", code=1)


def rebuild_after_switch(t: Transcript) -> None:
    """The new user tables created by hand and recorded, then migrate (which creates the new
    model's content type): the old content type and its permissions are left behind."""
    live_on_auth_user_then_switched(t.project)
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


SCENARIOS: dict[str, Callable[[Transcript], None]] = {
    "diagnose-switched": diagnose_switched,
    "diagnose-switched-migrations": diagnose_switched_migrations,
    "diagnose-target": diagnose_target,
    "reset-deleted-migration": reset_deleted_migration,
    "reset-nothing-on-auth-user": reset_nothing_on_auth_user,
    "reset-dependent-deleted": reset_dependent_deleted,
    "reset-restore": reset_restore,
    "reset-switched": reset_switched,
    "rebuild-after-switch": rebuild_after_switch,
    "version": version,
}


def run_scenario(name: str) -> str:
    """The block's body (a console code block) as the commands print it now."""
    with tempfile.TemporaryDirectory(prefix="authtools-docs-") as tmp:
        db = Database("sqlite", Path(tmp))
        project = Project(copy_testproject(Path(tmp) / "project"), db)
        transcript = Transcript(project)
        SCENARIOS[name](transcript)
        return f"```console\n{transcript.text()}```\n"


# --- the documents ---------------------------------------------------------------------------
def blocks(path: Path) -> Iterator[re.Match[str]]:
    yield from MARKER.finditer(path.read_text())


def marked_names() -> set[str]:
    return {m["name"] for path in DOCUMENTS for m in blocks(path)}


def regenerate(write: bool) -> list[str]:
    """Run every marked scenario once; rewrite the blocks (WRITE) or list the stale ones."""
    unknown = marked_names() - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s) in the docs: {', '.join(sorted(unknown))}")
    names = sorted(marked_names())
    with ThreadPoolExecutor(max_workers=2) as pool:  # the work is in child processes
        outputs = dict(zip(names, pool.map(run_scenario, names), strict=True))
    stale = []
    for path in DOCUMENTS:
        text = path.read_text()
        new = MARKER.sub(lambda m: m["open"] + outputs[m["name"]] + m["close"], text)
        for m in blocks(path):
            if comparable(m["body"]) != comparable(outputs[m["name"]]):
                diff = difflib.unified_diff(
                    comparable(m["body"]).splitlines(),
                    comparable(outputs[m["name"]]).splitlines(),
                    f"{path.relative_to(REPO)} ({m['name']}, committed)",
                    "the commands now",
                    lineterm="",
                )
                stale.append("\n".join(diff))
        if write and new != text:
            path.write_text(new)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.docs", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="Change nothing; exit 1 if a block is stale."
    )
    args = parser.parse_args(argv)
    # The children must import this checkout's authtools, whatever is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    stale = regenerate(write=not args.check)
    for diff in stale:
        print(diff, file=sys.stderr)
    verb = "stale" if args.check else "rewritten"
    print(f"{len(marked_names())} scenarios, {len(stale)} block(s) {verb}.")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
