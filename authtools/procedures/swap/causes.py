"""Stage 1 of the swap, inspect (for a refusal): the causes of a preflight refusal, as the
diagnosis knows them: file, line and fix.

The swap's preflight sees symptoms (the models differ from their migrations); the diagnosis's
static probes (no database) often know why, with the file and line: a relation hard-coded to
auth.User (authtools.E301) or a migration that names it (authtools.E302). This module runs
them and keeps the findings located in the apps the refusal is about; ``decide`` puts them in
its refusal's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from authtools.diagnosis import Context, Finding, run_probes
from authtools.diagnosis.boot import booted_state
from authtools.diagnosis.report import FileLocation

# The findings that make models differ from their migrations.
PENDING_CHANGE_CAUSES = ("authtools.E301", "authtools.E302")
SHOWN = 5


def findings_in_apps(app_labels: Sequence[str], ids: Sequence[str]) -> list[Finding]:
    """The static findings of IDS located in a file of one of the apps APP_LABELS."""
    from django.apps import apps

    folders = [
        Path(apps.get_app_config(label).path).resolve()
        for label in app_labels
        if label in apps.app_configs
    ]
    ctx = Context.create(booted_state(), use_db=False)
    found = []
    for finding in run_probes(ctx, static_only=True):
        location = finding.location
        if finding.id not in ids or not isinstance(location, FileLocation):
            continue
        path = (ctx.project_root / location.file).resolve()
        if any(path.is_relative_to(folder) for folder in folders):
            found.append(finding)
    return found


def pending_changes_refusal(app_labels: Sequence[str]) -> str:
    """Why the swap refuses when the models of APP_LABELS have changes no migration holds:
    the located findings that cause them and the first one's fix, when the diagnosis has any;
    else the generic next step. A probe that raises leaves the plain refusal: naming a cause
    is a help, never a reason to fail."""
    refusal = f"models have changes that are not in migrations (apps {', '.join(app_labels)})"
    try:
        found = findings_in_apps(app_labels, PENDING_CHANGE_CAUSES)
    except Exception:  # a probe that raises: the refusal stays, with its plain reason
        found = []
    if not found:
        return f"{refusal}: run makemigrations for them first"
    causes = "; ".join(f"{f.location} ({f.id}): {f.message.rstrip('.')}" for f in found[:SHOWN])
    if len(found) > SHOWN:
        causes += f"; and {len(found) - SHOWN} more (diagnose_user_model lists them)"
    return (
        f"{refusal}, caused by {causes}. Fix: {found[0].hint.rstrip('.')}, then run the swap again"
    )
