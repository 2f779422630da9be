"""Findings and the report that collects them: the data every front end renders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Cause = Literal[
    "setting",
    "model",
    "imports",
    "references",
    "migrations",
    "database",
    "contenttypes",
    "related-objects",
]

SEVERITY_RANK: dict[str, int] = {"info": 1, "warning": 2, "error": 3}


def plural(n: int, word: str) -> str:
    """'1 finding', '2 findings': the wording of findings and of the reports that count them."""
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class FileLocation:
    file: str
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class TableLocation:
    table: str

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table}

    def __str__(self) -> str:
        return f"table {self.table}"


Location = FileLocation | TableLocation


@dataclass(frozen=True)
class Finding:
    """One problem (or fact) found by a probe. ``id`` is stable and documented."""

    id: str
    severity: Severity
    cause: Cause
    message: str
    hint: str
    location: Location | None = None
    fix_command: str | None = None
    # The id of the finding this one follows from (its root cause), or None for a root.
    because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "cause": self.cause,
            "message": self.message,
            "hint": self.hint,
            "location": self.location.to_dict() if self.location else None,
            "fix_command": self.fix_command,
            "because": self.because,
        }

    def at_least(self, level: str) -> bool:
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[level]


@dataclass
class Report:
    """The outcome of a diagnosis: the user model it was run for and its findings."""

    auth_user_model: str | None
    django_version: str
    authtools_version: str
    findings: list[Finding] = field(default_factory=list)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if finding not in self.findings:
                self.findings.append(finding)

    def at_least(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.at_least(level)]

    def exit_code(self, fail_level: str = "error") -> int:
        """0 when nothing is at or above ``fail_level``, else 1."""
        return 1 if self.at_least(fail_level) else 0

    def by_cause(self, cause: str) -> list[Finding]:
        return [f for f in self.findings if f.cause == cause]

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def roots(self) -> list[Finding]:
        """The findings that follow from no other one, in report order."""
        return [f for f in self.findings if f.because is None]

    def consequences(self, cause: Finding) -> list[Finding]:
        """The findings whose ``because`` names CAUSE's id, in report order."""
        return [f for f in self.findings if f.because == cause.id and f is not cause]

    def to_dict(self) -> dict[str, Any]:
        return {
            "authtools_version": self.authtools_version,
            "django_version": self.django_version,
            "auth_user_model": self.auth_user_model,
            "findings": [f.to_dict() for f in self.findings],
        }
