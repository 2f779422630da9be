"""The app's tables and columns as the database has them (introspected, read-only)."""

from __future__ import annotations

from typing import Any

from authtools.procedures.reset.spec import TableCheck


def table_check(config: Any, database: str) -> TableCheck:
    """Which tables and columns of the app's models the database already has (introspected)."""
    from django.db import connections

    connection = connections[database]
    check = TableCheck()
    with connection.cursor() as cursor:
        existing = {t.casefold(): t for t in connection.introspection.table_names(cursor)}
        for model in config.get_models(include_auto_created=True):
            meta = model._meta
            if not meta.managed or meta.proxy or meta.swapped:
                continue
            table = meta.db_table
            check.tables.append(table)
            if table.casefold() not in existing:
                check.missing.append(table)
                continue
            check.present.append(table)
            columns = {
                c.name.casefold()
                for c in connection.introspection.get_table_description(
                    cursor, existing[table.casefold()]
                )
            }
            for f in meta.local_concrete_fields:
                if f.column.casefold() not in columns:
                    check.missing.append(f"{table}.{f.column}")
    return check
