"""Stage 2 of the swap, decide (the key): the width of the user's primary key, the project
created under BigAutoField.

Projects created since Django 3.2 set DEFAULT_AUTO_FIELD = BigAutoField (Django 6 makes it the
default), so a new user model gets a 64-bit key while ``auth_user.id`` is 32-bit. Two honest
routes, each chosen by an option:

- ``--write-model`` keeps the 32-bit key: the model gets an explicit
  ``id = models.AutoField(primary_key=True)`` (the model file is changed by a step of the plan,
  shown as a diff first), and the swap plans against the model as that line makes it;
- ``--widen-keys`` makes the key 64-bit: the generated change migration alters the primary key
  (Django's schema editor alters every foreign-key column pointing at it with it), a rewrite of
  every row of those tables, in the transaction where the backend allows.

Either way the many-to-many tables' own ``id`` follows the new app's default key type, as a
fresh ``migrate`` builds it.

Reads the models, the old table's primary key, the model file and (for --widen-keys) row
counts; returns the route as data (``key_route``: the model file edit, the row counts, notes)
or refuses (``pk_refusal``, ``KeyWidthRefused``).
"""

from __future__ import annotations

import ast
import difflib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authtools.db.schema import integer_width, same_key_type
from authtools.procedures.swap.inspect import label
from authtools.procedures.swap.spec import SwapRefused

KEEP = "keep"
WIDEN = "widen"
AUTO_FIELDS = {16: "SmallAutoField", 32: "AutoField", 64: "BigAutoField"}


@dataclass
class ModelEdit:
    """The model file before and after the explicit primary key line."""

    path: Path
    before: str
    after: str

    def diff(self, root: Path | None = None) -> list[str]:
        shown = str(self.path if root is None else _relative(self.path, root))
        return [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                self.before.splitlines(True),
                self.after.splitlines(True),
                fromfile=f"{shown} (before)",
                tofile=f"{shown} (after)",
            )
        ]


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def wider_key(connection: Any, old_db_type: str, new: Any) -> bool:
    """Whether NEW's primary key is an integer key wider than the old column's."""
    new_width = integer_width(new._meta.pk.rel_db_type(connection))
    old_width = integer_width(old_db_type)
    kind = new._meta.pk.get_internal_type()
    if connection.vendor == "sqlite":  # every integer is 64-bit: the field classes say it
        new_width = {"BigAutoField": 64, "AutoField": 32, "SmallAutoField": 16}.get(kind)
    return bool(
        kind.endswith("AutoField")
        and new_width is not None
        and old_width is not None
        and new_width > old_width
    )


def model_edit(new: Any, field_class: str = "AutoField") -> ModelEdit:
    """The model file of NEW with ``id = models.<FIELD_CLASS>(primary_key=True)`` added as the
    first line of the class body (after its docstring); ``models`` imported if it is not."""
    path = Path(inspect.getsourcefile(new) or "")
    before = path.read_text()
    tree = ast.parse(before)
    node = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.ClassDef) and n.name == new._meta.object_name
        ),
        None,
    )
    if node is None:
        raise ValueError(f"class {new._meta.object_name} is not in {path}")
    lines = before.splitlines(True)
    first = node.body[0]
    has_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    indent = " " * first.col_offset
    at = (first.end_lineno or first.lineno) if has_doc else first.lineno - 1
    pk = new._meta.pk
    lines.insert(at, f"{indent}{pk.name} = models.{field_class}(primary_key=True)\n")
    if not _imports_models(tree):
        last_import = max(
            (
                n.end_lineno or n.lineno
                for n in tree.body
                if isinstance(n, ast.Import | ast.ImportFrom)
            ),
            default=0,
        )
        lines.insert(last_import, "from django.db import models\n")
    return ModelEdit(path, before, "".join(lines))


def _imports_models(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.ImportFrom)
        and n.module == "django.db"
        and any(a.name == "models" and a.asname is None for a in n.names)
        for n in tree.body
    )


def keep_key_in_process(new: Any, field_class: str = "AutoField") -> None:
    """Give the running NEW model the explicit primary key the model file gets, so that the
    migrations are generated (and checked) for the model as the file will say."""
    from django.db import models

    opts = new._meta
    old_pk = opts.pk
    field = getattr(models, field_class)(primary_key=True)
    field.creation_counter = old_pk.creation_counter
    opts.local_fields.remove(old_pk)
    opts.pk = None
    opts.auto_field = None
    new.add_to_class(old_pk.name, field)
    opts._expire_cache()


def row_counts(connection: Any, tables: list[str]) -> dict[str, int]:
    """Rows in each table (for the plan of --widen-keys: the rewrite is as long as they are)."""
    from authtools.db.schema import quoter

    q = quoter(connection)
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {q(table)}")
            counts[table] = int(cursor.fetchone()[0])
    return counts


