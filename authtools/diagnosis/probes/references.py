"""Probe: references. Code, migrations and templates that hard-code the swapped-out auth.User.

Only runs when AUTH_USER_MODEL names a custom model. It reads the project's files (everything
under the project root but virtualenvs, caches and hidden folders) and the package folder of each
third-party app in INSTALLED_APPS (an app outside the project root; Django's own apps and
authtools are not scanned). A file is parsed only when a cheap text search finds a candidate.

- E301: code uses django.contrib.auth.models.User at run time (an import whose name is used
  outside annotations), relates to it (ForeignKey('auth.User'), ForeignKey(User)) or asks
  apps.get_model('auth', 'User'). Names used only in annotations, typing.cast() or under
  ``if TYPE_CHECKING:`` are not findings: nothing runs on them.
- E302: a migration's operations relate to auth.User (to='auth.user') while AUTH_USER_MODEL
  is custom, or load it with apps.get_model('auth', 'User'). Only the migrations of installed
  apps (MIGRATION_MODULES followed): a folder of a removed app is never loaded by Django.
- W303: a permission string 'auth.change_user' (Python) or perms.auth.change_user (templates)
  that the swap leaves without a permission behind it.
- W304: the same in an installed third-party package (outside the project root): one finding
  per package, listing the places, since the fix is an upgrade or a report upstream. The system
  checks (``ctx.extra["system_check"]``) do not scan third-party packages at all.
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
    live = _migration_folders(ctx)
    third_party: dict[source.AppInfo, list[Hit]] = {}
    for path, app in _files(ctx):
        text = source.read_text(path)
        if text is None:
            continue
        hits: list[Hit] = []
        if path.endswith(".py"):
            if prefilter(text) and _live(path, live):
                hits = _scan_python(ctx, user, Path(path))
        elif "perms.auth." in text:
            hits = _scan_template(ctx, user, Path(path), text)
        if app is None:
            yield from (hit.finding for hit in hits)
        elif hits:
            third_party.setdefault(app, []).extend(hits)
    for app, found in third_party.items():
        yield _third_party_finding(ctx, user, app, found)


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

    gate = "auth" if all("auth" in needle for needle in needles) else ""

    def may_matter(text: str) -> bool:
        if gate not in text:  # a substring of every needle: most files stop here
            return False
        if any(needle in text for needle in needles):
            return True
        return "contrib.auth import" in text and models_import.search(text) is not None

    return may_matter


def _migration_folders(ctx: Context) -> frozenset[str]:
    """The real paths of the installed apps' migration folders (MIGRATION_MODULES included)."""
    from django.conf import settings

    folders = {os.path.join(a.path, "migrations") for a in source.installed_apps(ctx) if a.path}
    overrides = getattr(settings, "MIGRATION_MODULES", None) or {}
    for module in overrides.values() if isinstance(overrides, dict) else ():
        located = source.module_package_folder(source.locate_module(module)) if module else None
        if located is not None:
            folders.add(os.fspath(located))
    return frozenset(os.path.realpath(f) for f in folders)


def _live(path: str, migration_folders: frozenset[str]) -> bool:
    """False for a migration of an app that is not installed (a folder left in the repository:
    Django never loads it), True for every other file."""
    folder = os.path.dirname(path)
    if os.path.basename(folder) != "migrations":
        return True
    return os.path.realpath(folder) in migration_folders


def _files(ctx: Context) -> Iterator[tuple[str, source.AppInfo | None]]:
    """The project's files (app None), then each third-party app's own package folder (as
    strings); the system checks read the project's files only."""
    seen: set[str] = set()
    roots: list[tuple[str, source.AppInfo | None]] = [(os.path.abspath(ctx.project_root), None)]
    if not ctx.extra.get("system_check"):
        for info in source.installed_apps(ctx):
            if info.in_project or info.path is None or info.name.split(".")[0] in _NOT_SCANNED:
                continue
            roots.append((os.path.abspath(info.path), info))
    suffixes = (".py", *TEMPLATE_SUFFIXES)
    templates = f"{os.sep}templates{os.sep}"
    for root, app in roots:
        for path in sorted(source.iter_files(root, suffixes)):
            if not path.endswith(".py") and templates not in path:
                continue
            if path not in seen:  # an app folder inside another root
                seen.add(path)
                yield path, app


