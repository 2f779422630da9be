"""Probe: related-objects. One-to-one relations to the user model with rows missing for some
users: ``user.profile`` raises RelatedObjectDoesNotExist for them (W701).

One query in all: the number of users and, for each relation, how many have no row (NOT EXISTS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context
from authtools.diagnosis.probes.database import connection_error
from authtools.diagnosis.report import Finding, TableLocation

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
    for i, relation in enumerate(relations):
        if counts[f"missing_{i}"]:
            yield _missing_rows(user_model, relation, counts[f"missing_{i}"], counts["total"])


def _missing_rows(user_model: Any, relation: OneToOne, missing: int, total: int) -> Finding:
    opts = relation.model._meta
    users = str(user_model._meta.verbose_name_plural)
    have = "has" if missing == 1 else "have"
    symptom = ""
    if relation.accessor:
        symptom = f" (user.{relation.accessor} raises RelatedObjectDoesNotExist)"
    field = relation.field.name
    return catalog.finding(
        "authtools.W701",
        f"{missing} of {total} {users} {have} no {opts.label}{symptom}.",
        f"Create the missing rows in a data migration (one {opts.object_name} per user "
        f"without one, e.g. bulk_create), create them when a user is created (a post_save "
        f"signal or the sign-up code), or read them with "
        f"{opts.object_name}.objects.get_or_create({field}=user).",
        location=TableLocation(opts.db_table),
    )