def pk_refusal(
    old_table: str, old: Any, new: Any, connection: Any, state_model: Any, *, widen: bool = False
) -> str | None:
    """The reason to refuse when the new primary key's type differs from the old column's
    (in the database, or in kind: an AutoField and a BigAutoField are both 'integer' on SQLite
    but not on PostgreSQL or MySQL, where the same migrations may run)."""
    from authtools.db.catalog import primary_key

    found = primary_key(connection, old_table)
    if found is None:
        return f"the old user table {old_table!r} does not exist in the database"
    column, db_type = found
    new_pk, old_pk = state_model._meta.pk, old._meta.pk
    new_type = new_pk.rel_db_type(connection)
    new_kind, old_kind = new_pk.get_internal_type(), old_pk.get_internal_type()
    if same_key_type(connection.vendor, db_type, new_type) and new_kind == old_kind:
        return None
    if widen and wider_key(connection, db_type, state_model):
        return None  # --widen-keys: the change migration alters the key and its references
    if not old_kind.endswith("AutoField"):
        old_kind = {32: "AutoField", 64: "BigAutoField", 16: "SmallAutoField"}.get(
            integer_width(db_type) or 0, old_kind
        )
    return (
        f"{label(new)}'s primary key would be a {new_kind} ({new_type!r}) but "
        f"{old_table}.{column} is {db_type!r} ({label(old)}'s {old_kind}): add "
        f"`{new_pk.name} = models.{old_kind}(primary_key=True)` to {label(new)} (or set "
        f"default_auto_field = 'django.db.models.{old_kind}' on its app config), regenerate "
        "its migration and run the swap again"
    )


class KeyWidthRefused(SwapRefused):
    """The new model's key is wider than the old one and no route was chosen. ``str()`` names
    the two commands that work; ``command`` is the command line they extend."""

    def __init__(self, reason: str, write_model: str, widen: str, kept: str = "32-bit") -> None:
        self.reason, self.write_model, self.widen, self.kept = reason, write_model, widen, kept
        self.command = "python manage.py swap_user_model"
        super().__init__(reason)

    def __str__(self) -> str:
        return (
            f"{self.reason}: keep the {self.kept} key with `{self.command} --write-model` "
            f"({self.write_model}), or widen it with `{self.command} --widen-keys` ({self.widen})"
        )


def key_route(
    connection: Any, old: Any, new: Any, old_table: str, all_fks: list[Any], keys: str | None
) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """The route for a key wider than the old column's: (the model file edit, the row counts
    of the tables --widen-keys rewrites, notes). Refuses when no route is chosen."""
    from authtools.db.catalog import primary_key

    found = primary_key(connection, old_table)
    if found is None or not wider_key(connection, found[1], new):
        if keys is not None:
            option = "--write-model" if keys == KEEP else "--widen-keys"
            raise SwapRefused(
                f"{option} is for a new key wider than the old one, but {label(new)}'s key "
                f"already fits {old_table}.{found[0] if found else 'id'}: run without {option}"
            )
        return {}, {}, []
    column, db_type = found
    pk = new._meta.pk
    kind = pk.get_internal_type()
    old_class = {16: "SmallAutoField", 32: "AutoField"}.get(
        integer_width(db_type) or 0, "AutoField"
    )
    referencing = sorted({fk.table for fk in all_fks if fk.ref_table == old_table})
    try:
        edit = model_edit(new, old_class) if pk.auto_created else None
    except (OSError, SyntaxError, ValueError):
        edit = None
    if keys is None:
        where = (
            f"adds `{pk.name} = models.{old_class}(primary_key=True)` to "
            f"{label(new)} in {edit.path.name}, shown as a diff first"
            if edit is not None
            else f"declare `{pk.name} = models.{old_class}(primary_key=True)` on {label(new)}"
        )
        if connection.vendor == "sqlite":  # the same 64-bit storage: the models differ
            raise KeyWidthRefused(
                f"{label(new)}'s primary key would be a {kind} but {old_table}.{column} is "
                f"{label(old)}'s {old_class} (SQLite stores both in 64 bits; the models and "
                "migrations differ)",
                where,
                f"rebuilds {old_table}; the foreign keys pointing at it stay as they are",
                kept=old_class,
            )
        raise KeyWidthRefused(
            f"{label(new)}'s primary key would be a {kind} "
            f"({pk.rel_db_type(connection)!r}) but {old_table}.{column} is {db_type!r} "
            f"({label(old)}'s {old_class}, 32-bit)",
            where,
            f"rewrites {old_table} and the {len(referencing)} table(s) whose foreign keys "
            "point at it",
        )
    if keys == WIDEN:
        if connection.vendor == "sqlite":
            note = (
                f"--widen-keys: SQLite stores every integer in 64 bits, so {old_table}.{column} "
                "and the foreign keys pointing at it hold 64-bit keys already; the change "
                f"migration rebuilds {old_table} ({row_counts(connection, [old_table])[old_table]}"
                " rows) and the foreign key columns keep their declared type 'integer' (a fresh "
                "migrate declares 'bigint': the same storage)."
            )
            return {}, {}, [note]
        counts = row_counts(connection, [old_table, *referencing])
        total = sum(counts.values())
        note = (
            f"--widen-keys: {old_table}.{column} and the foreign keys pointing at it become "
            f"{pk.rel_db_type(connection)!r}: every row of "
            + ", ".join(f"{t} ({n} rows)" for t, n in counts.items())
            + f" is rewritten ({total} rows, time grows with them)"
            + (
                ", in the swap's transaction"
                if connection.features.can_rollback_ddl
                else "; MariaDB/MySQL commit each ALTER: --rollback undoes it"
            )
            + "."
        )
        return {}, counts, [note]
    if edit is None:
        raise SwapRefused(
            f"--write-model adds an explicit primary key to {label(new)}, but its key "
            f"{pk.name!r} is declared in the model already: declare it as "
            f"`models.{old_class}(primary_key=True)` yourself, or use --widen-keys"
        )
    keep_key_in_process(new, old_class)
    data = {"path": str(edit.path), "before": edit.before, "after": edit.after}
    note = (
        f"--write-model: {label(new)} keeps the 32-bit key of {old_table}.{column} "
        f"(`{pk.name} = models.{old_class}(primary_key=True)`); its migration is generated for it."
    )
    return data, {}, [note]
