"""Plans and steps: a recovery described as data before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["sql", "file", "rows", "command", "check"]


@dataclass
class Step:
    """One change a procedure makes.

    ``description`` is the line shown in the plan ("Rename table 'auth_user' to
    'accounts_user'"); ``details`` are indented lines under it (files, counts, diffs); ``sql``
    lists the statements it will run, for ``--sql`` and the plan. ``apply(runtime)`` does the
    work; ``undo(runtime)`` reverses it (needed on backends without transactional DDL, where
    a journal records completed steps). ``atomic`` is False for steps that must run outside
    the procedure's transaction (child processes, file writes). ``applied(runtime)`` tells
    from the live database (and files) whether the step has taken effect: when a journal is
    missing or unreadable, resume and rollback read the completed steps from it.
    """

    id: str
    kind: StepKind
    description: str
    apply: Callable[[Runtime], Any]
    details: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    undo: Callable[[Runtime], Any] | None = None
    atomic: bool = True
    applied: Callable[[Runtime], bool] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "details": self.details,
            "sql": self.sql,
        }


@dataclass
class Plan:
    """What a procedure will do, in order. ``verify`` returns the failures of the end state."""

    procedure: str
    database: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backup: Callable[[Runtime], Any] | None = None
    verify: Callable[[Runtime], list[str]] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # How to undo a run from its backup, as the user types it; {backup} is the folder.
    way_back: str = "--restore {backup}"
    # Tables locked for the whole transaction where the backend can (PostgreSQL), so that
    # another process (e.g. a `migrate`) waits for the procedure instead of interleaving.
    lock_tables: list[str] = field(default_factory=list)
    # Continue paths (--resume, --rollback) work in the backup of the run they continue:
    # ``existing_backup`` is that Backup, ``journal`` the steps done when the plan starts, and
    # ``undoing`` says each step undoes a journalled step (and leaves the journal when done).
    existing_backup: Any = None
    journal: list[str] | None = None
    undoing: bool = False
    empty_message: str = "Nothing to do."
    # What the user must still change by hand afterwards (printed after the result).
    by_hand: list[str] = field(default_factory=list)

    def way_back_for(self, backup: Any) -> str:
        return self.way_back.format(backup=backup)

    @property
    def empty(self) -> bool:
        return not self.steps

    def add(self, step: Step) -> Step:
        if any(s.id == step.id for s in self.steps):
            raise ValueError(f"duplicate step id {step.id!r}")
        self.steps.append(step)
        return step

    def lines(self) -> list[str]:
        """The plan as text lines, numbered, for the confirmation prompt and --dry-run."""
        out: list[str] = []
        for number, step in enumerate(self.steps, 1):
            out.append(f"{number}. {step.description}")
            out.extend(f"     {d}" for d in step.details)
            out.extend(f"     SQL: {s}" for s in step.sql)
        out.extend(f"Note: {n}" for n in self.notes)
        return out

    def sql(self) -> list[str]:
        return [s if s.rstrip().endswith(";") else s + ";" for st in self.steps for s in st.sql]

    def to_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "database": self.database,
            "steps": [s.to_dict() for s in self.steps],
            "notes": self.notes,
        }


@dataclass
class Runtime:
    """What a step sees while it runs: the database alias, the backup folder, shared state."""

    database: str
    backup_dir: Any  # authtools.procedures.backup.Backup
    state: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = lambda message: None
