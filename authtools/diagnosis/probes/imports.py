"""Probe: imports. Models modules that fail to import, import cycles, import-time user lookups.

Runs as soon as the settings load (Django's apps may not have): the app packages come from
INSTALLED_APPS through ``authtools.diagnosis.source`` without importing them, and everything else
is static analysis (ast) of the project's files.

- E201: django.setup() stopped in its "models" phase: the models module that failed, the error
  and the project line the traceback points at.
- E202: that failure is an import cycle; the cycle is spelled out module by module from the
  static import graph of the project's own modules (installed libraries are not followed).
- W203: get_user_model() runs when a models module is imported (module level or class body).
- W204: a models module of another app imports the user model class itself (style advice:
  never a system check, so not even looked for there).
- E505 (a database finding): the failure is a database backend whose driver is not installed
  (see ``authtools.diagnosis.drivers``): the install command instead of a line in Django.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from authtools.diagnosis import catalog, source
from authtools.diagnosis.boot import BootFailure
from authtools.diagnosis.context import Context
from authtools.diagnosis.report import FileLocation, Finding

REQUIRES = "settings"
USES_DB = False

_PARTIAL = re.compile(r"partially initialized module '([\w.]+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '\w+' from '([\w.]+)'")


@dataclass(frozen=True)
class ImportEdge:
    """``source`` imports ``target`` at ``path:line`` with the statement ``statement``."""

    source: str
    target: str
    path: Path
    line: int
    statement: str
    names: tuple[str, ...]


def run(ctx: Context) -> Iterator[Finding]:
    apps = source.installed_apps(ctx)
    user = _custom_user_model(ctx)
    user_app = next((a for a in apps if user and a.label == user[0]), None)
    usage: list[Finding] = []
    for app in apps:
        if not app.in_project:
            continue
        for path in app.models_files():
            usage.extend(_import_time_uses(ctx, app, path, user, user_app))
    failure = ctx.boot.failure
    driver = None
    if failure is not None:
        from authtools.diagnosis import drivers

        driver = drivers.missing_driver(ctx, failure)
    if driver is not None:
        yield driver
    elif failure is not None and failure.phase == "models" and not _setting_failure(ctx, failure):
        yield from explain_models_failure(ctx, apps, failure, usage)
    yield from usage


# --- E201 / E202 -------------------------------------------------------------------------------
def explain_models_failure(
    ctx: Context, apps: list[source.AppInfo], failure: BootFailure, usage: list[Finding]
) -> list[Finding]:
    """E201 for the models module that failed, and E202 when the failure is an import cycle."""
    frames = source.frames(failure.traceback)
    module = _failing_models_module(apps, frames)
    location = _innermost_location(ctx, apps, frames)
    cycle = _cycle_of(ctx, failure)
    subject = f"Importing the models module {module!r}" if module else "Importing a models module"
    if cycle:
        hint = "It is an import cycle (authtools.E202): break it where E202 says."
    else:
        hint = _plain_hint(failure, usage, frames, ctx)
    findings = [
        catalog.finding(
            "authtools.E201", f"{subject} fails: {failure.summary}", hint, location=location
        )
    ]
    if cycle:
        findings.append(_cycle_finding(ctx, apps, cycle))
    return findings


def _setting_failure(ctx: Context, failure: BootFailure) -> bool:
    """A malformed AUTH_USER_MODEL that makes a models module fail (e.g. admin's LogEntry
    relating to 'project.accounts.User'): the setting probe explains it, not an import problem."""
    value = ctx.auth_user_model_raw
    well_formed = isinstance(value, str) and value.count(".") == 1 and value.strip() == value
    text = str(failure.error)
    return not well_formed and ("AUTH_USER_MODEL" in text or repr(str(value)) in text)


def _failing_models_module(apps: list[source.AppInfo], frames: list[tuple[Path, int]]) -> str:
    """The models module Django was importing: the outermost frame in an app's models files."""
    modules: dict[Path, str] = {}
    for app in apps:
        for path in app.models_files():
            modules[path.resolve()] = app.models_module
    for path, _line in frames:
        found = modules.get(_resolved(path))
        if found:
            return found
    return ""


def _innermost_location(
    ctx: Context, apps: list[source.AppInfo], frames: list[tuple[Path, int]]
) -> FileLocation | None:
    """The innermost frame in the project's files, else in an installed app's own folder."""
    app_folders = [a.path.resolve() for a in apps if a.path is not None]
    fallback = None
    for path, line in reversed(frames):
        if not path.is_absolute() or not path.exists():
            continue
        if ctx.is_project_file(path):
            return FileLocation(ctx.display_path(path), line)
        if fallback is None and any(_resolved(path).is_relative_to(f) for f in app_folders):
            fallback = FileLocation(ctx.display_path(path), line)
    return fallback


