"""--write-settings: point AUTH_USER_MODEL at the new model (and install its app) in the
settings module, only where the values are plain literals, and show the change as a diff.

The file is read with ``ast``: a top-level ``AUTH_USER_MODEL = "..."`` string is replaced in
place (its absence means auth.User: a line is appended); a top-level ``INSTALLED_APPS`` list or
tuple of strings gets the app added at its end. Anything else (a value computed from the
environment, ``+=``, several assignments) is refused with the line to change by hand.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from authtools.procedures.swap.spec import SwapRefused


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


def settings_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise SwapRefused(f"cannot find the file of the settings module {module!r}")
    return Path(spec.origin)


def _assignments(tree: ast.Module, name: str) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found.append(node)
    return found


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """The character offset of (1-based line, byte column) in the text made of LINES."""
    line = lines[lineno - 1]
    return sum(len(x) for x in lines[: lineno - 1]) + len(line.encode()[:col].decode())


def _plain(node: ast.stmt, name: str, path: Path) -> ast.expr:
    value = getattr(node, "value", None)
    if not isinstance(node, ast.Assign) or len(node.targets) != 1 or value is None:
        raise SwapRefused(
            f"{name} in {str(path)!r} line {node.lineno} is not a plain assignment: change it "
            "by hand"
        )
    return value


def set_user_model(text: str, path: Path, label: str, app: str | None) -> str:
    """TEXT with AUTH_USER_MODEL = LABEL and, when APP is given, APP in INSTALLED_APPS."""
    tree = ast.parse(text)
    lines = text.splitlines(True)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) on TEXT
    quote = '"'
    if app is not None:
        found = _assignments(tree, "INSTALLED_APPS")
        if len(found) != 1:
            raise SwapRefused(
                f"INSTALLED_APPS is assigned {len(found)} times in {str(path)!r}: add {app!r} "
                "by hand"
            )
        value = _plain(found[0], "INSTALLED_APPS", path)
        if not isinstance(value, (ast.List, ast.Tuple)) or not all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
        ):
            raise SwapRefused(
                f"INSTALLED_APPS in {str(path)!r} line {value.lineno} is not a plain list of "
                f"strings: add {app!r} by hand"
            )
        names = [str(e.value) for e in value.elts if isinstance(e, ast.Constant)]
        if value.elts:
            first = value.elts[0]
            quote = lines[first.lineno - 1][first.col_offset] or '"'
        if app not in names and f"{app}.apps" not in " ".join(names):
            edits.append(_append_element(lines, value, f"{quote}{app}{quote}"))
    found = _assignments(tree, "AUTH_USER_MODEL")
    if len(found) > 1:
        raise SwapRefused(
            f"AUTH_USER_MODEL is assigned {len(found)} times in {str(path)!r}: change it by hand"
        )
    if found:
        value = _plain(found[0], "AUTH_USER_MODEL", path)
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            raise SwapRefused(
                f"AUTH_USER_MODEL in {str(path)!r} line {value.lineno} is not a plain string: "
                f"set it to {label!r} by hand"
            )
        assert value.end_lineno is not None and value.end_col_offset is not None
        start = _offset(lines, value.lineno, value.col_offset)
        end = _offset(lines, value.end_lineno, value.end_col_offset)
        quote = text[start] if text[start] in "'\"" else quote
        edits.append((start, end, f"{quote}{label}{quote}"))
    else:
        tail = "" if text.endswith("\n") or not text else "\n"
        edits.append((len(text), len(text), f"{tail}AUTH_USER_MODEL = {quote}{label}{quote}\n"))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _append_element(
    lines: list[str], value: ast.List | ast.Tuple, element: str
) -> tuple[int, int, str]:
    """An edit that adds ELEMENT after the last element of VALUE, in the list's own layout."""
    text_before = "".join(lines)
    if not value.elts:
        assert value.end_lineno is not None and value.end_col_offset is not None
        end = _offset(lines, value.end_lineno, value.end_col_offset) - 1  # before the bracket
        return (end, end, element + ("," if isinstance(value, ast.Tuple) else ""))
    last = value.elts[-1]
    assert last.end_lineno is not None and last.end_col_offset is not None
    end = _offset(lines, last.end_lineno, last.end_col_offset)
    comma = text_before[end:].lstrip(" ").startswith(",")
    if last.lineno != value.lineno:  # one element a line: copy the last one's indentation
        indent = lines[last.lineno - 1][: last.col_offset]
        line_end = text_before.index("\n", end)
        return (line_end, line_end, ("" if comma else ",") + f"\n{indent}{element},")
    if comma:
        end = text_before.index(",", end) + 1
        return (end, end, f" {element},")
    return (end, end, f", {element}")


def plan_settings_edit(module: str, label: str, app: str | None) -> SettingsEdit:
    path = settings_file(module)
    before = path.read_text()
    return SettingsEdit(path, before, set_user_model(before, path, label, app))


def write_settings(edit: SettingsEdit) -> None:
    edit.path.write_text(edit.after)
