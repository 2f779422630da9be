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
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from authtools.procedures.fixcode.edits import Edit, Offsets, apply

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
class _Binding:
    name: str
    origin: Literal["auth", "authmodule", "custom", "call"]
    statement: ast.stmt
    alias: ast.alias | None  # None for NAME = get_user_model()
    uses: list[ast.expr] = field(default_factory=list)


def rewrite(source: str, target: Target, kind: Kind, *, applied: bool = False) -> Result:
    """Rewrite SOURCE, a module of KIND; APPLIED says a migration is recorded as applied."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Result(source, left=[Left(exc.lineno or 1, "the module", "it does not parse")])
    return _Rewriter(source, tree, target, kind, applied).run()


class _Rewriter:
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

    def _auth_user_line(self) -> int | None:
        """The first line that names auth.User (a string or apps.get_model), if any."""
        lines = [
            n.lineno
            for n in ast.walk(self.tree)
            if (isinstance(n, ast.Constant) and str(n.value).lower() == "auth.user")
            or (isinstance(n, ast.Call) and _is_get_model_of_auth_user(n))
        ]
        return min(lines) if lines else None

    # --- bindings of the user class -------------------------------------------------------
    def _bindings(self) -> list[_Binding]:
        found: list[_Binding] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.extend(self._from_import(node))
            elif (
                self.kind == "models"
                and isinstance(node, ast.Assign)
                and self.parents.get(node) is self.tree
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and _is_get_user_model_call(node.value)
            ):
                found.append(_Binding(node.targets[0].id, "call", node, None))
        usable = []
        for binding in found:
            rebound = self._rebound(binding)
            if rebound:
                self._leave(binding.statement, f"{binding.name!r} is bound again at line {rebound}")
            else:
                usable.append(binding)
        return usable

    def _from_import(self, node: ast.ImportFrom) -> Iterator[_Binding]:
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
            yield _Binding(alias.asname or alias.name, origin, node, alias)

    def _rebound(self, binding: _Binding) -> int | None:
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
    def _rewrite_uses(self, bindings: list[_Binding]) -> None:
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

    def _rewrite_use(self, binding: _Binding, use: ast.expr) -> None:
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
            if not _is_get_user_model_call(node) or self._in_function_body(node):
                continue
            parent = self.parents.get(node)
            if isinstance(parent, ast.Assign) and self.parents.get(parent) is self.tree:
                continue  # NAME = get_user_model(): a binding, rewritten through its uses
            caller = self.parents.get(parent) if isinstance(parent, ast.keyword) else None
            if self._relation_argument(node) is not None or (
                isinstance(parent, ast.keyword)
                and parent.arg == "sender"
                and isinstance(caller, ast.Call)
                and _callee(caller) in ("receiver", "connect")
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
            if isinstance(node, ast.Call) and _is_get_model_of_auth_user(node):
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
            if any(_is_swappable(e) for e in elements):
                return
            auth = [e for e in elements if _is_app_dependency(e, "auth")]
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
            args = _get_model_args(node) if isinstance(node, ast.Call) else []
            if args[:1] == ["auth"] and args[1:] != ["User"]:
                return True
        return False

    # --- imports --------------------------------------------------------------------------
    def _settle_imports(self, bindings: list[_Binding]) -> None:
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
            indent = _indent(self._line(statement))
            if kept:
                if "#" in self.source[start:end] and statement.end_lineno != statement.lineno:
                    self._leave(
                        statement, "an import with comments inside: remove the name by hand"
                    )
                    continue
                text = _import_line(statement.module or "", kept, indent)
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
        django = [n for n in imports if _module_of(n).split(".")[0] == "django"]
        after_new = [n for n in django if _module_of(n) > new]
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
            return parent if isinstance(parent, ast.Call) and _is_relation(parent) else None
        if isinstance(parent, ast.Call) and _is_relation(parent) and parent.args[:1] == [node]:
            return parent
        return None

    def _get_model_call(self, node: ast.AST) -> ast.Call | None:
        parent = self.parents.get(node)
        return (
            parent if isinstance(parent, ast.Call) and _is_get_model_of_auth_user(parent) else None
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
                and _is_type_checking(parent.test)
            ):
                return True
        return False

    def _under_type_checking(self, node: ast.AST) -> bool:
        return any(
            isinstance(parent, ast.If) and child in parent.body and _is_type_checking(parent.test)
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


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_relation(call: ast.Call) -> bool:
    return _callee(call) in RELATION_FIELDS


def _is_get_user_model_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and not node.args
        and not node.keywords
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "get_user_model"
    )


def _get_model_args(call: ast.Call) -> list[str]:
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


def _is_get_model_of_auth_user(call: ast.Call) -> bool:
    args = _get_model_args(call)
    return len(args) == 2 and args[0] == "auth" and args[1].lower() == "user"


def _is_type_checking(test: ast.expr) -> bool:
    return getattr(test, "id", getattr(test, "attr", "")) == "TYPE_CHECKING"


def _is_swappable(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "swappable_dependency"


def _is_app_dependency(node: ast.expr, app: str) -> bool:
    return (
        isinstance(node, ast.Tuple)
        and len(node.elts) == 2
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value == app
    )


def _module_of(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.ImportFrom):
        return node.module or ""
    return node.names[0].name


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _import_line(module: str, aliases: list[ast.alias], indent: str) -> str:
    names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)
    line = f"{indent}from {module} import {names}\n"
    if len(line) <= 100:
        return line
    inner = "".join(
        f"{indent}    {a.name}{f' as {a.asname}' if a.asname else ''},\n" for a in aliases
    )
    return f"{indent}from {module} import (\n{inner}{indent})\n"
