"""authtools: diagnose and repair Django custom user model problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
# The name to pip install (the import package is ``authtools``; that name on the package index
# is an unrelated project). Code that prints the distribution's name uses this constant.
DISTRIBUTION = "django-user-model-doctor"

if TYPE_CHECKING:
    from authtools.diagnosis.report import Report


def diagnose(**options: Any) -> Report:
    """Diagnose the running project (Django set up) and return the Report.

    Options: ``database`` (alias, default "default"), ``use_db`` (False: no database
    access), ``target`` ("app_label.Model": predict a switch of AUTH_USER_MODEL). Every fix_command
    in it was planned against the current state (authtools.fixes).
    """
    from authtools.fixes import diagnose as checked_diagnosis

    return checked_diagnosis(**options)
