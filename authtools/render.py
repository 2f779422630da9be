"""Turn a diagnosis Report into text or JSON, for the command and ``python -m authtools``."""

from __future__ import annotations

import json
from typing import Any, Protocol

from authtools.diagnosis.report import Finding, Report
from authtools.diagnosis.report import plural as plural  # the commands' wording too


class Style(Protocol):
    def ERROR(self, text: str) -> str: ...
    def WARNING(self, text: str) -> str: ...
    def NOTICE(self, text: str) -> str: ...
    def SUCCESS(self, text: str) -> str: ...
    def MIGRATE_HEADING(self, text: str) -> str: ...


def report_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def report_text(report: Report, style: Style, verbosity: int = 1) -> str:
    """The human-readable report: one block per root finding, the findings that follow from it
    indented under it ("because of"), then a count. Verbosity 0 (as Django's commands): the
    errors and the count only."""
    lines = [
        style.MIGRATE_HEADING(f"AUTH_USER_MODEL = {report.auth_user_model!r}")
        + f" (Django {report.django_version}, authtools {report.authtools_version})"
    ]
    shown: set[str] = set()
    ids = set(report.ids())
    for f in report.findings:
        if f.because is not None and f.because in ids:
            continue  # printed under its cause
        if verbosity == 0 and f.severity != "error":
            continue
        lines.append("")
        lines += _block(f, style, "")
        if f.id in shown:
            continue
        shown.add(f.id)
        for child in report.consequences(f):
            if verbosity == 0 and child.severity != "error":
                continue
            lines.append("")
            lines += _block(child, style, "    ", because=f.id)
    lines.append("")
    lines.append(summary_line(report, style))
    return "\n".join(lines[2:] if verbosity == 0 else lines)


def _block(f: Finding, style: Style, indent: str, because: str | None = None) -> list[str]:
    paint = {"error": style.ERROR, "warning": style.WARNING, "info": style.NOTICE}
    lines = [
        indent
        + (f"because of {because}: " if because else "")
        + paint[f.severity](f"{f.severity.upper()} {f.id} [{f.cause}]")
        + f" {f.message}"
    ]
    if f.location is not None:
        lines.append(f"{indent}  at {f.location}")
    if f.hint:
        lines.append(f"{indent}  hint: {f.hint}")
    if f.fix_command:
        lines.append(f"{indent}  fix: {f.fix_command}")
    return lines


def summary_line(report: Report, style: Style) -> str:
    counts = {
        s: sum(f.severity == s for f in report.findings) for s in ("error", "warning", "info")
    }
    if not report.findings:
        return style.SUCCESS("No problems found.")
    text = ", ".join(f"{n} {s}{'' if n == 1 else 's'}" for s, n in counts.items())
    return (style.ERROR if counts["error"] else style.WARNING)(text + ".")


def as_jsonable(value: Any) -> Any:
    """Dataclasses and paths to plain JSON values."""
    import dataclasses
    from pathlib import Path

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: as_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): as_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
