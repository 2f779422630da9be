"""Finding the user model's class and the project's user model candidates, for the model and
setting probes: the app registry as far as it loaded, the models module's attributes, and ast
in the models module and the app's folder (a class that Django never registered)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authtools.diagnosis.context import Context, parse_file

USER_BASE_NAMES = ("AbstractBaseUser", "AbstractUser")


# --- finding the class ----------------------------------------------------------------------


def parse_setting(value: Any) -> tuple[str, str] | None:
    """('app_label', 'ModelName') from AUTH_USER_MODEL (stray whitespace ignored), or None."""
    if not isinstance(value, str):
        return None
    parts = "".join(value.split()).split(".")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def app_config_for(label: str) -> Any:
    """The AppConfig with this label in the registry as far as it loaded, or None."""
    from django.apps import apps

    return apps.app_configs.get(label)


def registered_model(ctx: Context, label: str, name: str) -> Any:
    """The registered model LABEL.NAME (case-insensitive, as Django), or None."""
    from django.apps import apps

    if not ctx.boot.ok("apps"):
        return None
    return apps.all_models.get(label, {}).get(name.lower())


def models_module_file(app_config: Any) -> Path | None:
    """The file of the app's models module (models.py or models/__init__.py), if it has one."""
    module = getattr(app_config, "models_module", None)
    if module is not None and getattr(module, "__file__", None):
        return Path(module.__file__)
    base = Path(app_config.path)
    for candidate in (base / "models.py", base / "models" / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def class_defs(tree: ast.Module) -> Iterator[ast.ClassDef]:
    """Top-level class statements, including those under module-level if/try blocks."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            pending.extend(node.body)
            pending.extend(node.orelse)
            if isinstance(node, ast.Try):
                pending.extend(node.finalbody)


def find_class_node(path: Path, name: str) -> ast.ClassDef | None:
    """The class statement NAME (case-insensitive) at the top of a file, or None."""
    tree = parse_file(path)
    if tree is None:
        return None
    for node in class_defs(tree):
        if node.name.lower() == name.lower():
            return node
    return None


def imports_name(path: Path, name: str) -> bool:
    """True when the module at PATH imports NAME (``from x import NAME`` or ``import *``)."""
    tree = parse_file(path)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name).lower() == name.lower():
                    return True
    return False


@dataclass(frozen=True)
class ClassSite:
    """Where a class statement is: its file, line and dotted module."""

    path: Path
    line: int
    module: str
    name: str


def find_in_app(app_config: Any, name: str) -> ClassSite | None:
    """A class statement NAME in any module of the app's folder except its migrations."""
    base = Path(app_config.path)
    skip = {"migrations", "__pycache__", "tests", "node_modules"}
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base)
        if any(part in skip or part.startswith(".") for part in rel.parts[:-1]):
            continue
        node = find_class_node(path, name)
        if node is not None:
            parts = [*rel.parts[:-1]] + ([] if path.name == "__init__.py" else [path.stem])
            module = ".".join([app_config.name, *parts])
            return ClassSite(path, node.lineno, module, node.name)
    return None


def relative_import(from_package: str, module: str, name: str) -> str:
    """``from .users import User`` as written in a module of FROM_PACKAGE."""
    here, there = from_package.split("."), module.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    dots = "." * (len(here) - common + 1)
    return f"from {dots}{'.'.join(there[common:])} import {name}"


# --- user model candidates (for suggestions) ------------------------------------------------


def is_user_class(cls: Any) -> bool:
    from django.contrib.auth.base_user import AbstractBaseUser

    return isinstance(cls, type) and issubclass(cls, AbstractBaseUser)


def registered_user_models(ctx: Context) -> list[Any]:
    """Concrete, non-proxy user models in the registry as far as it loaded."""
    from django.apps import apps

    if not ctx.boot.ok("apps"):
        return []
    found = []
    for models in list(apps.all_models.values()):
        for cls in list(models.values()):
            if is_user_class(cls) and not cls._meta.proxy and not _swapped(cls):
                found.append(cls)
    return found


def _swapped(cls: Any) -> bool:
    """True for a swappable model that the settings replace (auth.User, usually)."""
    if not cls._meta.swappable:
        return False
    try:
        return bool(cls._meta.swapped)
    except (AttributeError, ValueError):  # AUTH_USER_MODEL is not even a string
        return True


def static_user_classes(app_config: Any) -> list[str]:
    """Class names in the app's models module whose bases look like a user model (ast)."""
    path = models_module_file(app_config)
    tree = parse_file(path) if path else None
    if tree is None:
        return []
    names = []
    for node in class_defs(tree):
        bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
        if any(b in USER_BASE_NAMES or b.endswith("User") for b in bases):
            names.append(node.name)
    return names


def model_names(ctx: Context, app_config: Any) -> list[str]:
    """The app's model names (ObjectName case): the registry, else the models module's classes."""
    from django.apps import apps

    registered = [
        str(m._meta.object_name)
        for m in apps.all_models.get(app_config.label, {}).values()
        if not m._meta.auto_created
    ]
    if ctx.boot.ok("models"):
        return registered
    path = models_module_file(app_config)
    tree = parse_file(path) if path else None
    parsed = [n.name for n in class_defs(tree)] if tree is not None else []
    return registered + [n for n in parsed if n not in registered]
