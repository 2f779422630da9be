"""The swap as plain data: a ``SwapSpec`` of ``StepSpec``s, saved in the backup so that
``--resume`` and ``--rollback`` rebuild the very same plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROCEDURE = "swap_user_model"
SPEC = "swap-spec"


class SwapRefused(Exception):
    """The project is not in a state the swap can handle safely; the message says why."""


@dataclass
class StepSpec:
    """One step as data: enough to rebuild it (apply and undo) from the backup."""

    id: str
    kind: str  # renames | sql | contenttypes | migrations | files | migrate
    description: str
    details: list[str] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SwapSpec:
    database: str
    vendor: str
    old_label: str
    new_label: str
    old_table: str
    new_table: str
    pk_column: str
    steps: list[StepSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    renamed_tables: dict[str, str] = field(default_factory=dict)
    referencing: list[list[str]] = field(default_factory=list)  # [table, column] after the swap
    migrations: list[list[str]] = field(default_factory=list)  # [app, name] recorded as applied
    # Case 2 (the field sets differ): generated migration files (path -> source), the files they
    # replace (path -> old source), the migration applied for real, the columns it drops.
    files: dict[str, str] = field(default_factory=dict)
    replaced_files: dict[str, str] = field(default_factory=dict)
    change_migration: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    # A new key wider than the old one: the route chosen (keys.KEEP with --write-model,
    # keys.WIDEN with --widen-keys), the model file edit (path, before, after) of KEEP, the
    # row counts of the tables WIDEN rewrites, many-to-many tables whose own id is widened.
    keys: str | None = None
    model_edit: dict[str, str] = field(default_factory=dict)
    widen_rows: dict[str, int] = field(default_factory=dict)
    lock_timeout: float = 5.0  # seconds: --lock-timeout
    widen_ids: list[dict[str, str]] = field(default_factory=list)  # table, column, from, to

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_data(self) -> dict[str, Any]:
        """The spec as saved in the backup: inputs and names, no SQL (every statement is
        regenerated from them by the code that runs it)."""
        data = asdict(self)
        for step in data["steps"]:
            step["sql"] = []
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwapSpec:
        steps = [StepSpec(**s) for s in data.get("steps", [])]
        return cls(**{**data, "steps": steps})


def load_spec(backup_path: Path) -> SwapSpec:
    from authtools.procedures.backup import Backup

    backup = Backup.open(backup_path)
    if not backup.has(SPEC):
        raise SwapRefused(f"{str(backup_path)!r} holds no swap plan ({SPEC}.json is missing)")
    return SwapSpec.from_dict(backup.read_json(SPEC))


def latest_backup(root: Path) -> Path | None:
    """The newest swap backup under ROOT (its folder names sort by time)."""
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob(f"{PROCEDURE}-*") if (p / f"{SPEC}.json").is_file())
    return found[-1] if found else None
