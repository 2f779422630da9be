"""Static views of the project's source, shared by the imports and references probes.

Nothing here imports the project's modules: app packages are found from INSTALLED_APPS with
``importlib.util.find_spec`` on the top-level name and the file system below it, so that it works
when ``django.setup()`` cannot. Files are read once per process and parsed only when a cheap
text test says they may hold what a probe looks for.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from authtools.diagnosis.context import Context, parse_file

# Folders never worth walking into: caches, virtualenvs, VCS data, front-end dependencies.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
TRACEBACK_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


@dataclass(frozen=True)
class AppInfo:
    """An installed app as found without importing it."""

    entry: str  # the INSTALLED_APPS entry
    name: str  # the app's package, e.g. "accounts"
    label: str  # its app label, e.g. "accounts"
    path: Path | None  # the package folder
    in_project: bool  # inside the project root (the project's own code)

    @property
    def models_module(self) -> str:
        return f"{self.name}.models"

    def models_files(self) -> list[Path]:
        """models.py, or every module of a models/ package."""
        if self.path is None:
            return []
        single = self.path / "models.py"
        if single.is_file():
            return [single]
        package = self.path / "models"
        if (package / "__init__.py").is_file():
            return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
        return []


# --- reading -----------------------------------------------------------------------------------
_TEXT: dict[str, str | None] = {}
_CHUNK = 1 << 20


def read_text(path: str | Path) -> str | None:
    """A file's text, read once per process; None when it cannot be read.

    os.open/os.read rather than open(): a large project has thousands of small files and the
    system checks read them all, so the io layers' per-file cost shows.
    """
    key = os.fspath(path)
    if key not in _TEXT:
        try:
            fd = os.open(key, os.O_RDONLY)
        except OSError:
            _TEXT[key] = None
        else:
            try:
                data = os.read(fd, _CHUNK)
                if len(data) == _CHUNK:  # a short read is the end of a regular file
                    chunks = [data]
                    while chunk := os.read(fd, _CHUNK):
                        chunks.append(chunk)
                    data = b"".join(chunks)
                _TEXT[key] = data.decode("utf-8", errors="replace")
            except OSError:
                _TEXT[key] = None
            finally:
                os.close(fd)
    return _TEXT[key]


def parse(path: Path) -> ast.Module | None:
    """The file's syntax tree, through the shared parse cache, from the text already read."""
    text = read_text(path)
    if text is None:
        return None
    return parse_file(path, source=text)


def line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --- modules and apps --------------------------------------------------------------------------
_LOCATED: dict[str, Path | None] = {}


def locate_module(name: str) -> Path | None:
    """The file of module NAME without importing anything of the project.

    Only the top-level package goes through ``find_spec`` (which imports nothing for it); the
    rest of the dotted name is looked up in that package's folders.
    """
    if name not in _LOCATED:
        _LOCATED[name] = _locate(name)
    return _LOCATED[name]


def _locate(name: str) -> Path | None:
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return None
    if not rest:
        if spec.origin and spec.origin not in ("built-in", "frozen", "namespace"):
            return Path(spec.origin)
        locations = list(spec.submodule_search_locations or [])
        return Path(locations[0]) if locations else None
    folders = [Path(p) for p in (spec.submodule_search_locations or [])]
    for index, part in enumerate(rest):
        last = index == len(rest) - 1
        found: list[Path] = []
        for folder in folders:
            package = folder / part
            if (package / "__init__.py").is_file():
                if last:
                    return package / "__init__.py"
                found = [package]
                break
            if last and (folder / f"{part}.py").is_file():
                return folder / f"{part}.py"
            if package.is_dir():  # a namespace package portion
                found.append(package)
        if not found:
            return None
        if last:
            return found[0]
        folders = found
    return None


def module_package_folder(path: Path | None) -> Path | None:
    if path is None:
        return None
    return path.parent if path.name == "__init__.py" or path.suffix == ".py" else path


