"""Probe: references. Code, migrations and templates that hard-code the swapped-out auth.User.

Only runs when AUTH_USER_MODEL names a custom model. It reads the project's files (everything
under the project root but virtualenvs, caches and hidden folders) and the package folder of each
third-party app in INSTALLED_APPS (an app outside the project root; Django's own apps and
authtools are not scanned). A file is parsed only when a cheap text search finds a candidate.

- E301: code imports django.contrib.auth.models.User, relates to it (ForeignKey('auth.User'),
  ForeignKey(User)) or asks apps.get_model('auth', 'User').
- E302: a migration's operations relate to auth.User (to='auth.user') while AUTH_USER_MODEL
  is custom, or load it with apps.get_model('auth', 'User').
- W303: a permission string 'auth.change_user' (Python) or perms.auth.change_user (templates)
  that the swap leaves without a permission behind it.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from authtools.diagnosis import catalog, source
from authtools.diagnosis.context import Context
from authtools.diagnosis.report import FileLocation, Finding

REQUIRES = "apps"
USES_DB = False

AUTH_MODELS = "django.contrib.auth.models"
RELATION_FIELDS = frozenset({"ForeignKey", "OneToOneField", "ManyToManyField"})
ACTIONS = ("add", "change", "delete", "view")
TEMPLATE_SUFFIXES = (".html", ".htm", ".txt", ".xml", ".jinja", ".jinja2", ".j2", ".djhtml")
_PERMISSION = re.compile(r"auth\.(add|change|delete|view)_user")
_TEMPLATE_PERMISSION = re.compile(r"\bperms\.auth\.(add|change|delete|view)_user\b")
_NOT_SCANNED = ("django", "authtools")


@dataclass(frozen=True)
class UserModel:
    """AUTH_USER_MODEL split up, and the other user-model labels migrations must not name."""

    setting: str  # as written, e.g. 'accounts.User'
    label: str  # app label, e.g. 'accounts'
    model: str  # lower-case model name, e.g. 'user'
    stale_labels: frozenset[str]  # lower-case labels migrations must not relate to

    def permission(self, action: str) -> str:
        return f"{self.label}.{action}_{self.model}"


def run(ctx: Context) -> Iterator[Finding]:
    user = _user_model(ctx)
    if user is None:
        return
    prefilter = _prefilter(user)
    for path in _files(ctx):
        text = source.read_text(path)
        if text is None:
            continue
        if path.endswith(".py"):
            if prefilter(text):
                yield from _scan_python(ctx, user, Path(path))
        elif "perms.auth." in text:
            yield from _scan_template(ctx, user, Path(path), text)


def _user_model(ctx: Context) -> UserModel | None:
    value = ctx.auth_user_model_raw
    if not isinstance(value, str) or value.count(".") != 1 or value.strip() != value:
        return None
    label, model = value.split(".")
    if not label or not model or value.lower() == "auth.user":
        return None
    # Only Django's own user model: another concrete AbstractBaseUser in the project may be a
    # second kind of account on purpose, and makemigrations writes its label as it is.
    stale = {"auth.user"}
    return UserModel(value, label, model.lower(), frozenset(stale))


def _prefilter(user: UserModel) -> Callable[[str], bool]:
    """A cheap test that a Python file may hold something this probe reports.

    Plain substring tests first (app labels are case-sensitive in Django, so 'auth.' catches
    'auth.User', 'auth.user', 'auth.change_user' and django.contrib.auth.models); a regex only
    for files that import from django.contrib.auth.
    """
    needles = (
        "auth.",
        "'auth'",
        '"auth"',
        *sorted({f"{s.split('.')[0]}." for s in user.stale_labels}),
    )
    models_import = re.compile(r"contrib\.auth import (?:[^\n]*\bmodels\b|\()")

    def may_matter(text: str) -> bool:
        if any(needle in text for needle in needles):
            return True
        return "contrib.auth import" in text and models_import.search(text) is not None

    return may_matter


def _files(ctx: Context) -> Iterator[str]:
    """The project's files, then each third-party app's own package folder (as strings)."""
    seen: set[str] = set()
    roots = [ctx.project_root]
    for app in source.installed_apps(ctx):
        if app.in_project or app.path is None or app.name.split(".")[0] in _NOT_SCANNED:
            continue
        roots.append(app.path)
    suffixes = (".py", *TEMPLATE_SUFFIXES)
    templates = f"{os.sep}templates{os.sep}"
    for root in roots:
        for path in sorted(source.iter_files(os.path.abspath(root), suffixes)):
            if not path.endswith(".py") and templates not in path:
                continue
            if path not in seen:  # an app folder inside another root
                seen.add(path)
                yield path


# --- Python files ------------------------------------------------------------------------------
def _scan_python(ctx: Context, user: UserModel, path: Path) -> list[Finding]:
    tree = source.parse(path)
    if tree is None:
        return []
    scanner = _Scanner(ctx, user, path)
    scanner.visit(tree)
    return sorted(scanner.findings, key=lambda f: getattr(f.location, "line", 0))


class _Scanner(ast.NodeVisitor):
    """Collects E301/E302/W303 in one file, tracking the names bound to auth's User."""

    def __init__(self, ctx: Context, user: UserModel, path: Path) -> None:
        self.ctx = ctx
        self.user = user
        self.path = path
        self.display = ctx.display_path(path)
        self.migration = path.parent.name == "migrations"
        self.user_names: set[str] = set()  # names bound to django.contrib.auth.models.User
        self.module_names: set[str] = {AUTH_MODELS}  # names bound to that module
        self.findings: list[Finding] = []
        self.auth_dependencies: list[str] = []

    def at(self, node: ast.AST) -> FileLocation:
        return FileLocation(self.display, getattr(node, "lineno", 0))

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == AUTH_MODELS and alias.asname:
                self.module_names.add(alias.asname)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name
            if node.module == "django.contrib.auth" and alias.name == "models":
                self.module_names.add(bound)
            elif node.module == AUTH_MODELS and alias.name == "User":
                self.user_names.add(bound)
                self.findings.append(self._import_finding(node))

    def visit_Assign(self, node: ast.Assign) -> None:
        if self.migration and any(
            isinstance(t, ast.Name) and t.id == "dependencies" for t in node.targets
        ):
            for element in getattr(node.value, "elts", []):
                if (
                    isinstance(element, ast.Tuple)
                    and element.elts
                    and isinstance(element.elts[0], ast.Constant)
                    and element.elts[0].value == "auth"
                ):
                    self.auth_dependencies.append(ast.unparse(element))
        self.generic_visit(node)

    # uses
    def visit_Call(self, node: ast.Call) -> None:
        name = source.dotted(node.func).rpartition(".")[2]
        if name in RELATION_FIELDS:
            self._relation(node, name)
        elif name == "get_model":
            self._get_model(node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            match = _PERMISSION.fullmatch(node.value)
            if match:
                self.findings.append(self._permission_finding(node, match.group(1)))

    def _refers_to_auth_user(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Name):
            return target.id in self.user_names
        dotted = source.dotted(target)
        owner, _, attr = dotted.rpartition(".")
        return attr == "User" and owner in self.module_names

    def _relation(self, node: ast.Call, field: str) -> None:
        target = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "to":
                target = keyword.value
        if target is None:
            return
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            value = target.value
            if self.migration and value.lower() in self.user.stale_labels:
                self.findings.append(self._migration_finding(target, field, repr(value)))
            elif not self.migration and value.lower() == "auth.user":
                self.findings.append(self._relation_finding(target, field, repr(value)))
        elif self._refers_to_auth_user(target):
            shown = ast.unparse(target)
            if self.migration:
                self.findings.append(self._migration_finding(target, field, shown))
            else:
                self.findings.append(self._relation_finding(target, field, shown))

    def _get_model(self, node: ast.Call) -> None:
        values = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if len(values) != len(node.args) or not all(isinstance(v, str) for v in values):
            return
        label = ".".join(str(v) for v in values).lower()
        if label != "auth.user":
            return
        call = f"{source.dotted(node.func) or 'get_model'}({', '.join(map(repr, values))})"
        setting = self.user.setting
        if self.migration:
            message = (
                f"Migration {self._migration_label()} loads the user model with {call}, "
                f"but AUTH_USER_MODEL is {setting!r}: it works on the swapped-out auth.User."
            )
            hint = "Use apps.get_model(settings.AUTH_USER_MODEL) in the migration's functions."
            self.findings.append(catalog.finding("authtools.E302", message, hint, self.at(node)))
            return
        self.findings.append(
            catalog.finding(
                "authtools.E301",
                f"{call} returns auth.User, which AUTH_USER_MODEL = {setting!r} swaps out.",
                "Use django.contrib.auth.get_user_model() instead.",
                self.at(node),
            )
        )

    # findings
    def _import_finding(self, node: ast.ImportFrom) -> Finding:
        setting = self.user.setting
        return catalog.finding(
            "authtools.E301",
            f"`{ast.unparse(node)}` imports auth.User, which AUTH_USER_MODEL = {setting!r} "
            f"swaps out: using it raises AttributeError (Manager isn't available; 'auth.User' "
            f"has been swapped for {setting!r}).",
            "Use django.contrib.auth.get_user_model() in code and settings.AUTH_USER_MODEL in "
            "relation fields.",
            self.at(node),
        )

    def _relation_finding(self, target: ast.AST, field: str, shown: str) -> Finding:
        setting = self.user.setting
        return catalog.finding(
            "authtools.E301",
            f"{field}({shown}) relates to auth.User, which AUTH_USER_MODEL = {setting!r} "
            "swaps out (Django reports fields.E301).",
            f"Write {field}(settings.AUTH_USER_MODEL, ...): the relation then follows "
            "AUTH_USER_MODEL.",
            self.at(target),
        )

    def _migration_finding(self, target: ast.AST, field: str, shown: str) -> Finding:
        setting = self.user.setting
        hint = f"Write to=settings.AUTH_USER_MODEL in the {field}"
        if self.auth_dependencies:
            deps = ", ".join(self.auth_dependencies)
            hint += (
                f" and replace the dependency {deps} with "
                "migrations.swappable_dependency(settings.AUTH_USER_MODEL) unless the migration "
                "also needs auth's own models"
            )
        hint += (
            "; if it is already applied, the column in the database still points at the old "
            "table (see the database findings)."
        )
        return catalog.finding(
            "authtools.E302",
            f"Migration {self._migration_label()} hard-codes the user model in {field}(to="
            f"{shown}) while AUTH_USER_MODEL is {setting!r}.",
            hint,
            self.at(target),
        )

    def _permission_finding(self, node: ast.AST, action: str) -> Finding:
        old = f"auth.{action}_user"
        new = self.user.permission(action)
        return catalog.finding(
            "authtools.W303",
            f"The permission {old!r} belongs to the swapped-out auth.User: with "
            f"AUTH_USER_MODEL = {self.user.setting!r} it is {new!r}.",
            f"Replace {old!r} with {new!r}.",
            self.at(node),
        )

    def _migration_label(self) -> str:
        app = self.path.parent.parent.name
        for info in self.ctx.extra.get("authtools.source.apps", []):
            if info.path is not None and self.path.parent.parent.resolve() == info.path.resolve():
                app = info.label
        return f"{app}.{self.path.stem}"


# --- templates ---------------------------------------------------------------------------------
def _scan_template(ctx: Context, user: UserModel, path: Path, text: str) -> list[Finding]:
    findings = []
    for match in _TEMPLATE_PERMISSION.finditer(text):
        old = match.group(0)
        new = f"perms.{user.label}.{match.group(1)}_{user.model}"
        findings.append(
            catalog.finding(
                "authtools.W303",
                f"{old} names a permission of the swapped-out auth.User: with AUTH_USER_MODEL "
                f"= {user.setting!r} it is {new}.",
                f"Replace {old} with {new}.",
                FileLocation(ctx.display_path(path), source.line_at(text, match.start())),
            )
        )
    return findings
