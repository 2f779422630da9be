"""manage.py commands in a child process, for the steps, the checks and the backup."""

from __future__ import annotations

from typing import Any

from authtools.procedures import childproc
from authtools.procedures.reset.spec import Inspection


def run_command(
    ins: Inspection, args: list[str], overrides: dict[str, Any] | None = None
) -> childproc.ChildResult:
    result = childproc.run_manage(args, overrides, cwd=ins.root)
    if not result.ok:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {last_line(result)}")
    return result


def last_line(result: childproc.ChildResult) -> str:
    return result.last_error_line().rstrip(".")
