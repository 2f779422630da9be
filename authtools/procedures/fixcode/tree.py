"""A parsed module and the edits recorded against it: the base of the Python rewrite.

Second stage of rewriting one module: reads the source and its syntax tree (parents, scopes,
annotations, ``if TYPE_CHECKING:``); records edits (``Edit``s for ``edits.apply``), the
``Change``s and the ``Left`` entries of the ``Result``, and the imports the edits need. The
rewrites themselves are in ``uses`` and ``python``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from authtools.procedures.fixcode.edits import Edit, Offsets
from authtools.procedures.fixcode.syntax import (
    Change,
    Kind,
    Left,
    Result,
    Target,
    is_get_model_of_auth_user,
    is_relation,
    is_type_checking,
)


class Tree:
    """One module being rewritten: its source, tree and target, and what the rewrite recorded."""

    def __init__(self, source: str, tree: ast.Module, target: Target, kind: Kind, applied: bool):
        self.source, self.tree, self.target, self.kind = source, tree, target, kind
        self.applied = applied
        self.offsets = Offsets(source)
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.edits: list[Edit] = []
        self.result = Result(source)
        self.needs: set[str] = set()  # imports to add: "settings", "get_user_model"
        self.scopes: dict[str, list[ast.AST]] = {}  # name -> scopes of the edits that use it
        self.replaced_calls = False  # a get_user_model() call was rewritten

    # --- helpers --------------------------------------------------------------------------
    def _replace(self, node: ast.AST, text: str, needs: str | None) -> None:
        start, end = self.offsets.span(node)
        self._add(start, end, text, node.lineno, self.source[start:end])  # type: ignore[attr-defined]
        if needs:
            self._need(needs, node)

    def _need(self, name: str, node: ast.AST) -> None:
        """An edit at NODE uses NAME (to be imported unless it is already)."""
        self.needs.add(name)
        self.scopes.setdefault(name, []).append(self._scope(node))

    def _add(self, start: int, end: int, text: str, line: int, before: str) -> None:
        self.edits.append(Edit(start, end, text, line))
        if line:
            self.result.changes.append(Change(line, before.strip(), text.strip()))

    def _leave(self, node: ast.AST, reason: str) -> None:
        line = getattr(node, "lineno", 1)
        what = self.offsets.segment(node).splitlines()[0] if hasattr(node, "end_lineno") else ""
        entry = Left(line, what.strip(), reason)
        if entry not in self.result.left:
            self.result.left.append(entry)

    def _line(self, node: ast.stmt) -> str:
        return self.offsets.lines[node.lineno - 1]

    def _relation_argument(self, node: ast.AST) -> ast.Call | None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.keyword) and parent.arg == "to":
            parent = self.parents.get(parent)
            return parent if isinstance(parent, ast.Call) and is_relation(parent) else None
        if isinstance(parent, ast.Call) and is_relation(parent) and parent.args[:1] == [node]:
            return parent
        return None

    def _get_model_call(self, node: ast.AST) -> ast.Call | None:
        parent = self.parents.get(node)
        return (
            parent if isinstance(parent, ast.Call) and is_get_model_of_auth_user(parent) else None
        )

    def _ancestors(self, node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
        """(child, parent) pairs from NODE up to the module."""
        while node in self.parents:
            parent = self.parents[node]
            yield node, parent
            node = parent

    def _in_annotation(self, node: ast.AST) -> bool:
        for child, parent in self._ancestors(node):
            if isinstance(parent, ast.arg) and child is parent.annotation:
                return True
            if (
                isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef)
                and child is parent.returns
            ):
                return True
            if isinstance(parent, ast.AnnAssign) and child is parent.annotation:
                return True
            if (
                isinstance(parent, ast.If)
                and child in parent.body
                and is_type_checking(parent.test)
            ):
                return True
        return False

    def _under_type_checking(self, node: ast.AST) -> bool:
        return any(
            isinstance(parent, ast.If) and child in parent.body and is_type_checking(parent.test)
            for child, parent in self._ancestors(node)
        )

    def _in_function_body(self, node: ast.AST) -> bool:
        for child, parent in self._ancestors(node):
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
                return child in parent.body
            if isinstance(parent, ast.Lambda):
                return child is parent.body
        return False

    def _scope(self, node: ast.AST) -> ast.AST:
        for _, parent in self._ancestors(node):
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                return parent
        return self.tree
