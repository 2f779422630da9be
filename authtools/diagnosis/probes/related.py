"""Probe: related-objects. One-to-one relations to the user model with rows missing for some
users: ``user.profile`` raises RelatedObjectDoesNotExist for them (W701).

A relation whose absence is expected is info (I702), not a warning: one the project lists in
``AUTHTOOLS = {"OPTIONAL_RELATIONS": ["otp.Device.user"]}``, or one whose absence its code
handles (``hasattr(user, "device")``, ``getattr(user, "device", None)``, ``try: ... user.device
... except (Device.DoesNotExist | ObjectDoesNotExist | RelatedObjectDoesNotExist)``,
``Device.objects.filter(user=...).first()``) or creates the row when it is first needed
(``Device.objects.get_or_create(user=...)``, as Wagtail's ``UserProfile.get_for_user`` does),
found with ast in the project's own files and in the file that defines the related model (a
third-party app's models.py), and only for relations with missing rows.

One query in all: the number of users and, for each relation, how many have no row (NOT EXISTS).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context, iter_python_files, module_file, parse_file
from authtools.diagnosis.probes.database import connection_error
from authtools.diagnosis.report import FileLocation, Finding, TableLocation

REQUIRES = "ready"
USES_DB = True


@dataclass(frozen=True)
class OneToOne:
    model: Any  # the model holding the OneToOneField, e.g. profiles.Profile
    field: Any  # the OneToOneField
    accessor: str | None  # user.<accessor>, None when the reverse relation is hidden


def one_to_ones(user_model: Any, database: str) -> list[OneToOne]:
    """Every installed, managed model's OneToOneField to the user model (parent links of
    multi-table inheritance excluded: a parent row without a child is normal)."""
    from django.apps import apps
    from django.db import router
    from django.db.models import OneToOneField

    relations = []
    for model in apps.get_models():
        opts = model._meta
        if not opts.managed or opts.proxy or not router.allow_migrate_model(database, model):
            continue
        for field in opts.local_concrete_fields:
            if not isinstance(field, OneToOneField) or field.remote_field.parent_link:
                continue
            if field.remote_field.model is not user_model:
                continue
            accessor = field.remote_field.get_accessor_name()
            hidden = not accessor or accessor.endswith("+")  # related_name='+'
            relations.append(OneToOne(model, field, None if hidden else accessor))
    return sorted(relations, key=lambda r: (r.model._meta.label, r.field.name))


def run(ctx: Context) -> Iterator[Finding]:
    from django.db import DatabaseError, connections
    from django.db.models import Count, Exists, OuterRef

    if connection_error(ctx) is not None:
        return  # the database probe reports it (E504)
    user_model = ctx.user_model()
    if user_model is None or user_model._meta.abstract or user_model._meta.proxy:
        return
    relations = one_to_ones(user_model, ctx.database)
    if not relations:
        return
    connection = connections[ctx.database]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    relations = [r for r in relations if r.model._meta.db_table in tables]
    if user_model._meta.db_table not in tables or not relations:
        return  # not migrated: the database and migrations probes say so
    missing = {
        f"missing_{i}": Count(
            "pk",
            filter=~Exists(
                r.model._base_manager.using(ctx.database).filter(
                    **{r.field.attname: OuterRef(r.field.target_field.attname)}
                )
            ),
        )
        for i, r in enumerate(relations)
    }
    try:
        counts = user_model._base_manager.using(ctx.database).aggregate(
            total=Count("pk"), **missing
        )
    except DatabaseError:
        return  # the tables differ from the models: the migrations probe reports that
    optional = optional_relations()
    for i, relation in enumerate(relations):
        missing_count = counts[f"missing_{i}"]
        if not missing_count:
            continue
        label = f"{relation.model._meta.label}.{relation.field.name}"
        if label.lower() in optional:
            yield _optional(user_model, relation, missing_count, counts["total"], None)
            continue
        handled = handled_in_code(ctx, relation)
        if handled is not None:
            yield _optional(user_model, relation, missing_count, counts["total"], handled)
            continue
        yield _missing_rows(user_model, relation, missing_count, counts["total"])


def optional_relations() -> set[str]:
    """'app.model.field' (lower case) of AUTHTOOLS['OPTIONAL_RELATIONS']."""
    from django.conf import settings

    config = getattr(settings, "AUTHTOOLS", None)
    values = config.get("OPTIONAL_RELATIONS", ()) if isinstance(config, dict) else ()
    return {str(v).lower() for v in values if isinstance(v, str)}


_ABSENCE = ("DoesNotExist", "ObjectDoesNotExist", "RelatedObjectDoesNotExist")


def handled_in_code(ctx: Context, relation: OneToOne) -> tuple[FileLocation, str] | None:
    """Where the project's own code, or the module that defines RELATION's model, handles a
    missing row of RELATION, and how ("handles its absence", "creates it when first needed"),
    or None."""
    accessor = relation.accessor
    model_name = relation.model._meta.object_name
    paths = [p for p in iter_python_files(ctx.project_root) if "migrations" not in p.parts]
    defined_in = module_file(relation.model.__module__)
    if defined_in is not None and defined_in not in paths:
        paths.append(defined_in)
    for path in paths:
        tree = parse_file(path)
        found = None if tree is None else _handling(tree, accessor, model_name, relation.field.name)
        if found is not None:
            node, how = found
            return FileLocation(ctx.display_path(path), getattr(node, "lineno", 1)), how
    return None


_CREATES, _HANDLES = "creates it when first needed", "handles its absence"


def _handling(
    tree: ast.AST, accessor: str | None, model_name: str, field: str
) -> tuple[ast.AST, str] | None:
    """The first node of TREE that handles a missing row or creates it when first needed (also
    in the model's own methods: ``cls.objects.get_or_create(user=...)``), and which it does."""
    for node in ast.walk(tree):
        if _handles(node, accessor, model_name, field):
            lazy = isinstance(node, ast.Call) and _lazily_creates(node, field)
            return node, _CREATES if lazy else _HANDLES
        if isinstance(node, ast.ClassDef) and node.name == model_name:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and _lazily_creates(inner, field):
                    manager = ast.unparse(inner.func)
                    if manager.startswith(("cls.", "self.__class__.", "type(self).")):
                        return inner, _CREATES
    return None


def _lazily_creates(node: ast.Call, field: str) -> bool:
    """A call of get_or_create or update_or_create with a lookup on FIELD."""
    return (
        isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get_or_create", "update_or_create")
        and any(_names_field(k.arg or "", field) for k in node.keywords)
    )


def _handles(node: ast.AST, accessor: str | None, model_name: str, field: str) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and accessor:
        args = node.args
        named = len(args) >= 2 and isinstance(args[1], ast.Constant) and args[1].value == accessor
        if node.func.id == "hasattr" and named:
            return True
        if node.func.id == "getattr" and named and len(args) == 3:
            return True
    if isinstance(node, ast.Try) and accessor:
        caught = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
        if any(name in caught for name in _ABSENCE) and any(
            isinstance(n, ast.Attribute) and n.attr == accessor
            for stmt in node.body
            for n in ast.walk(stmt)
        ):
            return True
    if isinstance(node, ast.Call) and _lazily_creates(node, field):
        return ast.unparse(node.func).startswith(f"{model_name}.")  # Profile.objects.get_or_...
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "first"
        and isinstance(node.func.value, ast.Call)
    ):
        text = ast.unparse(node.func.value)
        keywords = [k.arg or "" for k in getattr(node.func.value, "keywords", [])]
        return text.startswith(f"{model_name}.") and any(_names_field(k, field) for k in keywords)
    return False


