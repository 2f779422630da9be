"""Rewrite ``perms.auth.<action>_user`` in templates to the current user model's permission."""

from __future__ import annotations

import re

from authtools.procedures.fixcode.syntax import Change, Result, Target

TEMPLATE_PERMISSION = re.compile(r"\bperms\.auth\.(add|change|delete|view)_user\b")


def rewrite_template(text: str, target: Target) -> Result:
    """TEXT with every perms.auth.<action>_user replaced; nothing to do for auth.User itself."""
    if not target.custom:
        return Result(text)
    result = Result(text)

    def replace(match: re.Match[str]) -> str:
        after = f"perms.{target.permission(match.group(1))}"
        line = text.count("\n", 0, match.start()) + 1
        result.changes.append(Change(line, match.group(0), after))
        return after

    result.source = TEMPLATE_PERMISSION.sub(replace, text)
    return result