def installed_apps(ctx: Context) -> list[AppInfo]:
    """INSTALLED_APPS as AppInfo, from Django's registry when loaded, else statically."""
    cached = ctx.extra.get("authtools.source.apps")
    if cached is not None:
        return list(cached)
    from django.conf import settings

    apps_list: list[AppInfo] = []
    entries = [e for e in getattr(settings, "INSTALLED_APPS", []) if isinstance(e, str)]
    registry = _registry_apps() if ctx.boot.ok("apps") else {}
    for entry in entries:
        if entry in registry:
            name, label, path = registry[entry]
        else:
            name, label = _static_app(entry)
            path = module_package_folder(locate_module(name))
        in_project = path is not None and project_paths(ctx).contains(path)
        apps_list.append(AppInfo(entry, name, label, path, in_project))
    ctx.extra["authtools.source.apps"] = apps_list
    return list(apps_list)


class ProjectPaths:
    """``Context.is_project_file`` with the library folders and the root resolved only once
    (as strings: a large project asks for hundreds of paths)."""

    def __init__(self, ctx: Context) -> None:
        paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        paths |= {sys.prefix, sys.base_prefix}
        self.libraries = tuple(_folder_prefix(p) for p in paths)
        self.root = _folder_prefix(ctx.project_root)
        self._known: dict[str, bool] = {}

    def contains(self, path: str | Path) -> bool:
        key = os.fspath(path)
        if key not in self._known:
            resolved = _folder_prefix(key)
            self._known[key] = resolved.startswith(self.root) and not resolved.startswith(
                self.libraries
            )
        return self._known[key]


def _folder_prefix(path: str | Path) -> str:
    """The real path of PATH with a trailing separator, for prefix tests on whole folders."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = os.path.abspath(path)
    return real if real.endswith(os.sep) else real + os.sep


def project_paths(ctx: Context) -> ProjectPaths:
    found = ctx.extra.get("authtools.source.project_paths")
    if not isinstance(found, ProjectPaths):
        found = ctx.extra["authtools.source.project_paths"] = ProjectPaths(ctx)
    return found


def _registry_apps() -> dict[str, tuple[str, str, Path | None]]:
    from django.apps import apps

    found: dict[str, tuple[str, str, Path | None]] = {}
    for config in apps.get_app_configs():
        cls = type(config)
        value = (config.name, config.label, Path(config.path) if config.path else None)
        found[config.name] = value
        found[f"{cls.__module__}.{cls.__qualname__}"] = value
    return found


def _static_app(entry: str) -> tuple[str, str]:
    """(package, label) of an INSTALLED_APPS entry: a package or the path of an AppConfig."""
    path = locate_module(entry)
    if path is not None:
        folder = module_package_folder(path)
        apps_file = folder / "apps.py" if folder else None
        config = _default_config(apps_file) if apps_file and apps_file.is_file() else None
        label = (config or {}).get("label") or entry.rpartition(".")[2]
        return entry, label
    module, _, class_name = entry.rpartition(".")
    module_path = locate_module(module) if module else None
    config = _config_class(module_path, class_name) if module_path else None
    if config is None:
        name = module.rpartition(".")[0] if module.endswith(".apps") else module
        return name, name.rpartition(".")[2]
    name = config.get("name") or module.rpartition(".")[0]
    return name, config.get("label") or name.rpartition(".")[2]


def _config_classes(tree: ast.Module) -> dict[str, dict[str, object]]:
    classes: dict[str, dict[str, object]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        if not any(_dotted(base).endswith("AppConfig") for base in node.bases):
            continue
        attrs: dict[str, object] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        attrs[target.id] = stmt.value.value
        classes[node.name] = attrs
    return classes


def _config_class(path: Path, class_name: str) -> dict[str, str] | None:
    tree = parse(path)
    if tree is None:
        return None
    attrs = _config_classes(tree).get(class_name)
    if attrs is None:
        return None
    return {k: v for k, v in attrs.items() if isinstance(v, str)}


def _default_config(apps_file: Path) -> dict[str, str] | None:
    """The AppConfig Django would pick automatically from an app's apps.py."""
    tree = parse(apps_file)
    if tree is None:
        return None
    classes = _config_classes(tree)
    defaults = [a for a in classes.values() if a.get("default") is True]
    candidates = [a for a in classes.values() if a.get("default") is not False]
    chosen = defaults[0] if len(defaults) == 1 else candidates[0] if len(candidates) == 1 else None
    if chosen is None:
        return None
    return {k: v for k, v in chosen.items() if isinstance(v, str)}


