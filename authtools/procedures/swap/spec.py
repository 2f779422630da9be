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
    from authtools.db import snapshot

    snap = snapshot.current(connection)
    names = _Names(spec, snap)
    moved = names.moved
    known = names.known
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
            names.check_rename(rename, field)
        if step.sql:  # every statement is regenerated from the data by the code that runs it
            raise ShapeError(f"{where}.sql", "holds SQL: a backup holds data, not SQL")
        if step.kind in ("sequence", "widen") and step.data["table"] not in known:
            raise ShapeError(f"{where}.data.table", "is not a table of the swap")
        if step.kind in ("sequence", "widen"):
            names.check_column(step.data["table"], step.data["column"], f"{where}.data.column")
        if step.kind == "contenttypes":
            names.check_content_type(step.data, f"{where}.data")
        if step.kind == "widen":
            for key in ("from", "to"):
                if step.data[key] not in _KEY_FIELDS:
                    raise ShapeError(f"{where}.data.{key}", "is not an automatic key field")
        pairs = step.data.get("migrations", []) + [
            step.data[k] for k in ("migration", "mirror") if step.data.get(k)
        ]
        new_app = spec.new_label.split(".")[0]
        for pair in pairs:
            if len(pair) != 2 or pair[0] != new_app or not re.fullmatch(r"\w+", pair[1]):
                raise ShapeError(f"{where}.data", f"names {pair!r}, not a migration here")
    for pair in spec.migrations:
        if len(pair) != 2 or pair[0] != spec.new_label.split(".")[0]:
            raise ShapeError("migrations", f"names {pair!r}, not a migration of the new app")
    folder = _app_folder(spec.new_label)
    for field, paths in _file_fields(spec):
        for path in paths:
            if not _inside_folder(path, folder):
                raise ShapeError(
                    field, f"{path!r} is not inside the folder of app {spec.new_label!r}"
                )


