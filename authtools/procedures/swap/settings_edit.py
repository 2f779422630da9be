"""--write-settings: point AUTH_USER_MODEL at the new model (and install its app) in the
settings, only where the values are plain literals, and show the change as a diff.

Settings are often a package (``settings/base.py`` imported by ``dev.py`` or ``production.py``
with ``from .base import *``): the files are read with ``ast``, following star imports (and
chains of them) in the order Python runs them, to the module whose statement really gives each
setting its value, and that module is the one edited:

* ``INSTALLED_APPS``: its last plain definition (``+=`` and ``INSTALLED_APPS = INSTALLED_APPS +
  [...]`` in later modules only extend it) is a list or tuple of strings, or a sum of such lists
  named in the same module (``DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS``). The app goes
  before the first of the project's own apps (those whose folder is in the project, not in an
  installed package), so that its admin and signals load before code that calls
  get_user_model(); at the end of the last list when the project lists no app of its own.
* ``AUTH_USER_MODEL``: its last assignment, a plain string, is replaced; when no module sets it
  (auth.User), a line is appended to the module that defines INSTALLED_APPS, so that every
  settings variant importing it gets it.

What cannot be edited that way (a value computed from the environment, an assignment under a
condition) is returned as a step to do by hand, with the file and line.

Beside the swap's chain (it prepares the project before a swap): reads the settings files;
returns a ``SettingsPlan`` (edits and diffs, or steps to do by hand).
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from authtools.procedures.swap.spec import SwapRefused

APPS = "INSTALLED_APPS"
USER_MODEL = "AUTH_USER_MODEL"


@dataclass
class SettingsEdit:
    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> list[str]:
        return [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                self.before.splitlines(True),
                self.after.splitlines(True),
                fromfile=f"{self.path} (before)",
                tofile=f"{self.path} (after)",
            )
        ]


@dataclass
class SettingsPlan:
    """The edits of the settings files (one per file that changes) and what to do by hand."""

    edits: list[SettingsEdit] = field(default_factory=list)
    by_hand: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[SettingsEdit]:
        return [edit for edit in self.edits if edit.changed]

    @property
    def pending(self) -> bool:
        """True when the settings do not name the new model yet."""
        return bool(self.changed or self.by_hand)


@dataclass
class SettingsModule:
    name: str
    path: Path
    text: str
    tree: ast.Module


@dataclass
class Binding:
    """A statement that gives NAME a value, and the module it is in."""

    module: SettingsModule
    node: ast.stmt
    conditional: bool  # under an if, for, while or with

    @property
    def value(self) -> ast.expr | None:
        node = self.node
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            return node.value
        return None

    def where(self) -> str:
        return f"{str(self.module.path)!r} line {self.node.lineno}"


def settings_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise SwapRefused(f"cannot find the file of the settings module {module!r}")
    return Path(spec.origin)


def _load(name: str, path: Path | None = None) -> SettingsModule | None:
    try:
        path = path or settings_file(name)
        text = path.read_text()
        return SettingsModule(name, path, text, ast.parse(text, filename=str(path)))
    except (SwapRefused, ImportError, ValueError, OSError, SyntaxError):
        return None


def _star_import(module: SettingsModule, node: ast.ImportFrom) -> str | None:
    """The module that ``from X import *`` in MODULE names (relative names resolved)."""
    if node.level == 0:
        return node.module
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else [])) or None


def _statements(body: list[ast.stmt], conditional: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement of BODY in order, with those in nested blocks (a try's body runs
    unconditionally; an if, for, while or with may not)."""
    for node in body:
        yield node, conditional
        if isinstance(node, ast.Try):
            yield from _statements(node.body, conditional)
            for handler in node.handlers:
                yield from _statements(handler.body, True)
            yield from _statements(node.orelse + node.finalbody, conditional)
        elif isinstance(node, (ast.If, ast.For, ast.While)):
            yield from _statements(node.body + node.orelse, True)
        elif isinstance(node, ast.With):
            yield from _statements(node.body, True)


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    return []