@dataclass(frozen=True)
class Hit:
    """A finding and the short form a third-party package's summary lists it by."""

    finding: Finding
    what: str


# --- Python files ------------------------------------------------------------------------------
def _scan_python(ctx: Context, user: UserModel, path: Path) -> list[Hit]:
    tree = source.parse(path)
    if tree is None:
        return []
    scanner = _Scanner(ctx, user, path)
    scanner.visit(tree)
    return sorted(scanner.hits(), key=lambda h: getattr(h.finding.location, "line", 0))


class _Scanner(source.RuntimeVisitor):
    """Collects E301/E302/W303 in one file, tracking the names bound to auth's User.

    Annotations, the type of typing.cast() and ``if TYPE_CHECKING:`` blocks are not visited
    (see source.RuntimeVisitor): a name used only there never runs.
    """

    def __init__(self, ctx: Context, user: UserModel, path: Path) -> None:
        self.ctx = ctx
        self.user = user
        self.path = path
        self.display = ctx.display_path(path)
        self.migration = path.parent.name == "migrations"
        self.user_names: set[str] = set()  # names bound to django.contrib.auth.models.User
        self.module_names: set[str] = {AUTH_MODELS}  # names bound to that module
        self.imports: list[tuple[str, ast.ImportFrom]] = []  # (bound name, statement)
        self.used: set[str] = set()  # names of user_names read at run time
        self.found: list[Hit] = []
        self.auth_dependencies: list[str] = []

    def at(self, node: ast.AST) -> FileLocation:
        return FileLocation(self.display, getattr(node, "lineno", 0))

    def hits(self) -> list[Hit]:
        """The findings, with an import of User reported only when the name runs somewhere."""
        hits = list(self.found)
        for bound, node in self.imports:
            if bound in self.used:
                hits.append(self._import_hit(node))
        return hits

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
                self.imports.append((bound, node))

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in self.user_names:
            self.used.add(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        names = {t.id for t in node.targets if isinstance(t, ast.Name)}
        if "__all__" in names:  # a re-export: other modules use the name
            for element in getattr(node.value, "elts", []):
                if isinstance(element, ast.Constant) and element.value in self.user_names:
                    self.used.add(element.value)
        if self.migration and "dependencies" in names:
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
        super().visit_Call(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            match = _PERMISSION.fullmatch(node.value)
            if match:
                self.found.append(self._permission_hit(node, match.group(1)))

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
                self.found.append(self._migration_hit(target, field, repr(value)))
            elif not self.migration and value.lower() == "auth.user":
                self.found.append(self._relation_hit(target, field, repr(value)))
        elif self._refers_to_auth_user(target):
            shown = ast.unparse(target)
            if self.migration:
                self.found.append(self._migration_hit(target, field, shown))
            else:
                self.found.append(self._relation_hit(target, field, shown))

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
            finding = catalog.finding("authtools.E302", message, hint, self.at(node))
            self.found.append(Hit(finding, call))
            return
        finding = catalog.finding(
            "authtools.E301",
            f"{call} returns auth.User, which AUTH_USER_MODEL = {setting!r} swaps out.",
            "Use django.contrib.auth.get_user_model() instead.",
            self.at(node),
        )
        self.found.append(Hit(finding, call))

    # findings
    def _import_hit(self, node: ast.ImportFrom) -> Hit:
        setting = self.user.setting
        statement = f"`{ast.unparse(node)}`"
        finding = catalog.finding(
            "authtools.E301",
            f"{statement} imports auth.User, which AUTH_USER_MODEL = {setting!r} "
            f"swaps out: using it raises AttributeError (Manager isn't available; 'auth.User' "
            f"has been swapped for {setting!r}).",
            "Use django.contrib.auth.get_user_model() in code and settings.AUTH_USER_MODEL in "
            "relation fields.",
            self.at(node),
        )
        return Hit(finding, statement)

    def _relation_hit(self, target: ast.AST, field: str, shown: str) -> Hit:
        setting = self.user.setting
        finding = catalog.finding(
            "authtools.E301",
            f"{field}({shown}) relates to auth.User, which AUTH_USER_MODEL = {setting!r} "
            "swaps out (Django reports fields.E301).",
            f"Write {field}(settings.AUTH_USER_MODEL, ...): the relation then follows "
            "AUTH_USER_MODEL.",
            self.at(target),
        )
        return Hit(finding, f"{field}({shown})")

    def _migration_hit(self, target: ast.AST, field: str, shown: str) -> Hit:
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
        finding = catalog.finding(
            "authtools.E302",
            f"Migration {self._migration_label()} hard-codes the user model in {field}(to="
            f"{shown}) while AUTH_USER_MODEL is {setting!r}.",
            hint,
            self.at(target),
        )
        return Hit(finding, f"{field}(to={shown})")

    def _permission_hit(self, node: ast.AST, action: str) -> Hit:
        old = f"auth.{action}_user"
        new = self.user.permission(action)
        finding = catalog.finding(
            "authtools.W303",
            f"The permission {old!r} belongs to the swapped-out auth.User: with "
            f"AUTH_USER_MODEL = {self.user.setting!r} it is {new!r}.",
            f"Replace {old!r} with {new!r}.",
            self.at(node),
        )
        return Hit(finding, repr(old))

    def _migration_label(self) -> str:
        app = self.path.parent.parent.name
        for info in self.ctx.extra.get("authtools.source.apps", []):
            if info.path is not None and self.path.parent.parent.resolve() == info.path.resolve():
                app = info.label
        return f"{app}.{self.path.stem}"


# --- templates ---------------------------------------------------------------------------------
def _scan_template(ctx: Context, user: UserModel, path: Path, text: str) -> list[Hit]:
    hits = []
    for match in _TEMPLATE_PERMISSION.finditer(text):
        old = match.group(0)
        new = f"perms.{user.label}.{match.group(1)}_{user.model}"
        finding = catalog.finding(
            "authtools.W303",
            f"{old} names a permission of the swapped-out auth.User: with AUTH_USER_MODEL "
            f"= {user.setting!r} it is {new}.",
            f"Replace {old} with {new}.",
            FileLocation(ctx.display_path(path), source.line_at(text, match.start())),
        )
        hits.append(Hit(finding, old))
    return hits


# --- third-party packages ----------------------------------------------------------------------
SHOWN_PLACES = 5


def _third_party_finding(
    ctx: Context, user: UserModel, app: source.AppInfo, hits: list[Hit]
) -> Finding:
    """W304: one finding per installed package outside the project, listing its places."""
    assert app.path is not None
    places = []
    for hit in hits[:SHOWN_PLACES]:
        location = hit.finding.location
        assert isinstance(location, FileLocation)
        rel = os.path.relpath(os.path.abspath(location.file), app.path)
        places.append(f"{rel}:{location.line} {hit.what}")
    if len(hits) > SHOWN_PLACES:
        places.append(f"and {len(hits) - SHOWN_PLACES} more")
    dist = _distribution(app.name.split(".")[0])
    package = f"{app.name!r} (distribution {dist[0]} {dist[1]})" if dist else repr(app.name)
    upgrade = f": `python -m pip install --upgrade {dist[0]}`" if dist else ""
    return catalog.finding(
        "authtools.W304",
        f"The installed third-party package {package} at {app.path} hard-codes auth.User, "
        f"which AUTH_USER_MODEL = {user.setting!r} swaps out: {'; '.join(places)}.",
        "It is not this project's code, so `manage.py check` leaves it out. Upgrade it if a "
        "newer release follows AUTH_USER_MODEL (get_user_model(), settings.AUTH_USER_MODEL)"
        f"{upgrade}; else report it upstream. Until then, code that reaches those lines fails "
        "or acts on the swapped-out auth.User.",
        location=hits[0].finding.location,
    )


def _distribution(top_level: str) -> tuple[str, str] | None:
    """('django-qr-code', '4.1.0'): the installed distribution that provides TOP_LEVEL."""
    from importlib import metadata

    try:
        names = metadata.packages_distributions().get(top_level, [])
        return (names[0], metadata.version(names[0])) if names else None
    except Exception:  # broken metadata of some unrelated distribution
        return None
