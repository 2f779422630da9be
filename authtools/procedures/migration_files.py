"""Migration files as text: find and rewrite the dependencies one app's migrations declare;
forget the modules of files just written."""

from __future__ import annotations

import ast
import difflib
import sys
from collections.abc import Mapping
from pathlib import Path


def dependency_spans(source: str, app_label: str) -> list[tuple[int, int, int, int, str]]:
    """(line, col, end line, end col, name) of every ``(APP_LABEL, 'name')`` literal listed in
    the ``dependencies`` of a migration's ``Migration`` class; lines are 1-based."""
    tree = ast.parse(source)
    spans: list[tuple[int, int, int, int, str]] = []
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.Assign):
                continue
            if not any(isinstance(t, ast.Name) and t.id == "dependencies" for t in stmt.targets):
                continue
            for item in ast.walk(stmt.value):
                if not isinstance(item, (ast.Tuple, ast.List)) or len(item.elts) != 2:
                    continue
                app, name = item.elts
                if (
                    isinstance(app, ast.Constant)
                    and app.value == app_label
                    and isinstance(name, ast.Constant)
                    and isinstance(name.value, str)
                    and name.end_lineno is not None
                    and name.end_col_offset is not None
                ):
                    spans.append(
                        (
                            name.lineno,
                            name.col_offset,
                            name.end_lineno,
                            name.end_col_offset,
                            name.value,
                        )
                    )
    return spans


def rewrite_dependencies(source: str, app_label: str, mapping: Mapping[str, str]) -> str:
    """SOURCE with every dependency ``(APP_LABEL, OLD)`` changed to ``(APP_LABEL, MAPPING[OLD])``.

    Only the name literal changes; quotes, layout and comments stay as they were.
    """
    lines = source.splitlines(keepends=True)
    spans = [s for s in dependency_spans(source, app_label) if s[4] in mapping]
    for line, col, end_line, end_col, name in sorted(spans, reverse=True):
        if line != end_line:  # a name literal split over lines: rewrite it onto the first line
            lines[line - 1] = (
                lines[line - 1][:col] + repr(mapping[name]) + lines[end_line - 1][end_col:]
            )
            del lines[line:end_line]
            continue
        text = lines[line - 1]
        quote = text[col] if text[col] in "'\"" else "'"
        lines[line - 1] = text[:col] + f"{quote}{mapping[name]}{quote}" + text[end_col:]
    return "".join(lines)


def unified_diff(old: str, new: str, display: str) -> list[str]:
    """The change from OLD to NEW as diff lines (no trailing newlines), for plans."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{display}",
            tofile=f"b/{display}",
            n=1,
        )
    ]


def migration_files(folder: Path) -> list[Path]:
    """The migration modules in FOLDER, sorted: every ``*.py`` whose name does not start with
    ``_`` or ``~`` (Django's own rule; ``__init__.py`` stays)."""
    return sorted(p for p in folder.glob("*.py") if p.name[0] not in "_~")


def write_source(path: Path, text: str) -> None:
    """Write a generated source file (a migration) atomically, mode 0644 whatever the umask."""
    from authtools.procedures.backup import SOURCE_MODE, write_atomic

    write_atomic(path, text, SOURCE_MODE)


def make_readable(paths: list[Path]) -> None:
    """Give source files written by a child process (makemigrations) mode 0644, not what the
    umask left (0666 under umask 000)."""
    import os

    from authtools.procedures.backup import SOURCE_MODE

    for path in paths:
        os.chmod(path, SOURCE_MODE)


def forget_modules(app_module: str) -> None:
    """Drop cached migration modules of an app so that files just written are read."""
    import importlib

    for name in [n for n in sys.modules if n.startswith(f"{app_module}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