# --- walking -----------------------------------------------------------------------------------
def iter_files(root: str | Path, suffixes: Iterable[str]) -> Iterator[str]:
    """Paths (strings, for speed) of the files under ROOT with one of SUFFIXES, in sorted order,
    never entering virtualenvs, caches or hidden folders."""
    wanted = tuple(suffixes)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if name.endswith(wanted):
                yield os.path.join(folder, name)


# --- syntax helpers ----------------------------------------------------------------------------
def _dotted(node: ast.expr) -> str:
    """'a.b.c' for Name/Attribute chains, '' for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


dotted = _dotted


def is_type_checking(test: ast.expr) -> bool:
    return _dotted(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING", "t.TYPE_CHECKING")


class RuntimeVisitor(ast.NodeVisitor):
    """A visitor that walks only what can run: annotations (of arguments, returns and
    variables), the type given to ``typing.cast()``, ``type X = ...`` aliases and
    ``if TYPE_CHECKING:`` blocks are skipped."""

    def visit_If(self, node: ast.If) -> None:
        if is_type_checking(node.test):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults]:
            self.visit(expr)
        for default in node.args.kw_defaults:
            if default is not None:
                self.visit(default)
        for stmt in node.body:
            self.visit(stmt)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def visit_TypeAlias(self, node: ast.AST) -> None:  # `type X = ...` (3.12+) is lazy
        return

    def visit_Call(self, node: ast.Call) -> None:
        if _dotted(node.func).rpartition(".")[2] == "cast" and node.args:
            self.visit(node.func)
            for expr in [*node.args[1:], *node.keywords]:
                self.visit(expr)
            return
        self.generic_visit(node)


class _RuntimeNames(RuntimeVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.add(node.id)


def runtime_names(tree: ast.AST) -> set[str]:
    """The names a module reads when its code runs (not in annotations; see RuntimeVisitor)."""
    visitor = _RuntimeNames()
    visitor.visit(tree)
    return visitor.names


def import_time_nodes(tree: ast.Module) -> Iterator[tuple[ast.AST, str | None]]:
    """Every node evaluated when the module is imported, with the enclosing class (or None).

    Function and lambda bodies are skipped (their decorators and defaults are not), and so are
    ``if TYPE_CHECKING:`` blocks.
    """
    stack: list[tuple[ast.AST, str | None]] = [(stmt, None) for stmt in reversed(tree.body)]
    while stack:
        node, cls = stack.pop()
        yield node, cls
        children: list[tuple[ast.AST, str | None]] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            evaluated: list[ast.AST] = [*node.decorator_list, *node.args.defaults]
            evaluated += [d for d in node.args.kw_defaults if d is not None]
            children = [(n, cls) for n in evaluated]
        elif isinstance(node, ast.Lambda):
            children = [(n, cls) for n in node.args.defaults]
        elif isinstance(node, ast.ClassDef):
            children = [(n, cls) for n in [*node.decorator_list, *node.bases, *node.keywords]]
            children += [(n, node.name) for n in node.body]
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            children = [(n, cls) for n in node.orelse]
        else:
            children = [(n, cls) for n in ast.iter_child_nodes(node)]
        stack.extend(reversed(children))


def relative_base(module: str, path: Path, level: int) -> str | None:
    """The package a relative import of LEVEL dots in MODULE (file PATH) starts from."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    kept = parts[: len(parts) - (level - 1)]
    return ".".join(kept) or None


def imported_modules(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute names of the modules an import statement loads (names imported included)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = relative_base(module, path, node.level)
        if base is None:
            return []
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    if not target:
        return []
    return [target] + [f"{target}.{a.name}" for a in node.names if a.name != "*"]


def frames(traceback_text: str) -> list[tuple[Path, int]]:
    """The (file, line) of each frame of a formatted traceback, outermost first."""
    return [(Path(m.group(1)), int(m.group(2))) for m in TRACEBACK_FRAME.finditer(traceback_text)]
