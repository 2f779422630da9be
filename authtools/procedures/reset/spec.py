"""The data of a migration reset: its names, ResetError, and what ``inspect`` reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROCEDURE = "reset_user_migrations"
DOCUMENT = "reset"
REVERT = {"AUTH_USER_MODEL": "auth.User"}
PLACEHOLDER = "__first__"
PREDICTED = "0001_initial"
OTHER_PROCEDURES = ("swap_user_model", "rebuild_contenttypes")
DESTRUCTIVE = ("DeleteModel", "RemoveField", "RunSQL", "RunPython")


class ResetError(Exception):
    """Bad input or a state the reset cannot handle; one line, nothing was changed."""


@dataclass
class Row:
    id: int
    name: str
    applied: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "applied": self.applied}

    def describe(self, label: str) -> str:
        """The row as plans list it: "id 3: accounts.0001_initial (applied 2024-...)"."""
        return f"id {self.id}: {label}.{self.name} (applied {self.applied})"


@dataclass
class Dependent:
    """Another app's migration file whose dependencies name migrations of the app by name."""

    path: Path
    key: tuple[str, str]
    names: list[str]
    source: str


@dataclass
class TableCheck:
    """What the database already holds of the tables and columns of the app's models."""

    tables: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def absent(self) -> bool:
        return not self.present


@dataclass
class Inspection:
    label: str
    database: str
    root: Path
    migrations_module: str
    folder: Path
    files: list[Path]
    disk_names: list[str]
    rows: list[Row]
    dependents: list[Dependent]
    graph_error: str | None
    history_error: str | None
    pending: bool
    tables: TableCheck
    pending_elsewhere: list[tuple[str, str, list[str]]] = field(default_factory=list)
    applied_dependents: list[str] = field(default_factory=list)
    via_auth_user: bool = False
    revert_reason: str | None = None

    def display(self, path: Path) -> str:
        from authtools.diagnosis.context import relative_display

        return relative_display(path, self.root)

    @property
    def healthy(self) -> bool:
        return (
            self.graph_error is None
            and self.history_error is None
            and not self.pending
            and len(self.disk_names) == 1
            and sorted(r.name for r in self.rows) == self.disk_names
        )
