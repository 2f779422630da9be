"""What the Python rewrite looks for, as data and pure predicates on syntax-tree nodes.

The first stage of rewriting one module (``edits`` splices text; this module names things;
``tree`` walks a parsed module; ``uses`` rewrites the uses; ``python`` settles the imports and
drives the whole): the constants the rewrite writes, the result types (``Target`` in, a
``Result`` of ``Change``s and ``Left``s out) and functions of one node that import nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Literal

AUTH_MODELS = "django.contrib.auth.models"
RELATION_FIELDS = frozenset({"ForeignKey", "OneToOneField", "ManyToManyField"})
PERMISSION = re.compile(r"auth\.(add|change|delete|view)_user")
SETTING = "settings.AUTH_USER_MODEL"
CALL = "get_user_model()"
SETTINGS_IMPORT = "from django.conf import settings"
GET_USER_MODEL_IMPORT = "from django.contrib.auth import get_user_model"
SWAPPABLE = "migrations.swappable_dependency(settings.AUTH_USER_MODEL)"

Kind = Literal["models", "code", "migration"]


@dataclass(frozen=True)
class Target:
    """The current AUTH_USER_MODEL: app label, lower-case model name, the class's module."""

    label: str
    model: str
    class_name: str
    module: str

    @property
    def custom(self) -> bool:
        return (self.label, self.model) != ("auth", "user")

    def permission(self, action: str) -> str:
        return f"{self.label}.{action}_{self.model}"


@dataclass(frozen=True)
class Change:
    line: int
    before: str
    after: str


@dataclass(frozen=True)
class Left:
    line: int
    what: str
    reason: str


@dataclass
class Result:
    source: str
    changes: list[Change] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)


@dataclass
class Binding:
    name: str
    origin: Literal["auth", "authmodule", "custom", "call"]
    statement: ast.stmt
    alias: ast.alias | None  # None for NAME = get_user_model()
    uses: list[ast.expr] = field(default_factory=list)


def callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def is_relation(call: ast.Call) -> bool:
    return callee(call) in RELATION_FIELDS


def is_get_user_model_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and not node.args
        and not node.keywords
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "get_user_model"
    )


def get_model_args(call: ast.Call) -> list[str]:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "get_model"):
        return []
    if call.keywords or not all(
        isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args
    ):
        return []
    values = [a.value for a in call.args]  # type: ignore[attr-defined]
    if len(values) == 1 and values[0].count(".") == 1:
        values = values[0].split(".")
    return values


def is_get_model_of_auth_user(call: ast.Call) -> bool:
    args = get_model_args(call)
    return len(args) == 2 and args[0] == "auth" and args[1].lower() == "user"


def is_type_checking(test: ast.expr) -> bool:
    return getattr(test, "id", getattr(test, "attr", "")) == "TYPE_CHECKING"


def is_swappable(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "swappable_dependency"


def is_app_dependency(node: ast.expr, app: str) -> bool:
    return (
        isinstance(node, ast.Tuple)
        and len(node.elts) == 2
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value == app
    )


def module_of(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.ImportFrom):
        return node.module or ""
    return node.names[0].name


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def import_line(module: str, aliases: list[ast.alias], indent: str) -> str:
    names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)
    line = f"{indent}from {module} import {names}\n"
    if len(line) <= 100:
        return line
    inner = "".join(
        f"{indent}    {a.name}{f' as {a.asname}' if a.asname else ''},\n" for a in aliases
    )
    return f"{indent}from {module} import (\n{inner}{indent})\n"