def _names_field(keyword: str, field: str) -> bool:
    """A lookup keyword on FIELD: 'user', 'user_id', 'user__pk'."""
    return keyword == field or keyword == f"{field}_id" or keyword.startswith(f"{field}__")


def _optional(
    user_model: Any,
    relation: OneToOne,
    missing: int,
    total: int,
    handled: tuple[FileLocation, str] | None,
) -> Finding:
    opts = relation.model._meta
    users = str(user_model._meta.verbose_name_plural)
    have = "has" if missing == 1 else "have"
    label = f"{opts.label}.{relation.field.name}"
    why = (
        f"the code {handled[1]} ({handled[0]})"
        if handled
        else f"AUTHTOOLS['OPTIONAL_RELATIONS'] lists {label}"
    )
    return catalog.finding(
        "authtools.I702",
        f"{missing} of {total} {users} {have} no {opts.label}, an optional relation: {why}.",
        "Nothing to do; do not create rows for them, as a row may change what the code does "
        f"for a user (a {opts.object_name} that exists is taken as set up).",
        location=TableLocation(opts.db_table),
    )


def _missing_rows(user_model: Any, relation: OneToOne, missing: int, total: int) -> Finding:
    opts = relation.model._meta
    users = str(user_model._meta.verbose_name_plural)
    have = "has" if missing == 1 else "have"
    symptom = ""
    if relation.accessor:
        symptom = f" (user.{relation.accessor} raises RelatedObjectDoesNotExist)"
    field = relation.field.name
    label = f"{opts.label}.{field}"
    return catalog.finding(
        "authtools.W701",
        f"{missing} of {total} {users} {have} no {opts.label}{symptom}.",
        f"If every user should have one (a profile), create the missing rows in a data "
        f"migration (one {opts.object_name} per user without one, e.g. bulk_create) and when a "
        f"user is created (a post_save signal or the sign-up code). If a missing row means "
        f"something (e.g. not set up yet), do not create rows: handle the absence where "
        f"user.{relation.accessor or field} is read (hasattr, or except "
        f"{opts.object_name}.DoesNotExist) and list it as optional: "
        f'AUTHTOOLS = {{"OPTIONAL_RELATIONS": ["{label}"]}}.',
        location=TableLocation(opts.db_table),
    )
