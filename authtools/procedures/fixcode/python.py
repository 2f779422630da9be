"""Rewrite one Python module's hard-coded user-model references (pure: text in, text out).

What it rewrites, per kind of module:

- relation fields ``ForeignKey(User)``, ``ForeignKey('auth.User')``, ``OneToOneField``,
  ``ManyToManyField`` (first argument or ``to=``) -> ``settings.AUTH_USER_MODEL``;
- in a models module, the user class imported from the user model's own module (the import
  that closes an import cycle) or bound at import time with ``get_user_model()``: relations ->
  ``settings.AUTH_USER_MODEL``, uses inside functions -> ``get_user_model()``, and the import or
  assignment goes once nothing needs it;
- run-time uses of ``django.contrib.auth.models.User`` -> ``get_user_model()``: inside
  functions everywhere, at module level only outside models modules (where it would run while
  the app registry loads);
- ``apps.get_model('auth', 'User')`` -> ``apps.get_model(settings.AUTH_USER_MODEL)``;
- permission strings ``'auth.change_user'`` -> the current user model's permission;
- in a migration that is not applied: ``to='auth.User'`` -> ``settings.AUTH_USER_MODEL`` and its
  dependency on ``auth`` -> ``migrations.swappable_dependency(settings.AUTH_USER_MODEL)``.
  An applied migration is left as it is: rewriting it would change what it did.

Anything it cannot rewrite safely (a rebound name, a star import, an import inside a function,
a use at import time of a models module, a name ``settings`` bound to something else) is left
alone and reported with the reason. Uses in annotations and under ``if TYPE_CHECKING:`` are not
run-time uses and are never rewritten.

The last stage of rewriting one module: ``syntax`` (names and predicates), ``tree`` (the parsed
module, the edits recorded), ``uses`` (the rewrites of the uses) come before it; here the
imports the edits need are added, the ones nothing needs any more removed, and ``rewrite``
drives the stages and returns the ``Result``.
"""

from __future__ import annotations

import ast

from authtools.procedures.fixcode.edits import apply
from authtools.procedures.fixcode.syntax import (
    CALL,
    GET_USER_MODEL_IMPORT,
    SETTING,
    SETTINGS_IMPORT,
    SWAPPABLE,
    Binding,
    Change,
    Kind,
    Left,
    Result,
    Target,
    import_line,
    indent_of,
    module_of,
)
from authtools.procedures.fixcode.uses import UsesRewriter

__all__ = ["Change", "Kind", "Left", "Result", "Target", "rewrite"]