def _plain_hint(
    failure: BootFailure, usage: list[Finding], frames: list[tuple[Path, int]], ctx: Context
) -> str:
    """The hint for a failure that is not an import cycle."""
    on_stack = {f"{ctx.display_path(p)}:{n}" for p, n in frames}
    for finding in usage:
        if finding.id == "authtools.W203" and str(finding.location) in on_stack:
            return (
                f"get_user_model() at {finding.location} runs before the user model is loaded: "
                "use settings.AUTH_USER_MODEL in relation fields and call get_user_model() "
                "inside functions."
            )
    return (
        "Fix the error at this line; `python -m authtools diagnose --traceback` shows the "
        "whole traceback."
    )


def _cycle_of(ctx: Context, failure: BootFailure) -> list[ImportEdge]:
    """The import cycle behind a failure whose message names a partially imported module."""
    text = str(failure.error)
    match = _PARTIAL.search(text) or _CANNOT_IMPORT.search(text)
    if match is None:
        return []
    return find_cycle(ctx, match.group(1))


def find_cycle(ctx: Context, start: str) -> list[ImportEdge]:
    """The shortest chain of import-time imports of project modules from START back to it."""
    graph = ImportGraph(ctx)
    came_from: dict[str, ImportEdge | None] = {start: None}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for edge in graph.edges(module):
            if edge.target == start:
                chain = [edge]
                previous = came_from[module]
                while previous is not None:
                    chain.append(previous)
                    previous = came_from[previous.source]
                return list(reversed(chain))
            if edge.target not in came_from:
                came_from[edge.target] = edge
                queue.append(edge.target)
    return []


