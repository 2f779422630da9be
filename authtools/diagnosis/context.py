"""What every probe may look at: the settings, how far Django booted, the project's files."""

from __future__ import annotations

import ast
import importlib.util
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from authtools.diagnosis.boot import BootState
from authtools.diagnosis.report import FileLocation

_NOT_SET = object()


@dataclass
class Context:
    """Inputs shared by all probes. Build it with ``Context.create()``."""

    boot: BootState
    settings_module: str | None
    database: str = "default"
    use_db: bool = True
    target: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, boot: BootState, **options: Any) -> Context:
        import os

        settings_module = options.pop("settings_module", None) or os.environ.get(
            "DJANGO_SETTINGS_MODULE"
        )
        return cls(boot=boot, settings_module=settings_module, **options)

    # --- settings --------------------------------------------------------------------------
    @property
    def auth_user_model_raw(self) -> Any:
        """AUTH_USER_MODEL as the settings give it (maybe malformed), or Django's default."""
        from django.conf import settings

        return getattr(settings, "AUTH_USER_MODEL", "auth.User")

    @property
    def auth_user_model_is_set(self) -> bool:
        from django.conf import settings

        return settings.is_overridden("AUTH_USER_MODEL")

    @cached_property
    def settings_file(self) -> Path | None:
        return module_file(self.settings_module) if self.settings_module else None

    @cached_property
    def project_root(self) -> Path:
        """The folder on sys.path that holds the settings package (where manage.py usually is)."""
        if self.settings_file is None or self.settings_module is None:
            return Path.cwd()
        depth = self.settings_module.count(".") + 1
        path = self.settings_file
        if path.name == "__init__.py":
            path = path.parent
        return path.parents[depth - 1]

    def setting_location(self, name: str) -> FileLocation | None:
        """Where ``name = ...`` is assigned in the settings module (or a module it star-imports)."""
        if self.settings_file is None:
            return None
        seen: set[Path] = set()
        pending = [(self.settings_file, self.settings_module or "")]
        while pending:
            path, module = pending.pop(0)
            if path in seen or not path.exists():
                continue
            seen.add(path)
            tree = parse_file(path)
            if tree is None:
                continue
            found = None
            for node in tree.body:
                targets: list[ast.expr] = []
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, ast.AnnAssign):
                    targets = [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    found = node.lineno  # the last assignment wins, as at run time
                elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                    imported = resolve_relative(module, node.module, node.level)
                    imported_file = module_file(imported) if imported else None
                    if imported_file:
                        pending.append((imported_file, imported or ""))
            if found is not None:
                return FileLocation(self.display_path(path), found)
        return None

    # --- files ------------------------------------------------------------------------------
    def display_path(self, path: str | Path) -> str:
        """A path as findings show it: relative to the project root when inside it."""
        return relative_display(path, self.project_root)

    def is_project_file(self, path: str | Path) -> bool:
        """True for the project's own code, False for the stdlib and installed packages."""
        resolved = Path(path).resolve()
        if any(resolved.is_relative_to(p) for p in _library_paths()):
            return False
        return resolved.is_relative_to(self.project_root.resolve())

    # --- apps -------------------------------------------------------------------------------
    def app_configs(self) -> list[Any]:
        from django.apps import apps

        return list(apps.app_configs.values()) if self.boot.ok("apps") else []

    def user_model(self) -> Any:
        """The model class AUTH_USER_MODEL names, or None when it cannot be resolved."""
        from django.apps import apps

        value = self.auth_user_model_raw
        if not isinstance(value, str) or value.count(".") != 1 or not self.boot.ok("apps"):
            return None
        app_label, model_name = value.split(".")
        return apps.all_models.get(app_label, {}).get(model_name.lower())


def current_project_root() -> Path:
    """The project root of the running (booted) project: where manage.py usually is."""
    from authtools.diagnosis.boot import booted_state

    return Context.create(booted_state()).project_root


def relative_display(path: str | Path, root: Path) -> str:
    """PATH relative to ROOT when inside it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def module_file(module: str) -> Path | None:
    """The file of a module, found without importing it (parents are imported, as Python does)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    return Path(spec.origin)


def resolve_relative(current: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module
    parts = current.split(".")
    if level > len(parts):
        return None
    base = parts[: len(parts) - level]
    return ".".join(base + ([module] if module else [])) or None


_PARSED: dict[Path, ast.Module | None] = {}


def parse_file(path: Path, source: str | bytes | None = None) -> ast.Module | None:
    """Parse a Python file once per process; None when it cannot be read or parsed.

    ``source`` is the file's text when the caller has already read it (not read again).
    """
    if path not in _PARSED:
        try:
            text = path.read_bytes() if source is None else source
            _PARSED[path] = ast.parse(text, filename=str(path))
        except (OSError, SyntaxError, ValueError):
            _PARSED[path] = None
    return _PARSED[path]


def _library_paths() -> list[Path]:
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(sys.prefix)
    paths.add(sys.base_prefix)
    return [Path(p).resolve() for p in paths]


def iter_python_files(root: Path) -> Iterator[Path]:
    """Python files under root, skipping virtualenvs, caches and hidden folders."""
    skip = {"__pycache__", "node_modules", "site-packages"}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(part in skip or part.startswith(".") for part in rel[:-1]):
            continue
        if (root / rel[0] / "pyvenv.cfg").exists() if len(rel) > 1 else False:
            continue
        yield path