def rewrite(source: str, target: Target, kind: Kind, *, applied: bool = False) -> Result:
    """Rewrite SOURCE, a module of KIND; APPLIED says a migration is recorded as applied."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Result(source, left=[Left(exc.lineno or 1, "the module", "it does not parse")])
    return _Rewriter(source, tree, target, kind, applied).run()


class _Rewriter(UsesRewriter):
    """The whole rewrite of one module: the uses, then the imports they need."""

    # --- driver ---------------------------------------------------------------------------
    def run(self) -> Result:
        if self.kind == "migration" and self.applied:
            line = self._auth_user_line()
            if line:
                self.result.left.append(
                    Left(
                        line,
                        "the migration",
                        "it is applied: rewriting it would change what it did",
                    )
                )
            return self.result
        bindings = self._bindings()
        self._rewrite_uses(bindings)
        self._rewrite_strings()
        if self.kind == "models":
            self._rewrite_import_time_calls()
        if self.kind == "migration" and any(e.text == SETTING for e in self.edits):
            self._rewrite_dependencies()
        self._settle_imports(bindings)
        if not self.edits:
            return self.result
        text = apply(self.source, self.edits)
        try:
            compile(text, "<rewritten>", "exec")
        except SyntaxError as exc:  # never write what does not compile
            return Result(self.source, left=[Left(1, "the module", f"rewrite failed: {exc}")])
        self.result.source = text
        return self.result

    # --- imports --------------------------------------------------------------------------
    def _settle_imports(self, bindings: list[Binding]) -> None:
        for name in sorted(self.needs):
            self._can_bind(name)  # drops the edits that need a name bound to something else
        if (self.kind == "migration" and "settings" in self.needs) or any(
            SWAPPABLE in e.text for e in self.edits
        ):
            self._needs_migrations_name()
        edited = {(e.start, e.end) for e in self.edits if e.text}
        removed: dict[ast.ImportFrom, list[ast.alias]] = {}
        dropped_calls: list[ast.stmt] = []
        for binding in bindings:
            left = [u for u in binding.uses if self.offsets.span(u) not in edited]
            if len(left) == len(binding.uses) or binding.origin == "authmodule":
                continue  # nothing rewritten, or a module that may serve other names
            if left:
                use = left[0]
                why = "a type hint" if self._in_annotation(use) else "see there"
                self._leave(binding.statement, f"still needed at line {use.lineno} ({why})")
                continue
            if binding.alias is None:  # NAME = get_user_model() at module level
                start, end = self.offsets.whole_lines(binding.statement)
                start = self._blank_line_before(start, end)
                self._add(start, end, "", binding.statement.lineno, self._line(binding.statement))
                dropped_calls.append(binding.statement)
                continue
            assert isinstance(binding.statement, ast.ImportFrom)
            removed.setdefault(binding.statement, []).append(binding.alias)
        if (dropped_calls or self.replaced_calls) and not any(e.text == CALL for e in self.edits):
            self._drop_unused_get_user_model(dropped_calls, removed)
        replacement = self._new_imports()
        for statement, aliases in removed.items():
            kept = [a for a in statement.names if a not in aliases]
            start, end = self.offsets.whole_lines(statement)
            indent = indent_of(self._line(statement))
            if kept:
                if "#" in self.source[start:end] and statement.end_lineno != statement.lineno:
                    self._leave(
                        statement, "an import with comments inside: remove the name by hand"
                    )
                    continue
                text = import_line(statement.module or "", kept, indent)
            else:
                text = ""
                start = self._blank_line_before(start, end)
            self._add(start, end, text, statement.lineno, self._line(statement))
        if replacement:
            gone = {s for s, names in removed.items() if len(names) == len(s.names)}
            at = self._import_position(gone)
            self._add(at, at, "".join(replacement), 0, "")

    def _blank_line_before(self, start: int, end: int) -> int:
        """Removing the lines [START, END): take the blank line above too when one follows, so
        that an emptied import group leaves no extra blank line."""
        above = self.source.rfind("\n", 0, max(start - 1, 0)) + 1
        blank_above = start > 0 and not self.source[above:start].strip()
        following = self.source[end : self.source.find("\n", end) + 1 or len(self.source)]
        if blank_above and not following.strip():
            return above
        return start

    def _needs_migrations_name(self) -> None:
        """swappable_dependency is written as migrations.swappable_dependency(...)."""
        for node in self.tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "django.db"
                and any((a.asname or a.name) == "migrations" for a in node.names)
            ):
                return
        dropped = [e for e in self.edits if SWAPPABLE in e.text]
        self.edits = [e for e in self.edits if SWAPPABLE not in e.text]
        self.result.changes = [c for c in self.result.changes if SWAPPABLE not in c.after]
        for edit in dropped:
            self.result.left.append(
                Left(edit.line, "dependencies", "'migrations' is not django.db.migrations here")
            )

    def _drop_unused_get_user_model(
        self, dropped: list[ast.stmt], removed: dict[ast.ImportFrom, list[ast.alias]]
    ) -> None:
        """NAME = get_user_model() or the calls went away: so does the import, if nothing else
        calls it."""
        inside = {id(n) for s in dropped for n in ast.walk(s)}
        edited = {(e.start, e.end) for e in self.edits if e.text}
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Name) and node.id == "get_user_model"):
                continue
            call = self.parents.get(node)
            replaced = isinstance(call, ast.Call) and self.offsets.span(call) in edited
            if id(node) not in inside and not replaced:
                return
        for statement in self.tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "django.contrib.auth":
                for alias in statement.names:
                    if alias.name == "get_user_model" and alias.asname is None:
                        removed.setdefault(statement, []).append(alias)

    def _can_bind(self, name: str) -> None:
        """Is NAME free, or already bound to what the rewrite needs? If bound otherwise, undo."""
        wanted = {
            "settings": ("django.conf", "settings"),
            "get_user_model": ("django.contrib.auth", "get_user_model"),
        }[name]
        imported = False
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        if (node.module, alias.name) != wanted:
                            self._undo(name, f"{name!r} is imported from {node.module}")
                            return
                        imported = True
        # Another binding shadows the import where it is at module level, or in the very class
        # or function body an edit is in (a class attribute 'settings' of another model does not).
        scopes = self.scopes.get(name, [])
        for other in ast.walk(self.tree):
            if (
                isinstance(other, ast.Name)
                and other.id == name
                and not isinstance(other.ctx, ast.Load)
            ):
                scope = self._scope(other)
                reason = f"{name!r} is bound at line {other.lineno}"
                if scope is self.tree:
                    self._undo(name, reason)
                    return
                if any(scope is s for s in scopes):
                    self._undo(name, reason, within=scope)
        if imported:
            self.needs.discard(name)

    def _undo(self, name: str, reason: str, within: ast.AST | None = None) -> None:
        """Drop every edit that needs NAME (only those inside WITHIN when given): it would not
        refer to what the rewrite means there."""
        text = SETTING if name == "settings" else CALL
        low, high = self.offsets.span(within) if within is not None else (0, len(self.source))
        dropped = [e for e in self.edits if text in e.text and low <= e.start < high]
        self.edits = [e for e in self.edits if e not in dropped]
        lines = {e.line for e in dropped}
        self.result.changes = [
            c for c in self.result.changes if not (text in c.after and c.line in lines)
        ]
        for edit in dropped:
            self.result.left.append(Left(edit.line, self.source[edit.start : edit.end], reason))
        if not any(text in e.text for e in self.edits):
            self.needs.discard(name)
        if name == "settings":
            self.edits = [e for e in self.edits if SWAPPABLE not in e.text]

    def _new_imports(self) -> list[str]:
        lines = []
        if "settings" in self.needs:
            lines.append(SETTINGS_IMPORT + "\n")
        if "get_user_model" in self.needs:
            lines.append(GET_USER_MODEL_IMPORT + "\n")
        return lines

    def _import_position(self, gone: set[ast.ImportFrom]) -> int:
        """Where a new django import goes: among the module's top-level django imports, in
        order, else after its last top-level import, else after the docstring."""
        imports = [
            n
            for n in self.tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)
            and n not in gone
            and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
        ]
        new = "django.conf" if "settings" in self.needs else "django.contrib.auth"
        django = [n for n in imports if module_of(n).split(".")[0] == "django"]
        after_new = [n for n in django if module_of(n) > new]
        if after_new:
            return self.offsets.line_start(after_new[0].lineno)
        anchors = django or imports
        if anchors:
            return self.offsets.whole_lines(anchors[-1])[1]
        body = self.tree.body
        head = [
            n
            for n in body[:2]
            if (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            or (isinstance(n, ast.ImportFrom) and n.module == "__future__")
        ]
        return self.offsets.whole_lines(head[-1])[1] if head else 0
