"""The static findings, as Django system checks: ``manage.py check`` shows them."""

from __future__ import annotations

from typing import Any

from django.core import checks


def check_user_model(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Run the probes that need no database and turn their findings into CheckMessages."""
    from authtools.diagnosis import Context, run_probes
    from authtools.diagnosis.boot import booted_state

    level = {"error": checks.Error, "warning": checks.Warning, "info": checks.Info}
    messages: list[checks.CheckMessage] = []
    for finding in run_probes(
        Context.create(booted_state(), use_db=False, extra={"system_check": True}), static_only=True
    ):
        hint = finding.hint
        if finding.fix_command:
            hint = f"{hint} Fix: {finding.fix_command}"
        where = f" ({finding.location})" if finding.location else ""
        messages.append(level[finding.severity](finding.message + where, hint=hint, id=finding.id))
    return messages
