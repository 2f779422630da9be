"""Text edits located by the syntax tree, applied to the source text as it is.

Why not a concrete-syntax-tree library (LibCST) or a token library (tokenize-rt, which
django-upgrade uses)? Every rewrite here replaces one small expression or one import line: the
standard library's ``ast`` gives each node's exact span (line, column, end line, end column), so
the fixer splices the new text into the original source and leaves every other character,
comment and blank line as it was. That needs no dependency beyond Django (the package's
dependencies are fixed), and it cannot reformat code it did not mean to touch. Columns in
``ast`` count UTF-8 bytes; ``Offsets`` turns them into character offsets.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with ``text``; ``line`` is the 1-based line it starts on."""

    start: int
    end: int
    text: str
    line: int


class Offsets:
    """Character offsets of (line, UTF-8 byte column) positions in one source text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def at(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode()[:byte_col].decode(errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.at(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.at(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end]

    def whole_lines(self, node: ast.stmt) -> tuple[int, int]:
        """The span of the lines a statement occupies, newline included (for removing it)."""
        start = self.starts[node.lineno - 1]
        end = self.starts[min(node.end_lineno or node.lineno, len(self.lines))]
        return start, end

    def line_start(self, line: int) -> int:
        return self.starts[min(line - 1, len(self.lines))]


def apply(source: str, edits: list[Edit]) -> str:
    """Apply non-overlapping EDITS (any order); an edit overlapping an earlier one is dropped."""
    out: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position:
            continue
        out.append(source[position : edit.start])
        out.append(edit.text)
        position = edit.end
    out.append(source[position:])
    return "".join(out)
