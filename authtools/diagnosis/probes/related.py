"""Probe: related. (Placeholder: findings not implemented yet.)"""

from __future__ import annotations

from collections.abc import Iterator

from authtools.diagnosis.context import Context
from authtools.diagnosis.report import Finding

REQUIRES = "ready"
USES_DB = True


def run(ctx: Context) -> Iterator[Finding]:
    return iter(())
