"""The width of the user's primary key: the project created under BigAutoField.

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
"""

from __future__ import annotations

import ast
import difflib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authtools.db.schema import integer_width

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
