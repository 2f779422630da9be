"""Find the project's own files that hard-code the user model and compute their rewrites.

Only files under the project root are read (never installed packages, virtualenvs, hidden
folders or backups). Each Python file is classified as a models module, a migration (applied or
not, from django_migrations) or other code; templates are the files under a ``templates``
folder. Nothing is written here: the result is data for the plan.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from authtools.diagnosis import source
from authtools.diagnosis.context import Context, relative_display
from authtools.procedures.fixcode.python import rewrite
from authtools.procedures.fixcode.syntax import Change, Kind, Left, Target
from authtools.procedures.fixcode.templates import TEMPLATE_PERMISSION, rewrite_template


class FixError(Exception):
    """The fixer cannot go on; the message names the file or field and the next step."""


TEMPLATE_SUFFIXES = (".html", ".htm", ".txt", ".xml", ".jinja", ".jinja2", ".j2", ".djhtml")


@dataclass
class FileFix:
    """One file: its text before and after, what changed and what was left alone."""

    path: Path
    rel: str
    kind: Kind | None  # None for a template
    before: str
    after: str
    changes: list[Change] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> list[str]:
        lines = difflib.unified_diff(
            self.before.replace("\r\n", "\n").splitlines(keepends=True),
            self.after.replace("\r\n", "\n").splitlines(keepends=True),
            fromfile=f"a/{self.rel}",
            tofile=f"b/{self.rel}",
        )
        # A blank context line is shown empty, so that the plan has no trailing spaces.
        return [line.rstrip("\n") if line.strip() else "" for line in lines]


@dataclass
class Survey:
    root: Path
    target: Target
    files: list[FileFix]

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]

    def left_alone(self) -> list[str]:
        return [
            f"{f.rel}:{entry.line}: {entry.what}: {entry.reason}".replace(": : ", ": ")
            for f in self.files
            for entry in f.left
        ]


def current_target(ctx: Context) -> Target:
    """AUTH_USER_MODEL as the rewrite needs it: from the model when the apps loaded, else from
    the setting and the app's models module (an import cycle stops the apps loading)."""
    if ctx.boot.ok("models"):
        from django.contrib.auth import get_user_model

        model = get_user_model()
        meta = model._meta
        return Target(meta.app_label, meta.model_name or "", model.__name__, model.__module__)
    value = ctx.auth_user_model_raw
    if not isinstance(value, str) or value.count(".") != 1:
        raise FixError(
            f"AUTH_USER_MODEL = {value!r} is not of the form 'app_label.ModelName': fix the "
            "setting first (python -m authtools diagnose says how)"
        )
    label, name = value.split(".")
    module = next(
        (app.models_module for app in source.installed_apps(ctx) if app.label == label), ""
    )
    if not module:
        raise FixError(f"AUTH_USER_MODEL = {value!r} names no installed app: fix the setting first")
    return Target(label, name.lower(), name, module)


def survey(ctx: Context, database: str) -> Survey:
    root = ctx.project_root
    target = current_target(ctx)
    kinds = _python_kinds(ctx, database)
    files = []
    for name in source.iter_files(root, (".py", *TEMPLATE_SUFFIXES)):
        path = Path(name)
        text = source.read_text(path)
        if text is None or ("\ufffd" in text and not _strict_utf8(path)):
            continue  # unreadable, or not UTF-8: a rewrite could not give its bytes back
        rel = relative_display(path, root)
        if name.endswith(".py"):
            if "auth" not in text and target.module not in text and "get_user_model" not in text:
                continue
            kind, applied = kinds.get(os.path.realpath(name), ("code", False))
            crlf = text.count("\r\n") == text.count("\n") > 0  # a Windows file stays one
            result = rewrite(
                text.replace("\r\n", "\n") if crlf else text, target, kind, applied=applied
            )
            after = result.source.replace("\n", "\r\n") if crlf else result.source
            fix = FileFix(path, rel, kind, text, after, result.changes, result.left)
        elif f"{os.sep}templates{os.sep}" in name and TEMPLATE_PERMISSION.search(text):
            result = rewrite_template(text, target)
            fix = FileFix(path, rel, None, text, result.source, result.changes, result.left)
        else:
            continue
        if fix.changed or fix.left:
            files.append(fix)
    return Survey(root, target, files)


def _strict_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


def _python_kinds(ctx: Context, database: str) -> dict[str, tuple[Kind, bool]]:
    """realpath -> (kind, applied) for the models modules and migrations of the project's apps,
    found without importing them (the apps may not load)."""
    from django.conf import settings

    applied = _applied(database)
    modules = getattr(settings, "MIGRATION_MODULES", {}) or {}
    kinds: dict[str, tuple[Kind, bool]] = {}
    for app in source.installed_apps(ctx):
        if not app.in_project or app.path is None:
            continue
        for path in app.models_files():
            kinds[os.path.realpath(path)] = ("models", False)
        module = modules.get(app.label, f"{app.name}.migrations")
        located = source.locate_module(module) if module else None
        if located is None:
            continue
        folder = os.path.dirname(os.path.realpath(located))
        for name in source.iter_files(folder, (".py",)):
            stem = Path(name).stem
            if os.path.dirname(name) != folder or stem == "__init__":
                continue
            kinds[os.path.realpath(name)] = ("migration", (app.label, stem) in applied)
    return kinds


def _applied(database: str) -> set[tuple[str, str]]:
    """The applied migrations, read from django_migrations (no app registry needed)."""
    import warnings

    from django.db import connections

    connection = connections[database]
    with warnings.catch_warnings():
        # Before the apps load (python -m authtools fix), Django warns about any query.
        warnings.simplefilter("ignore", RuntimeWarning)
        with connection.cursor() as cursor:
            if "django_migrations" not in connection.introspection.table_names(cursor):
                return set()
            table = connection.ops.quote_name("django_migrations")
            cursor.execute(f"SELECT app, name FROM {table}")
            return {(app, name) for app, name in cursor.fetchall()}
