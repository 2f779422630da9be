"""What a fresh migrate of a model builds: its indexes, constraints and foreign keys, with the
names they get, as Django's own schema editor writes them (collecting the SQL of
``create_model``, never running it) and as the backend names what Django leaves unnamed.

This is the yardstick of a swap's verification, independent of the swap's own naming rules
(``authtools.db.names``, ``authtools.db.schema``): a name the swap got wrong, or did not know to
rename, shows as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from authtools.db.names import pg_object_name


@dataclass(frozen=True)
class Built:
    """One index or constraint a fresh migrate builds on TABLE."""

    table: str
    kind: str  # "primary", "unique", "index", "foreign", "check" or "sequence"
    columns: tuple[str, ...]
    name: str
    ref: tuple[str, str] | None = None  # a foreign key's (table, column)
    # Named in the model's Meta.indexes or Meta.constraints, not by Django or the backend.
    declared: bool = False

    @property
    def unique(self) -> bool:
        return self.kind in ("primary", "unique")

    def describe(self) -> str:
        if self.kind == "sequence":
            return f"sequence of {self.table}.{self.columns[0]}"
        what = {
            "primary": "primary key",
            "unique": "unique constraint",
            "index": "index",
            "foreign": "foreign key",
            "check": "check constraint",
        }[self.kind]
        where = f"{what} on {self.table}({', '.join(self.columns)})"
        if self.ref is not None:
            where += f" to {self.ref[0]}.{self.ref[1]}"
        return where


def built(connection: Any, model: Any) -> list[Built]:
    """Every index and constraint a fresh migrate of MODEL builds, with those of its
    auto-created many-to-many tables (``create_model`` builds them too), in Django's order.

    Only what can be checked against the catalog snapshot: primary keys, unique columns and
    (PostgreSQL) single-column check constraints and the sequences of automatic primary keys,
    which the backend names itself, then the indexes, unique constraints and foreign keys
    Django names, and the plain unique constraints of ``Meta.constraints``. Those of
    ``Meta.indexes`` and ``Meta.constraints`` are ``declared``: the model names them, not
    Django. Functional indexes are left out (the snapshot does not read expressions). On
    MySQL/MariaDB the schema editor asks each foreign key's table for its storage engine: inside
    ``snapshot.pinned`` the snapshot answers."""
    # Never entered: on SQLite entering and leaving checks every foreign key of the database.
    editor = connection.schema_editor(collect_sql=True)
    editor.deferred_sql = []  # what __enter__ would set
    models = [model] + [
        f.remote_field.through
        for f in model._meta.local_many_to_many
        if f.remote_field.through is not None and f.remote_field.through._meta.auto_created
    ]
    out: list[Built] = []
    for m in models:
        out += _inline(connection, m)
    editor.create_model(model)  # CREATE TABLE collected; indexes and keys deferred
    declared = {i.name for m in models for i in (*m._meta.indexes, *m._meta.constraints)}
    for statement in editor.deferred_sql:
        entry = _from_statement(editor, statement)
        if entry is not None:
            out.append(replace(entry, declared=entry.name in declared))
    return out


def _inline(connection: Any, model: Any) -> list[Built]:
    """What the CREATE TABLE statement itself declares, named by the backend."""
    from django.db.models import UniqueConstraint
    from django.db.models.fields import AutoFieldMixin

    vendor = connection.vendor
    table = model._meta.db_table
    out: list[Built] = []
    for field in model._meta.local_concrete_fields:
        column = field.column
        if field.primary_key:
            name = {"postgresql": pg_object_name(table, None, "pkey"), "mysql": "PRIMARY"}
            out.append(Built(table, "primary", (column,), name.get(vendor, "")))
            if vendor == "postgresql" and isinstance(field, AutoFieldMixin):
                out.append(
                    Built(table, "sequence", (column,), pg_object_name(table, column, "seq"))
                )
        elif field.unique:
            # PostgreSQL: <table>_<column>_key; MySQL: the column's name.
            name = {"postgresql": pg_object_name(table, column, "key"), "mysql": column}
            out.append(Built(table, "unique", (column,), name.get(vendor, "")))
        if vendor == "postgresql" and field.db_check(connection):
            out.append(Built(table, "check", (column,), pg_object_name(table, column, "check")))
    for constraint in model._meta.constraints:
        # A plain UniqueConstraint goes into CREATE TABLE; the others are deferred statements.
        if (
            isinstance(constraint, UniqueConstraint)
            and constraint.fields
            and not constraint.condition
            and not constraint.expressions
            and not any(getattr(constraint, a, None) for a in ("include", "opclasses"))
            and getattr(constraint, "nulls_distinct", None) is None
        ):
            cols = tuple(model._meta.get_field(f).column for f in constraint.fields)
            out.append(Built(table, "unique", cols, str(constraint.name), declared=True))
    return out


def _from_statement(editor: Any, statement: Any) -> Built | None:
    """The index, unique constraint or foreign key a deferred statement of ``create_model``
    creates (None for any other statement, for one naming no table or columns, and for a
    functional index)."""
    from django.db.backends.ddl_references import Expressions

    parts = getattr(statement, "parts", None)
    if not parts or "name" not in parts or "table" not in parts:
        return None
    table = getattr(parts["table"], "table", None)
    columns = parts.get("columns", parts.get("column"))
    if isinstance(columns, Expressions):
        return None  # a functional index: the catalog snapshot does not read expressions
    cols = tuple(getattr(columns, "columns", ()) or ())
    if table is None or not cols:
        return None
    name = _unquote(str(parts["name"]))
    if "to_table" in parts:
        to_table = parts["to_table"].table
        to_column = (getattr(parts.get("to_column"), "columns", None) or [""])[0]
        return Built(table, "foreign", cols, name, (to_table, to_column))
    unique = statement.template in (editor.sql_create_unique, editor.sql_create_unique_index)
    return Built(table, "unique" if unique else "index", cols, name)


def _unquote(name: str) -> str:
    """A name as quote_name() wrote it ("name" or `name`), bare."""
    if len(name) >= 2 and name[0] == name[-1] and name[0] in '"`':
        return name[1:-1]
    return name
