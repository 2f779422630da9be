"""The backup: every row a plan may change, each table with the scope it covers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.inspect import Analysis
from authtools.procedures.contenttypes.installed import auth_installed, split_label
from authtools.procedures.contenttypes.references import (
    Reference,
    contenttype_references,
    permission_references,
)
from authtools.procedures.contenttypes.remove import deletion_collector
from authtools.procedures.contenttypes.snapshot import Snapshot
from authtools.procedures.contenttypes.sql import rows_of

BACKUP_DOCUMENT = "contenttypes"


def _section(
    using: str, table: str, pk: str, columns: Sequence[str], scope_column: str, scope: Sequence[Any]
) -> dict[str, Any]:
    columns = [pk, *(c for c in columns if c != pk)]
    return {
        "table": table,
        "pk": pk,
        "columns": columns,
        "scope_column": scope_column,
        "scope": sorted(set(scope)),
        "rows": rows_of(using, table, columns, scope_column, scope) if scope else [],
    }


def model_section(
    using: str, model: Any, scope_column: str, scope: Sequence[Any]
) -> dict[str, Any]:
    """MODEL's table, every concrete column, for the rows whose SCOPE_COLUMN is in SCOPE."""
    opts = model._meta
    columns = [f.column for f in opts.concrete_fields]
    return _section(using, opts.db_table, opts.pk.column, columns, scope_column, scope)


def reference_sections(
    using: str, refs: Sequence[Reference], ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The rows of each reference that has a primary key, where they point at IDS."""
    return [_section(using, r.table, r.pk, r.columns, r.column, ids) for r in refs if r.pk]


def backup_document(using: str, a: Analysis) -> dict[str, Any]:
    """The rows the plan may change, as they are now, each table with the scope it covers:
    restoring puts the scope back exactly (rows added to it deleted, rows changed or deleted
    written back)."""
    from django.contrib.contenttypes.models import ContentType

    ct_ids = a.involved_ids
    sections = [model_section(using, ContentType, ContentType._meta.pk.column, ct_ids)]
    if auth_installed():
        from django.contrib.auth.models import Permission

        perms = model_section(using, Permission, "content_type_id", ct_ids)
        perm_ids = [row[0] for row in perms["rows"]]
        sections.append(perms)
        sections.extend(reference_sections(using, permission_references(using), perm_ids))
    sections.extend(reference_sections(using, contenttype_references(using), ct_ids))
    covered = {s["table"] for s in sections}
    if a.remove:
        ids = a.snapshot.by_label
        collector = deletion_collector(using, [ids[label] for label in a.remove])
        collector.sort()
        for model, objs in reversed(list(collector.data.items())):
            if model._meta.db_table not in covered and objs:
                sections.append(
                    model_section(using, model, model._meta.pk.column, [o.pk for o in objs])
                )
    return {
        "database": using,
        "before": before_state(a.snapshot),
        "created": {
            "contenttypes": a.missing_contenttypes,
            "permissions": [[label, codename] for label, codename, _ in a.missing_permissions],
        },
        "sections": sections,
    }


def before_state(snapshot: Snapshot) -> dict[str, list[list[Any]]]:
    """Every content type and permission row by id and natural key: what a restore checks the
    database and the rows it deletes as created by the run against."""
    return {
        "contenttypes": [
            [pk, *split_label(label)] for pk, label in sorted(snapshot.contenttypes.items())
        ],
        "permissions": sorted([p.id, p.content_type_id, p.codename] for p in snapshot.permissions),
    }


def write_backup(runtime: Any, a: Analysis) -> None:
    document = backup_document(runtime.database, a)
    runtime.backup_dir.write_json(BACKUP_DOCUMENT, document)
    runtime.state["backed_up"] = sum(len(s["rows"]) for s in document["sections"])