def bindings(module: SettingsModule, name: str, seen: set[Path] | None = None) -> list[Binding]:
    """Every statement that gives NAME a value when MODULE runs, in the order they run,
    star-imported modules included where they are imported."""
    seen = set() if seen is None else seen
    if module.path in seen:
        return []
    seen.add(module.path)
    found: list[Binding] = []
    for node, conditional in _statements(module.tree.body, False):
        if any(isinstance(t, ast.Name) and t.id == name for t in _targets(node)):
            found.append(Binding(module, node, conditional))
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            imported_name = _star_import(module, node)
            imported = _load(imported_name) if imported_name else None
            if imported is not None:
                found.extend(bindings(imported, name, seen))
    return found


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _definition(found: list[Binding], name: str) -> Binding | None:
    """The binding that gives NAME its base value: the last one that does not extend it."""
    for binding in reversed(found):
        node = binding.node
        value = getattr(node, "value", None)
        if isinstance(node, ast.AugAssign) or (value is not None and _mentions(value, name)):
            continue
        return binding
    return None


def _strings(value: ast.expr) -> list[str] | None:
    if isinstance(value, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
    ):
        return [str(e.value) for e in value.elts if isinstance(e, ast.Constant)]
    return None


def _operands(value: ast.expr) -> list[ast.expr]:
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return _operands(value.left) + _operands(value.right)
    return [value]


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """The character offset of (1-based line, byte column) in the text made of LINES."""
    line = lines[lineno - 1]
    return sum(len(x) for x in lines[: lineno - 1]) + len(line.encode()[:col].decode())


Edit = tuple[Path, int, int, str]  # (file, start, end, replacement)


def _apps_edit(
    definition: Binding, app: str, is_project_app: Callable[[str], bool]
) -> tuple[list[Edit], str | None]:
    """The edit that adds APP to the lists of DEFINITION ([] when it is there already); or the
    step to do by hand."""
    by_hand = f"add {app!r} to INSTALLED_APPS by hand"
    value = definition.value
    if definition.conditional or value is None:
        kind = "under a condition" if definition.conditional else "not a plain assignment"
        return [], f"INSTALLED_APPS in {definition.where()} is {kind}: {by_hand}"
    module = definition.module
    lists: list[ast.List | ast.Tuple] = []
    for operand in _operands(value):
        if isinstance(operand, ast.Name):
            named = _definition(bindings(module, operand.id), operand.id)
            if named is None or named.module.path != module.path or named.value is None:
                return [], (
                    f"INSTALLED_APPS in {definition.where()} adds {operand.id}, which is not a "
                    f"plain list in the same file: {by_hand}"
                )
            operand = named.value
        if not isinstance(operand, (ast.List, ast.Tuple)) or _strings(operand) is None:
            return [], (
                f"INSTALLED_APPS in {definition.where()} is not a plain list of strings (or a "
                f"sum of such lists): {by_hand}"
            )
        lists.append(operand)
    names = [name for lst in lists for name in _strings(lst) or []]
    if app in names or any(n.startswith(f"{app}.apps.") for n in names):
        return [], None
    lines = module.text.splitlines(True)
    for lst in lists:
        for index, name in enumerate(_strings(lst) or []):
            if is_project_app(name):
                return [_insert_before(module, lines, lst, index, app)], None
    last = lists[-1]
    return [_append_element(module, lines, last, _quoted(lines, last, app))], None


def _quoted(lines: list[str], value: ast.List | ast.Tuple, text: str) -> str:
    quote = '"'
    if value.elts:
        first = value.elts[0]
        quote = lines[first.lineno - 1][first.col_offset] or '"'
    return f"{quote}{text}{quote}"


def _insert_before(
    module: SettingsModule, lines: list[str], value: ast.List | ast.Tuple, index: int, app: str
) -> Edit:
    """An edit that puts APP before the element INDEX of VALUE, in the list's own layout."""
    element = value.elts[index]
    start = _offset(lines, element.lineno, element.col_offset)
    line = lines[element.lineno - 1]
    quoted = _quoted(lines, value, app)
    if not line[: element.col_offset].strip():  # one element a line: a line of its own
        line_start = _offset(lines, element.lineno, 0)
        return (module.path, line_start, line_start, f"{line[: element.col_offset]}{quoted},\n")
    return (module.path, start, start, f"{quoted}, ")


