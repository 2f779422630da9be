"""Stage 4 of the swap, plan (--widen-keys on PostgreSQL): the names of the foreign keys that
the key change re-creates, as a fresh ``migrate`` of the new models names them.

The change migration alters the user table's primary key; Django's schema editor drops every
foreign key pointing at it and re-creates it as ``<table>_<column>_<digest>_fk``, under the
table's current name. A fresh ``migrate`` builds some of them the same way and some not:

- a foreign key whose app's migrations all run before the change migration (the new app's
  mirror migration creates the user table, the other app's migrations create its table and key,
  then the change re-creates the key): ``<table>_<column>_<digest>_fk`` too, the table named as
  it is by then (its app's table renames have run: the name it has now);
- a foreign key whose app's migrations all run after it: created once, under the table name
  and column of the migration that created it (an ``AlterModelTable`` later renames the table,
  not its constraints): ``<made table>_<column>_<digest>_fk_<user table>_<key>``, the table part
  read back from the key's current name (``names.generated_name``).

Django's migrate runs the leaf migration of each app in the order of the app labels, each after
its dependencies; the change migration is the new app's leaf, so it runs after every migration
that the leaves of apps sorted before the new app's label need. An app with migrations on both
sides (one of its migrations is needed before the change, a later one is not) is counted before
it: its foreign key was most likely created by the early migration.
"""

from __future__ import annotations

from typing import Any

from authtools.db.schema import Rename
from authtools.procedures.swap.spec import SwapSpec


def apps_before_change(new_app: str) -> set[str]:
    """The app labels with a migration that a fresh ``migrate`` runs before NEW_APP's leaf
    migration (the change migration of --widen-keys, not written yet: NEW_APP's migrations on
    disk are what it will follow)."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    before: set[tuple[str, str]] = set()
    for target in sorted(graph.leaf_nodes()):
        if target[0] >= new_app:
            break
        before.update(graph.forwards_plan(target))
    for node in graph.leaf_nodes(new_app):
        before.update(graph.forwards_plan(node))
    return {app for app, _ in before if app != new_app}


def widened_fk_renames(connection: Any, spec: SwapSpec) -> list[Rename]:
    """Renames from the name the key change gives each referencing foreign key (tables the
    swap does not rename) to the name a fresh migrate gives it; only those that differ."""
    from django.apps import apps

    from authtools.db.catalog import foreign_keys
    from authtools.db.names import generated_name, is_fk_suffix

    editor = connection.schema_editor()  # instantiated, never entered
    app_of = {
        m._meta.db_table: m._meta.app_label for m in apps.get_models(include_auto_created=True)
    }
    before = apps_before_change(spec.new_label.split(".")[0])
    current = {
        (fk.table, fk.column): (fk.constraint, fk.ref_column)
        for fk in foreign_keys(connection, spec.old_table)
    }
    suffix = f"_fk_{spec.new_table}_{spec.pk_column}"
    renames: list[Rename] = []
    for table, column in spec.referencing:
        if table in spec.renamed_tables.values():
            continue  # the new app's own tables: created before the change, named by it
        widened = editor._create_index_name(table, [column], suffix="_fk")
        fresh = widened
        if app_of.get(table) not in before:
            fresh = editor._create_index_name(table, [column], suffix=suffix)
            name, ref_column = current.get((table, column), ("", ""))
            made = generated_name(
                connection, name or "", [column], table, (f"_fk_{spec.old_table}_{ref_column}",)
            )
            if made is not None and is_fk_suffix(made[2], ref_column):
                fresh = editor._create_index_name(made[0], made[1], suffix=suffix)
        if fresh != widened:
            renames.append(Rename("constraint", table, widened, fresh))
    return renames
