"""The swap as plain data: a ``SwapSpec`` of ``StepSpec``s, saved in the backup so that
``--resume`` and ``--rollback`` rebuild the very same plan."""

from __future__ import annotations

import re
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


def load_spec(backup: Any, database: str) -> SwapSpec:
    """The swap plan saved in BACKUP (an opened, digest-checked ``Backup``), checked against its
    schema and against the live database and project: every name it will touch exists and
    belongs to the swap, every stored statement is the one the code generates, every file is
    inside the new app's folder. BackupError (one line: file and field) otherwise."""
    from authtools.procedures.backup import BackupError, invalid
    from authtools.procedures.schema import ShapeError, check, of_dataclass

    if not backup.has(SPEC):
        raise BackupError(f"{str(backup.path)!r} holds no swap plan ({SPEC}.json is missing)")
    data = backup.read_json(SPEC, of_dataclass(SwapSpec))
    file = backup.path / f"{SPEC}.json"
    try:
        for number, step in enumerate(data["steps"]):
            where = f"steps[{number}]"
            if step["kind"] not in _STEP_SCHEMAS:
                raise ShapeError(f"{where}.kind", f"is {step['kind']!r}, not a swap step")
            check(step["data"], _STEP_SCHEMAS[step["kind"]], f"{where}.data")
            for index, rename in enumerate(step["renames"]):
                check(rename, _RENAME, f"{where}.renames[{index}]")
        spec = SwapSpec.from_dict(data)
        _check_against_reality(spec, database)
    except ShapeError as exc:
        raise invalid(file, exc.field, exc.problem) from None
    return spec


def _schemas() -> tuple[Any, dict[str, Any]]:
    from authtools.procedures.schema import Keys

    rename = Keys(
        {
            "kind": str,
            "table": str,
            "old": str,
            "new": str,
            "columns": list[str],
            "unique": bool,
        }
    )
    steps = {
        "renames": Keys({}),
        "sequence": Keys({"table": str, "column": str}),
        "widen": Keys({"table": str, "column": str, "from": str, "to": str}),
        "model": Keys({"path": str}),
        "contenttypes": Keys({"old": str, "new": str, "old_id": int, "relabel": bool}),
        "migrations": Keys({"migrations": list[list[str]]}),
        "files": Keys({"write": dict[str, str], "replace": dict[str, str]}),
        "migrate": Keys({"migration": list[str], "mirror": list[str]}),
    }
    return rename, steps


_RENAME, _STEP_SCHEMAS = _schemas()
_KINDS = ("table", "column", "index", "constraint", "sequence")
# The key fields a widening step may name (it builds them with getattr(django.db.models, ...)).
_KEY_FIELDS = frozenset({"SmallAutoField", "AutoField", "BigAutoField"})


def _check_against_reality(spec: SwapSpec, database: str) -> None:
    """ShapeError naming the first field of SPEC that the live project contradicts."""

    from django.apps import apps
    from django.db import connections

    from authtools.db.schema import Rename
    from authtools.procedures.schema import ShapeError

    connection = connections[database]
    if spec.database != database:
        raise ShapeError("database", f"is {spec.database!r}, but this run is on {database!r}")
    if spec.vendor != connection.vendor:
        raise ShapeError("vendor", f"is {spec.vendor!r}, not {connection.vendor!r}")
    label = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
    for name in ("old_label", "new_label"):
        if not label.match(getattr(spec, name)):
            raise ShapeError(name, "is not an 'app_label.Model' label")
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    # The tables the swap moves: each must exist now under its old or its new name.
    moved = {spec.old_table: spec.new_table, **spec.renamed_tables}
    for old, new in moved.items():
        if old not in tables and new not in tables:
            raise ShapeError("renamed_tables", f"names {old!r}, which is not in the database")
    known = set(moved) | set(moved.values()) | {t for t, _ in spec.referencing}
    for number, step in enumerate(spec.steps):
        where = f"steps[{number}]"
        for index, raw in enumerate(step.renames):
            rename = Rename.from_dict(raw)
            field = f"{where}.renames[{index}]"
            if rename.kind not in _KINDS:
                raise ShapeError(f"{field}.kind", f"is {rename.kind!r}, not a renamable object")
            if rename.kind == "table" and (rename.old, rename.new) not in moved.items():
                raise ShapeError(f"{field}.old", f"{rename.old!r} is not a table the swap moves")
            if rename.table not in known:
                raise ShapeError(f"{field}.table", f"{rename.table!r} is not a table of the swap")
        if step.sql:  # every statement is regenerated from the data by the code that runs it
            raise ShapeError(f"{where}.sql", "holds SQL: a backup holds data, not SQL")
        if step.kind in ("sequence", "widen") and step.data["table"] not in known:
            raise ShapeError(f"{where}.data.table", "is not a table of the swap")
        if step.kind == "widen":
            for key in ("from", "to"):
                if step.data[key] not in _KEY_FIELDS:
                    raise ShapeError(f"{where}.data.{key}", "is not an automatic key field")
        pairs = step.data.get("migrations", []) + [
            step.data[k] for k in ("migration", "mirror") if step.data.get(k)
        ]
        labels = {c.label for c in apps.get_app_configs()}
        for pair in pairs:
            if len(pair) != 2 or pair[0] not in labels or not re.fullmatch(r"\w+", pair[1]):
                raise ShapeError(f"{where}.data", f"names {pair!r}, not a migration here")
    folder = _app_folder(spec.new_label)
    for field, paths in _file_fields(spec):
        for path in paths:
            if not _inside_folder(path, folder):
                raise ShapeError(
                    field, f"{path!r} is not inside the folder of app {spec.new_label!r}"
                )


def _file_fields(spec: SwapSpec) -> list[tuple[str, list[str]]]:
    fields = [("files", list(spec.files)), ("replaced_files", list(spec.replaced_files))]
    if spec.model_edit:
        fields.append(("model_edit.path", [spec.model_edit.get("path", "")]))
    for number, step in enumerate(spec.steps):
        for key in ("write", "replace"):
            if key in step.data:
                fields.append((f"steps[{number}].data.{key}", list(step.data[key])))
    return fields


def _app_folder(label: str) -> Path | None:
    from django.apps import apps

    app_label = label.split(".")[0]
    for config in apps.get_app_configs():
        if config.label == app_label:
            return Path(config.path).resolve()
    return None


def _inside_folder(path: str, folder: Path | None) -> bool:
    """PATH names a file inside FOLDER: no '..', and no symlink leading out of it."""
    if folder is None or ".." in Path(path).parts:
        return False
    resolved = (folder / path).resolve() if not Path(path).is_absolute() else Path(path).resolve()
    try:
        resolved.relative_to(folder)
    except ValueError:
        return False
    return True


def latest_backup(root: Path) -> Path | None:
    """The newest swap backup under ROOT (its folder names sort by time)."""
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob(f"{PROCEDURE}-*") if (p / "manifest.json").is_file())
    return found[-1] if found else None