class _Names:
    """The names a loaded spec may use, from the live catalog and the installed models: the
    user table (under its old or new name), its many-to-many tables, the tables with foreign
    keys to it, and their columns, indexes, constraints and sequences. Each check raises
    ShapeError naming the field of the first name that does not exist or does not belong."""

    def __init__(self, spec: SwapSpec, snap: Any) -> None:
        from authtools.procedures.schema import ShapeError

        self.spec, self.snap = spec, snap
        old_model, new_model = _model(spec.old_label), _model(spec.new_label)
        if new_model is not None and new_model._meta.db_table != spec.new_table:
            raise ShapeError(
                "new_table",
                f"is {spec.new_table!r}, but {spec.new_label} is on {new_model._meta.db_table!r}",
            )
        if (
            old_model is not None
            and spec.old_label != spec.new_label
            and old_model._meta.db_table != spec.old_table
        ):
            raise ShapeError(
                "old_table",
                f"is {spec.old_table!r}, but {spec.old_label} is on {old_model._meta.db_table!r}",
            )
        tables = snap.tables
        if spec.old_table not in tables and spec.new_table not in tables:
            raise ShapeError(
                "old_table", f"neither {spec.old_table!r} nor {spec.new_table!r} exists"
            )
        if spec.old_table != spec.new_table and {spec.old_table, spec.new_table} <= tables:
            raise ShapeError(
                "old_table",
                f"{spec.old_table!r} and {spec.new_table!r} both exist: a swap moves one to "
                "the other",
            )
        self.users = {spec.old_table, spec.new_table}
        self.moved = {spec.old_table: spec.new_table, **spec.renamed_tables}
        # Foreign keys to the user table, in the catalog: who may be named.
        pointing = {
            (c.table, col)
            for c in snap.foreign_keys()
            if c.ref_table in self.users
            for col in c.columns
        }
        self.pointing_tables = {t for t, _ in pointing}
        throughs = {
            m._meta.db_table
            for model in (old_model, new_model)
            if model is not None
            for m in _throughs(model)
        }
        for old, new in spec.renamed_tables.items():
            if (old, new) == (spec.old_table, spec.new_table):
                continue
            field = f"renamed_tables.{old}"
            if old not in tables and new not in tables:
                raise ShapeError(field, f"neither {old!r} nor {new!r} exists")
            here = old if old in tables else new
            if here not in self.pointing_tables or not (
                {old, new} & throughs
                or (old.startswith(f"{spec.old_table}_") and new.startswith(f"{spec.new_table}_"))
            ):
                raise ShapeError(field, f"{here!r} is not a many-to-many table of the user model")
        self.known = set(self.moved) | set(self.moved.values())
        for number, (table, column) in enumerate(
            (r[0], r[1]) if len(r) == 2 else ("", "") for r in spec.referencing
        ):
            field = f"referencing[{number}]"
            if self.here(table) not in self.pointing_tables:
                raise ShapeError(field, f"{table!r} has no foreign key to the user table")
            if not any((self.here(table), c) in pointing for c in self.column_names(table, column)):
                raise ShapeError(field, f"{table}.{column} is not a foreign key to the user table")
            self.known.add(table)
        self.check_column(spec.new_table, spec.pk_column, "pk_column")
        for name in spec.widen_rows:
            if name not in self.known:
                raise ShapeError(f"widen_rows.{name}", "is not a table of the swap")
        for number, widen in enumerate(spec.widen_ids):
            field = f"widen_ids[{number}]"
            if widen.get("table") not in self.known:
                raise ShapeError(f"{field}.table", "is not a table of the swap")
            self.check_column(widen["table"], widen.get("column", ""), f"{field}.column")
        old_columns = (
            {f.column for f in old_model._meta.local_concrete_fields} if old_model else set()
        )
        user_columns = set(snap.columns.get(self.here(spec.new_table), {}))
        for number, column in enumerate(spec.dropped_columns):
            if column not in user_columns | old_columns:
                raise ShapeError(
                    f"dropped_columns[{number}]", f"{column!r} is not a column of the user table"
                )

    def here(self, table: str) -> str:
        """TABLE or the name it has now (before or after its rename)."""
        if table in self.snap.columns:
            return table
        for old, new in self.moved.items():
            if table == new and old in self.snap.columns:
                return old
            if table == old and new in self.snap.columns:
                return new
        return table

    def column_names(self, table: str, column: str) -> set[str]:
        """COLUMN of TABLE under each name the spec's column renames give it."""
        names = {column}
        for step in self.spec.steps:
            for raw in step.renames:
                if (
                    raw.get("kind") == "column"
                    and raw.get("table") in (table, self.here(table))
                    and column in (raw.get("old"), raw.get("new"))
                ):
                    names |= {raw["old"], raw["new"]}
        return names

    def check_column(self, table: str, column: str, field: str) -> None:
        from authtools.procedures.schema import ShapeError

        existing = self.snap.columns.get(self.here(table), {})
        if not self.column_names(table, column) & set(existing):
            raise ShapeError(field, f"{column!r} is not a column of {table!r}")

    def check_rename(self, rename: Any, field: str) -> None:
        from authtools.procedures.schema import ShapeError

        here = self.here(rename.table)
        if rename.kind == "column":
            if rename.table not in set(self.moved) | set(self.moved.values()):
                raise ShapeError(
                    f"{field}.table", f"{rename.table!r} is not a table the swap moves"
                )
            columns = set(self.snap.columns.get(here, {}))
            if not {rename.old, rename.new} & columns:
                raise ShapeError(f"{field}.old", f"{rename.old!r} is not a column of {here!r}")
        elif rename.kind in ("index", "constraint"):
            objects = set(self.snap.constraints_of(here))
            if not {rename.old, rename.new} & objects:
                raise ShapeError(
                    f"{field}.old", f"{rename.old!r} is not an index or constraint of {here!r}"
                )
        elif rename.kind == "sequence":
            found = self.snap.sequences.get(rename.old) or self.snap.sequences.get(rename.new)
            if found is None or self.here(found.table or "") not in {
                self.here(t) for t in self.moved
            }:
                raise ShapeError(
                    f"{field}.old", f"{rename.old!r} is not a sequence of a table the swap moves"
                )
        for column in rename.columns:
            self.check_column(rename.table, column, f"{field}.columns")

    def check_content_type(self, data: dict[str, Any], field: str) -> None:
        from django.contrib.contenttypes.models import ContentType

        from authtools.procedures.schema import ShapeError

        labels = {"old": self.spec.old_label.lower(), "new": self.spec.new_label.lower()}
        for key, label in labels.items():
            if data[key] != label:
                raise ShapeError(f"{field}.{key}", f"is {data[key]!r}, not {label!r}")
        row = (
            ContentType.objects.db_manager(self.spec.database)
            .filter(pk=data["old_id"])
            .values_list("app_label", "model")
            .first()
        )
        if row is None or ".".join(row) not in labels.values():
            raise ShapeError(
                f"{field}.old_id", f"content type {data['old_id']!r} is not the user model's"
            )


def _model(label: str) -> Any:
    from django.apps import apps

    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _throughs(model: Any) -> list[Any]:
    return [
        f.remote_field.through
        for f in model._meta.local_many_to_many
        if f.remote_field.through is not None and f.remote_field.through._meta.auto_created
    ]


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