def _append_element(
    module: SettingsModule, lines: list[str], value: ast.List | ast.Tuple, element: str
) -> Edit:
    """An edit that adds ELEMENT after the last element of VALUE, in the list's own layout."""
    text = module.text
    path = module.path
    if not value.elts:
        assert value.end_lineno is not None and value.end_col_offset is not None
        end = _offset(lines, value.end_lineno, value.end_col_offset) - 1  # before the bracket
        return (path, end, end, element + ("," if isinstance(value, ast.Tuple) else ""))
    last = value.elts[-1]
    assert last.end_lineno is not None and last.end_col_offset is not None
    end = _offset(lines, last.end_lineno, last.end_col_offset)
    comma = text[end:].lstrip(" ").startswith(",")
    if last.lineno != value.lineno:  # one element a line: copy the last one's indentation
        indent = lines[last.lineno - 1][: last.col_offset]
        line_end = text.index("\n", end)
        return (path, line_end, line_end, ("" if comma else ",") + f"\n{indent}{element},")
    if comma:
        end = text.index(",", end) + 1
        return (path, end, end, f" {element},")
    return (path, end, end, f", {element}")


def _user_model_edit(
    found: list[Binding], fallback: SettingsModule, label: str
) -> tuple[list[Edit], str | None]:
    """The edit that sets AUTH_USER_MODEL = LABEL where its value comes from (appended to
    FALLBACK when no module sets it); or the step to do by hand."""
    if not found:
        text = fallback.text
        tail = "" if text.endswith("\n") or not text else "\n"
        line = f'{tail}AUTH_USER_MODEL = "{label}"\n'
        return [(fallback.path, len(text), len(text), line)], None
    last = found[-1]
    value = last.value
    if last.conditional or not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        kind = "under a condition" if last.conditional else "not a plain string"
        return [], f"AUTH_USER_MODEL in {last.where()} is {kind}: set it to {label!r} by hand"
    assert value.end_lineno is not None and value.end_col_offset is not None
    text = last.module.text
    lines = text.splitlines(True)
    start = _offset(lines, value.lineno, value.col_offset)
    end = _offset(lines, value.end_lineno, value.end_col_offset)
    quote = text[start] if text[start] in "'\"" else '"'
    return [(last.module.path, start, end, f"{quote}{label}{quote}")], None


def plan_settings_edit(
    module: str, label: str, app: str | None, is_project_app: Callable[[str], bool]
) -> SettingsPlan:
    """The edits that set AUTH_USER_MODEL = LABEL and add APP (when given) to INSTALLED_APPS,
    made in the modules that really assign them when MODULE runs. IS_PROJECT_APP tells the
    project's own apps from installed ones (the new app goes before the first of them)."""
    root = _load(module)
    plan = SettingsPlan()
    if root is None:
        installed = f" and add {app!r} to INSTALLED_APPS" if app else ""
        plan.by_hand.append(
            f"cannot read the source of the settings module {module!r}: set AUTH_USER_MODEL = "
            f"{label!r}{installed} by hand"
        )
        return plan
    edits: list[Edit] = []
    apps_module = root
    if app is not None:
        definition = _definition(bindings(root, APPS), APPS)
        if definition is None:
            plan.by_hand.append(
                f"no module of the settings defines INSTALLED_APPS: add {app!r} to it by hand"
            )
        else:
            apps_module = definition.module
            found, problem = _apps_edit(definition, app, is_project_app)
            edits += found
            plan.by_hand += [problem] if problem else []
    found, problem = _user_model_edit(bindings(root, USER_MODEL), apps_module, label)
    edits += found
    plan.by_hand += [problem] if problem else []
    texts: dict[Path, str] = {}
    for path, _, _, _ in edits:
        texts.setdefault(path, path.read_text())
    for path, before in texts.items():
        after = before
        for _, start, end, replacement in sorted(
            (e for e in edits if e[0] == path), key=lambda e: (e[1], e[2]), reverse=True
        ):
            after = after[:start] + replacement + after[end:]
        plan.edits.append(SettingsEdit(path, before, after))
    return plan


def write_settings(plan: SettingsPlan) -> None:
    """Write the edited files; refuses (before writing any) when a step is left to do by hand."""
    if plan.by_hand:
        raise SwapRefused("; ".join(plan.by_hand))
    for edit in plan.changed:
        edit.path.write_text(edit.after)
