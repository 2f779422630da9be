"""The settings module a project's manage.py names, read with ast (manage.py is never run).

``python -m authtools diagnose`` runs where manage.py cannot: beside it, with no --settings and
no DJANGO_SETTINGS_MODULE, it takes the module from manage.py's
``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")``, as manage.py would.
"""

from __future__ import annotations

import ast
from pathlib import Path

VARIABLE = "DJANGO_SETTINGS_MODULE"


class ManagePyError(Exception):
    """manage.py exists but does not name a settings module that can be read without running it."""


def settings_from_manage_py(folder: Path) -> str | None:
    """The settings module FOLDER/manage.py sets, or None when there is no manage.py.

    Raises ManagePyError when manage.py cannot be read or parsed, or sets the variable from
    an expression (not a plain string) or not at all.
    """
    path = folder / "manage.py"
    if not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ManagePyError(f"{path} cannot be read: {type(exc).__name__}: {exc}") from None
    for node in ast.walk(tree):
        value = _setdefault_value(node) or _assigned_value(node)
        if value is None:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
            return value.value
        raise ManagePyError(
            f"{path}:{value.lineno} sets {VARIABLE} from an expression "
            f"({ast.unparse(value)}), which is only known when manage.py runs"
        )
    raise ManagePyError(f"{path} does not set {VARIABLE}")


def _is_environ(node: ast.expr) -> bool:
    """os.environ, or environ imported from os."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _setdefault_value(node: ast.AST) -> ast.expr | None:
    """VALUE of ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", VALUE)``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    if node.func.attr != "setdefault" or not _is_environ(node.func.value):
        return None
    if len(node.args) != 2 or not _is_variable(node.args[0]):
        return None
    return node.args[1]


def _assigned_value(node: ast.AST) -> ast.expr | None:
    """VALUE of ``os.environ["DJANGO_SETTINGS_MODULE"] = VALUE``."""
    if not isinstance(node, ast.Assign):
        return None
    for target in node.targets:
        if (
            isinstance(target, ast.Subscript)
            and _is_environ(target.value)
            and _is_variable(target.slice)
        ):
            return node.value
    return None


def _is_variable(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == VARIABLE
