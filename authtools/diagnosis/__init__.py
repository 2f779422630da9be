"""The diagnosis engine: read-only probes that each look at one thing and return Findings.

Each probe module exposes ``run(ctx) -> Iterable[Finding]`` and two constants: ``REQUIRES``, the
boot phase it needs (see ``boot.PHASES``), and ``USES_DB``, whether it reads the database.
``run_diagnosis`` runs every probe the boot state and options allow and collects a Report.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from authtools.diagnosis import catalog, causes
from authtools.diagnosis.boot import BootState, booted_state
from authtools.diagnosis.context import Context
from authtools.diagnosis.report import Finding, Report

__all__ = ["Context", "Finding", "Report", "probe_modules", "run_diagnosis", "run_probes"]


def probe_modules() -> list[ModuleType]:
    """The probes, in the order their findings are reported (causes follow Django's start-up)."""
    from authtools.diagnosis.probes import (
        contenttypes,
        database,
        imports,
        migrations,
        model,
        references,
        related,
        setting,
    )

    return [setting, model, imports, references, migrations, database, contenttypes, related]


def run_probes(ctx: Context, *, static_only: bool = False) -> list[Finding]:
    """Run every probe that the context allows; ``static_only`` skips the database probes."""
    findings: list[Finding] = []
    for probe in probe_modules():
        if not ctx.boot.ok(probe.REQUIRES):
            continue
        if probe.USES_DB and (static_only or not ctx.use_db):
            continue
        for finding in probe.run(ctx):
            if finding not in findings:
                findings.append(finding)
    return findings


def run_diagnosis(boot: BootState | None = None, *, link: bool = True, **options: Any) -> Report:
    """Diagnose the current project. Options: database, use_db, target, settings_module.

    ``link`` marks consequences with ``because`` (``causes.link``); authtools.fixes asks for
    the findings unlinked, plans their fixes, then links them (a withheld fix links nothing).
    """
    import django

    import authtools

    state = boot if boot is not None else booted_state()
    ctx = Context.create(state, **options)
    findings = run_probes(ctx)
    findings.extend(_unexplained_boot_failure(ctx, findings))
    if link:
        findings = causes.link(findings, user_app(ctx))
    raw = ctx.auth_user_model_raw if state.ok("settings") else None
    return Report(
        auth_user_model=raw if isinstance(raw, str) else (None if raw is None else repr(raw)),
        django_version=django.get_version(),
        authtools_version=authtools.__version__,
        findings=findings,
    )


def user_app(ctx: Context) -> str | None:
    """The app label of the user model, when the setting resolves to one."""
    user_model = ctx.user_model() if ctx.boot.ok("settings") else None
    return str(user_model._meta.app_label) if user_model is not None else None


def _unexplained_boot_failure(ctx: Context, findings: Iterable[Finding]) -> list[Finding]:
    """A boot failure that no probe explained still has to be reported."""
    failure = ctx.boot.failure
    if failure is None or any(f.severity == "error" for f in findings):
        return []
    if failure.phase == "settings":
        return [
            catalog.finding(
                "authtools.E006",
                f"The settings module {ctx.settings_module!r} cannot be imported: "
                f"{failure.summary}",
                "Fix the error in the settings module (the traceback is shown with -v 2).",
                location=_traceback_location(ctx, failure.traceback),
            )
        ]
    return [
        catalog.finding(
            "authtools.E007",
            f"django.setup() fails in its {failure.phase!r} phase: {failure.summary}",
            "Fix the error shown; run with -v 2 for the traceback.",
            location=_traceback_location(ctx, failure.traceback),
        )
    ]


def _traceback_location(ctx: Context, tb: str) -> Any:
    """The innermost frame of a traceback that is in the project's own files."""
    import os
    import re

    from authtools.diagnosis.report import FileLocation

    location = None
    for match in re.finditer(r'File "([^"]+)", line (\d+)', tb):
        path, line = match.group(1), int(match.group(2))
        if os.path.isabs(path) and os.path.exists(path) and ctx.is_project_file(path):
            location = FileLocation(ctx.display_path(path), line)
    return location
