"""authtools: diagnose and repair Django custom user model problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from authtools.diagnosis.report import Report


def diagnose(**options: Any) -> Report:
    """Run every diagnosis probe on the configured project and return the Report.

    Django must be set up (``django.setup()``) unless ``booted=False`` is given,
    in which case only the probes that work without Django are run.
    """
    from authtools.diagnosis import run_diagnosis

    return run_diagnosis(**options)
