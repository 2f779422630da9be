"""fix_user_model_code: rewrite the project's own hard-coded user-model references.

A one-way pipeline: ``edits`` splices text at syntax-tree positions; ``syntax`` (names and
pure predicates on nodes), ``tree`` (a parsed module and its recorded edits), ``uses`` (the
rewrites of the uses) and ``python`` (the imports they need; ``rewrite``, the entry point)
rewrite one Python text, ``templates`` one template (pure functions); ``survey`` finds the
project's files and computes every rewrite; ``plan`` turns the survey into a Plan (one step
per file with its diff, a backup of every file, verification by a fresh diagnosis) and
validates a backup for ``--restore``.
"""

from __future__ import annotations

from authtools.procedures.fixcode.plan import PROCEDURE, build_plan, restore_plan
from authtools.procedures.fixcode.survey import FixError

__all__ = ["PROCEDURE", "FixError", "build_plan", "restore_plan"]
