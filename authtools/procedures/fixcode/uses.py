"""The rewrites of a module's uses of the user model: bindings, uses, strings, dependencies.

Third stage of rewriting one module: reads the tree (``tree.Tree``) and records the edits that
replace each use (``settings.AUTH_USER_MODEL``, ``get_user_model()``, the user model's
permission, ``swappable_dependency``) or the reason it is left alone. The imports those edits
need are settled afterwards, in ``python``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Literal

from authtools.procedures.fixcode.syntax import (
    AUTH_MODELS,
    CALL,
    PERMISSION,
    SETTING,
    SWAPPABLE,
    Binding,
    callee,
    get_model_args,
    is_app_dependency,
    is_get_model_of_auth_user,
    is_get_user_model_call,
    is_swappable,
)
from authtools.procedures.fixcode.tree import Tree


class UsesRewriter(Tree):
    """The rewrites of the uses; ``python._Rewriter`` adds the imports and drives them."""

    def _auth_user_line(self) -> int | None:
        """The first line that names auth.User (a string or apps.get_model), if any."""
        lines = [
            n.lineno
            for n in ast.walk(self.tree)
            if (isinstance(n, ast.Constant) and str(n.value).lower() == "auth.user")
            or (isinstance(n, ast.Call) and is_get_model_of_auth_user(n))
        ]
        return min(lines) if lines else None

    # --- bindings of the user class -------------------------------------------------------
    def _bindings(self) -> list[Binding]:
        found: list[Binding] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.extend(self._from_import(node))
            elif (
                self.kind == "models"
                and isinstance(node, ast.Assign)
                and self.parents.get(node) is self.tree
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and is_get_user_model_call(node.value)
            ):
                found.append(Binding(node.targets[0].id, "call", node, None))
        usable = []
        for binding in found:
            rebound = self._rebound(binding)
            if rebound:
                self._leave(binding.statement, f"{binding.name!r} is bound again at line {rebound}")
            else:
                usable.append(binding)
        return usable

    def _from_import(self, node: ast.ImportFrom) -> Iterator[Binding]:
        module = node.module or ""
        if module == AUTH_MODELS:
            origin: Literal["auth", "authmodule", "custom"] = "auth"
        elif module == "django.contrib.auth":
            origin = "authmodule"
        elif self.kind == "models" and module == self.target.module and self.target.custom:
            origin = "custom"
        else:
            return
        wanted = {"auth": "User", "authmodule": "models", "custom": self.target.class_name}[origin]
        for alias in node.names:
            if alias.name == "*" and origin != "authmodule":
                self._leave(node, "a star import: the names it binds are not known")
            if alias.name != wanted:
                continue
            if self._under_type_checking(node):
                continue  # for annotations only: not a run-time use
            if self._scope(node) is not self.tree:
                self._leave(node, "imported inside a function or class")
                continue
            yield Binding(alias.asname or alias.name, origin, node, alias)

    def _rebound(self, binding: Binding) -> int | None:
        own = {id(n) for n in ast.walk(binding.statement)}
        for node in ast.walk(self.tree):
            if id(node) in own:
                continue
            if isinstance(node, ast.Name) and node.id == binding.name:
                if not isinstance(node.ctx, ast.Load):
                    return node.lineno
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == binding.name:
                    return node.lineno
            elif isinstance(node, ast.arg) and node.arg == binding.name:
                return node.lineno
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound == binding.name:
                        return node.lineno
        return None

    # --- uses -----------------------------------------------------------------------------
    def _rewrite_uses(self, bindings: list[Binding]) -> None:
        by_name = {b.name: b for b in bindings}
        for node in ast.walk(self.tree):
            binding = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                binding = by_name.get(node.id)
                if binding is not None and binding.origin == "authmodule":
                    parent = self.parents.get(node)
                    if isinstance(parent, ast.Attribute) and parent.attr == "User":
                        binding.uses.append(parent)
                    continue
                if binding is not None:
                    binding.uses.append(node)
        for binding in bindings:
            for use in binding.uses:
                self._rewrite_use(binding, use)

    def _rewrite_use(self, binding: Binding, use: ast.expr) -> None:
        if self._in_annotation(use):
            return  # not a run-time use; the import stays for it
        if self._relation_argument(use) is not None:
            self._replace(use, SETTING, "settings")
            return
        parent = self.parents.get(use)
        if isinstance(parent, ast.ClassDef) and use in parent.bases:
            self._leave(use, "a subclass of the user model: change it by hand")
        elif self._in_function_body(use):
            self._replace(use, CALL, "get_user_model")
        elif binding.origin == "custom":
            self._leave(use, "used at import time of a models module: the import stays")
        elif self.kind == "models":
            self._leave(
                use,
                "used at import time of a models module, where get_user_model() would run "
                "while the app registry loads",
            )
        elif binding.origin != "call":
            self._replace(use, CALL, "get_user_model")

    def _rewrite_import_time_calls(self) -> None:
        """get_user_model() evaluated while a models module is imported (W203): as a relation's
        model or a model signal's sender, settings.AUTH_USER_MODEL says the same lazily."""
        for node in ast.walk(self.tree):
            if not is_get_user_model_call(node) or self._in_function_body(node):
                continue
            parent = self.parents.get(node)
            if isinstance(parent, ast.Assign) and self.parents.get(parent) is self.tree:
                continue  # NAME = get_user_model(): a binding, rewritten through its uses
            caller = self.parents.get(parent) if isinstance(parent, ast.keyword) else None
            if self._relation_argument(node) is not None or (
                isinstance(parent, ast.keyword)
                and parent.arg == "sender"
                and isinstance(caller, ast.Call)
                and callee(caller) in ("receiver", "connect")
            ):
                self._replace(node, SETTING, "settings")
                self.replaced_calls = True
            else:
                self._leave(
                    node,
                    "get_user_model() at import time of a models module: only a relation or "
                    "a model signal's sender can take settings.AUTH_USER_MODEL instead",
                )

    def _rewrite_strings(self) -> None:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            value = node.value
            if value.lower() == "auth.user" and self._relation_argument(node) is not None:
                self._replace(node, SETTING, "settings")
            elif value.lower() == "auth.user" and self._get_model_call(node) is not None:
                pass  # handled as a whole call below
            elif (
                self.target.custom
                and self.kind != "migration"
                and (match := PERMISSION.fullmatch(value)) is not None
            ):
                segment = self.offsets.segment(node)
                if value not in segment:  # escapes or implicit concatenation
                    self._leave(node, "a permission string written in pieces")
                    continue
                new = segment.replace(value, self.target.permission(match.group(1)))
                self._replace(node, new, None)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and is_get_model_of_auth_user(node):
                first, last = node.args[0], node.args[-1]
                start, _ = self.offsets.span(first)
                _, end = self.offsets.span(last)
                self._add(start, end, SETTING, node.lineno, self.source[start:end])
                self._need("settings", node)

    def _rewrite_dependencies(self) -> None:
        """In a migration now related to settings.AUTH_USER_MODEL: depend on it, not on auth."""
        for node in ast.walk(self.tree):
            if not (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "dependencies" for t in node.targets)
                and isinstance(node.value, ast.List | ast.Tuple)
            ):
                continue
            elements = node.value.elts
            if any(is_swappable(e) for e in elements):
                return
            auth = [e for e in elements if is_app_dependency(e, "auth")]
            if not auth:
                self._append_dependency(node.value)
                return
            if self._other_auth_references():
                self._append_dependency(node.value)
            else:
                self._replace(auth[0], SWAPPABLE, "settings")
            return

    def _append_dependency(self, container: ast.List | ast.Tuple) -> None:
        if not container.elts:
            return
        first = container.elts[0]
        start, _ = self.offsets.span(first)
        if first.lineno == container.lineno:
            text = f"{SWAPPABLE}, "
        else:
            text = f"{SWAPPABLE},\n{' ' * first.col_offset}"
        self._add(start, start, text, first.lineno, "")
        self._need("settings", container)

    def _other_auth_references(self) -> bool:
        """Does the migration still refer to another auth model (Group, Permission)?"""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value.lower()
                if value.startswith("auth.") and value != "auth.user":
                    return True
            args = get_model_args(node) if isinstance(node, ast.Call) else []
            if args[:1] == ["auth"] and args[1:] != ["User"]:
                return True
        return False
