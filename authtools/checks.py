"""The findings about the project's own code, as Django system checks: ``manage.py check``.

Installing authtools must never make a working project fail its checks (and with them
``migrate``, ``runserver`` and ``test``), so the checks are a strict subset of the diagnosis:

- only the probes that need neither the database nor the migration files: the setting, the
  model, imports and references (``python manage.py diagnose_user_model`` runs them all);
- only the project's own code: a finding located outside the project root (an installed
  package, Django itself) is left out, and the references probe does not read third-party
  packages here (the diagnosis reports them apart, as authtools.W304);
- no style advice: W204 (a models module imports the user class) is left out;
- an Error only where Django itself fails: E001 (a custom user model while AUTH_USER_MODEL is
  unset) is a Warning here, since Django runs on auth.User and reports any accessor clash
  itself (fields.E304); so is E109 when the manager has get_by_natural_key (login works; only
  createsuperuser lacks create_user/create_superuser).

Any id can be silenced with SILENCED_SYSTEM_CHECKS = ["authtools.W303"]. A probe that raises
(a bug of authtools) is one warning, authtools.W000, instead of a crashed ``manage.py check``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.core import checks

NOT_CHECKS = frozenset({"authtools.W204", "authtools.W304"})
CHECK_LEVEL = {"authtools.E001": "warning"}
CRASHED = "authtools.W000"  # a probe raised: a warning, never a failed check
LEVELS = {"error": checks.Error, "warning": checks.Warning, "info": checks.Info}


def static_probes() -> list[ModuleType]:
    """The probes the checks run, in report order (imported only when the checks run)."""
    from authtools.diagnosis.probes import imports, model, references, setting

    return [setting, model, imports, references]


def check_user_model(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Run the static probes and turn the findings about the project's code into messages."""
    from authtools.diagnosis import source
    from authtools.diagnosis.boot import booted_state
    from authtools.diagnosis.context import Context
    from authtools.diagnosis.report import FileLocation

    ctx = Context.create(booted_state(), use_db=False, extra={"system_check": True})
    project = source.project_paths(ctx)
    root = ctx.project_root
    messages: list[checks.CheckMessage] = []
    seen: set[Any] = set()
    for probe in static_probes():
        if not ctx.boot.ok(probe.REQUIRES):
            continue
        try:
            findings = list(probe.run(ctx))
        except Exception as exc:  # a bug of authtools must not stop check, migrate or test
            messages.append(_probe_crashed(probe, exc))
            continue
        for finding in findings:
            if finding.id in NOT_CHECKS or finding in seen:
                continue
            seen.add(finding)
            location = finding.location
            if isinstance(location, FileLocation) and not project.contains(root / location.file):
                continue  # not the project's code (an absolute path outside the root)
            hint = finding.hint
            if finding.fix_command:
                hint = f"{hint} Fix: {finding.fix_command}"
            where = f" ({location})" if location else ""
            level = LEVELS[_check_level(finding.id, finding.severity)]
            messages.append(level(finding.message + where, hint=hint, id=finding.id))
    return messages


def _check_level(id: str, severity: str) -> str:
    """The level of a finding as a check: E001 is a warning; E109 (the manager lacks a method)
    is an error only when login itself fails (no get_by_natural_key, which ModelBackend calls);
    without create_user/create_superuser only createsuperuser and scripts fail."""
    if id == "authtools.E109":
        from django.contrib.auth import get_user_model

        manager = get_user_model()._meta.default_manager
        return "error" if not callable(getattr(manager, "get_by_natural_key", None)) else "warning"
    return CHECK_LEVEL.get(id, severity)


def _probe_crashed(probe: ModuleType, exc: Exception) -> checks.CheckMessage:
    name = probe.__name__.rpartition(".")[2]
    return checks.Warning(
        f"authtools could not finish its {name!r} check: {type(exc).__name__}: {exc}",
        hint="A bug in authtools, not in this project: `python manage.py diagnose_user_model "
        "--no-db` shows the traceback; please report it. SILENCED_SYSTEM_CHECKS = "
        '["authtools.W000"] hides this warning.',
        id=CRASHED,
    )