class ImportGraph:
    """Import-time imports between the project's own modules, read with ast on demand."""

    def __init__(self, ctx: Context) -> None:
        self.project = source.project_paths(ctx)
        self._edges: dict[str, list[ImportEdge]] = {}

    def project_file(self, module: str) -> Path | None:
        path = source.locate_module(module)
        if path is None or path.suffix != ".py":
            return None
        return path if self.project.contains(path) else None

    def edges(self, module: str) -> list[ImportEdge]:
        if module not in self._edges:
            self._edges[module] = self._read(module)
        return self._edges[module]

    def _read(self, module: str) -> list[ImportEdge]:
        path = self.project_file(module)
        tree = source.parse(path) if path else None
        if path is None or tree is None:
            return []
        edges: list[ImportEdge] = []
        for node, _cls in source.import_time_nodes(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = tuple(a.name for a in node.names) if isinstance(node, ast.ImportFrom) else ()
            seen: set[str] = set()
            for target in source.imported_modules(module, path, node):
                if target in seen or target == module or self.project_file(target) is None:
                    continue
                seen.add(target)
                edges.append(
                    ImportEdge(module, target, path, node.lineno, ast.unparse(node), names)
                )
        return edges


def _cycle_finding(ctx: Context, apps: list[source.AppInfo], cycle: list[ImportEdge]) -> Finding:
    chain = " -> ".join([cycle[0].source, *(edge.target for edge in cycle)])
    steps = "; ".join(f"{ctx.display_path(e.path)}:{e.line} `{e.statement}`" for e in cycle)
    closing = cycle[-1]
    where = FileLocation(ctx.display_path(closing.path), closing.line)
    return catalog.finding(
        "authtools.E202",
        f"Models modules import each other in a cycle: {chain} ({steps}).",
        _break_hint(ctx, apps, closing, where),
        location=where,
    )


def _break_hint(
    ctx: Context, apps: list[source.AppInfo], edge: ImportEdge, where: FileLocation
) -> str:
    user = _custom_user_model(ctx)
    owner = next(
        (
            a
            for a in apps
            if edge.target == a.models_module or edge.target.startswith(f"{a.models_module}.")
        ),
        None,
    )
    refs: list[str] = []
    if owner is not None:
        for name in edge.names:
            if user and owner.label == user[0] and name.lower() == user[1].lower():
                refs.append("settings.AUTH_USER_MODEL")
            elif name[:1].isupper():
                refs.append(repr(f"{owner.label}.{name}"))
    instead = (
        f"refer to {' and '.join(refs)} in relation fields instead of importing the class"
        if refs
        else "refer to the other app's models as 'app_label.ModelName' strings in relation "
        "fields instead of importing them"
    )
    return (
        f"Break the cycle at {where} (`{edge.statement}`): {instead}, or move the code both "
        "modules need into a module that imports neither."
    )


# --- W203 / W204 -------------------------------------------------------------------------------
def _custom_user_model(ctx: Context) -> tuple[str, str] | None:
    """(app_label, ModelName) of AUTH_USER_MODEL when it is custom and well formed."""
    value = ctx.auth_user_model_raw
    if not isinstance(value, str) or value.count(".") != 1 or value.strip() != value:
        return None
    label, name = value.split(".")
    if not label or not name or value.lower() == "auth.user":
        return None
    return label, name


def _module_name(app: source.AppInfo, path: Path) -> str:
    assert app.path is not None
    parts = list(path.relative_to(app.path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([app.name, *parts])


def _import_time_uses(
    ctx: Context,
    app: source.AppInfo,
    path: Path,
    user: tuple[str, str] | None,
    user_app: source.AppInfo | None,
) -> list[Finding]:
    text = source.read_text(path)
    if text is None:
        return []
    look_for_call = "get_user_model" in text
    look_for_import = (
        not ctx.extra.get("system_check")  # W204 is style advice, never a system check
        and user is not None
        and user_app is not None
        and user_app.name != app.name
        and user_app.name.rpartition(".")[2] in text
        and _word(user[1]).search(text) is not None
    )
    if not (look_for_call or look_for_import):
        return []
    tree = source.parse(path)
    if tree is None:
        return []
    module = _module_name(app, path)
    display = ctx.display_path(path)
    findings: list[Finding] = []
    for node, cls in source.import_time_nodes(tree):
        if look_for_call and isinstance(node, ast.Call):
            if source.dotted(node.func).rpartition(".")[2] == "get_user_model":
                findings.append(_get_user_model_finding(module, display, node.lineno, cls))
        elif look_for_import and user_app is not None and user is not None:
            imported, bound = _user_class_import(module, path, node, user_app, user[1])
            if imported:
                typing_only = bound is not None and bound not in source.runtime_names(tree)
                findings.append(
                    _user_import_finding(module, display, node, imported, user_app, typing_only)
                )
    return findings


@functools.lru_cache(maxsize=8)
def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)


def _get_user_model_finding(module: str, display: str, line: int, cls: str | None) -> Finding:
    where = "at module level" if cls is None else f"in the body of class {cls!r}"
    return catalog.finding(
        "authtools.W203",
        f"get_user_model() is called {where} of {module!r}, that is while Django imports the "
        "models: it only works if the user model's app happens to load first.",
        "Use settings.AUTH_USER_MODEL in relation fields (models.ForeignKey("
        "settings.AUTH_USER_MODEL, ...)) and call get_user_model() inside functions or methods.",
        location=FileLocation(display, line),
    )


def _user_class_import(
    module: str, path: Path, node: ast.AST, user_app: source.AppInfo, model_name: str
) -> tuple[str, str | None]:
    """('accounts.models.User', the name it is bound to) when NODE imports the user model
    class, ('accounts.models.User', None) when NODE reads it as an attribute, else ('', None)."""
    wanted = model_name.lower()
    if isinstance(node, ast.ImportFrom):
        targets = source.imported_modules(module, path, node)
        if not targets:
            return "", None
        origin = targets[0]
        if origin != user_app.models_module and not origin.startswith(f"{user_app.models_module}."):
            return "", None
        for alias in node.names:
            if alias.name.lower() == wanted:
                return f"{origin}.{alias.name}", alias.asname or alias.name
        return "", None
    if isinstance(node, ast.Attribute):
        name = source.dotted(node)
        if name.lower() == f"{user_app.models_module}.{model_name}".lower():
            return name, None
    return "", None


def _user_import_finding(
    module: str,
    display: str,
    node: ast.AST,
    imported: str,
    user_app: source.AppInfo,
    typing_only: bool,
) -> Finding:
    if typing_only:
        hint = (
            "The class is used only in annotations: import it under `if TYPE_CHECKING:` "
            "(from typing) so that nothing is imported at run time."
        )
    else:
        hint = (
            "Use settings.AUTH_USER_MODEL in relation fields (models.ForeignKey("
            "settings.AUTH_USER_MODEL, ...)) and get_user_model() inside functions."
        )
    return catalog.finding(
        "authtools.W204",
        f"{module!r} imports the user model class {imported!r}: importing it now needs "
        f"{user_app.models_module!r} first, which ties the apps' import order together "
        "(and breaks with an import cycle as soon as the user app imports this one).",
        hint,
        location=FileLocation(display, getattr(node, "lineno", 0)),
    )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path
