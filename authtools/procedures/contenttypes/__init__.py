"""Content types and permissions made right, without losing a permission.

Django's ``remove_stale_contenttypes`` deletes a stale content type with everything that points
at it: its permissions, every user's and group's assignment of them, the admin log. This package
keeps those rows instead. It works on sets, so the number of queries does not grow with the
number of models:

* :func:`analyse` (``inspect``) reads the content types, the permissions and the references to
  both (a fixed number of queries) and compares them with the installed models (``installed``);
* :func:`apply_remaps` (``remapping``) moves stale content types to their successors (keeping
  the old row's id and relabelling it when the successor has no row yet, else moving every
  reference to the successor's row and deleting the emptied old row);
* :func:`create_missing` (``create``) creates what ``post_migrate`` would create, in bulk;
* :func:`remove_stale` (``remove``) deletes stale rows and what references them (only when
  asked);
* :func:`remap` (``remapping``) is the one-pair entry point other procedures call inside their
  transaction;
* :func:`build_plan` (``plan``) puts these together as the steps of rebuild_contenttypes, with
  :func:`write_backup` (``backup``), :func:`restore_plan` (``restore``: undoes a run, or a
  restore, after ``validation`` checked the backup against the database and decided which live
  rows the run created) and :func:`verify` (``verification``).

Permissions are matched by codename; the default ones (``add_order``) follow the model's new
name (``add_purchase``). When the successor already has the same permission (its "twin"), the
old permission's user and group assignments move to the twin (without duplicates) and the old
permission, now unused, is deleted: nobody loses a permission.

Every public name is importable from this package; the modules say where each one lives.
"""

from __future__ import annotations

from authtools.procedures.contenttypes.backup import (
    BACKUP_DOCUMENT,
    backup_document,
    write_backup,
)
from authtools.procedures.contenttypes.create import create_missing
from authtools.procedures.contenttypes.inspect import (
    Analysis,
    Remap,
    RemapError,
    analyse,
    missing_rows,
    pair_stale,
    parse_remap,
    translate_codename,
)
from authtools.procedures.contenttypes.installed import (
    DEFAULT_ACTIONS,
    ExpectedModel,
    installed_models,
    split_label,
    swapped_models,
)
from authtools.procedures.contenttypes.plan import build_plan
from authtools.procedures.contenttypes.references import (
    Reference,
    contenttype_references,
    count_by,
    move_references,
    permission_references,
    references_to,
)
from authtools.procedures.contenttypes.remapping import RemapCounts, apply_remaps, remap
from authtools.procedures.contenttypes.remove import cascade_counts, remove_stale
from authtools.procedures.contenttypes.restore import restore, restore_plan
from authtools.procedures.contenttypes.snapshot import PermissionRow, Snapshot, read_snapshot
from authtools.procedures.contenttypes.sql import BATCH, case_update, delete_where, rows_of
from authtools.procedures.contenttypes.validation import MissingTables, require_tables
from authtools.procedures.contenttypes.verification import verify
from authtools.procedures.contenttypes.words import (
    USAGE_WORDS,
    describe_counts,
    describe_usage,
    plural,
)

__all__ = [
    "BACKUP_DOCUMENT",
    "BATCH",
    "DEFAULT_ACTIONS",
    "USAGE_WORDS",
    "Analysis",
    "ExpectedModel",
    "MissingTables",
    "PermissionRow",
    "Reference",
    "Remap",
    "RemapCounts",
    "RemapError",
    "Snapshot",
    "analyse",
    "apply_remaps",
    "backup_document",
    "build_plan",
    "cascade_counts",
    "case_update",
    "contenttype_references",
    "count_by",
    "create_missing",
    "delete_where",
    "describe_counts",
    "describe_usage",
    "installed_models",
    "missing_rows",
    "move_references",
    "pair_stale",
    "parse_remap",
    "permission_references",
    "plural",
    "read_snapshot",
    "references_to",
    "remap",
    "remove_stale",
    "require_tables",
    "restore",
    "restore_plan",
    "rows_of",
    "split_label",
    "swapped_models",
    "translate_codename",
    "verify",
    "write_backup",
]
