"""Moving stale content types to their successors: :func:`apply_remaps` for many pairs and
:func:`remap`, the one-pair entry point other procedures call inside their transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from authtools.procedures.contenttypes.inspect import translate_codename
from authtools.procedures.contenttypes.installed import (
    auth_installed,
    model_actions,
    model_verbose_name,
    permission_table,
    split_label,
)
from authtools.procedures.contenttypes.references import (
    contenttype_references,
    move_references,
    permission_references,
)
from authtools.procedures.contenttypes.snapshot import read_snapshot
from authtools.procedures.contenttypes.sql import delete_where, update_rows


@dataclass
class RemapCounts:
    """What one remap changed."""

    relabelled: int = 0
    merged: int = 0
    permissions: int = 0  # moved or renamed
    permissions_merged: int = 0  # deleted after their assignments moved to a twin
    assignments: int = 0  # user/group (or other) rows moved from a permission to its twin
    log_entries: int = 0
    references: dict[str, int] = field(default_factory=dict)  # other FKs to ContentType

    def as_dict(self) -> dict[str, int]:
        out = {
            "relabelled": self.relabelled,
            "merged": self.merged,
            "permissions": self.permissions,
            "permissions_merged": self.permissions_merged,
            "assignments": self.assignments,
            "log_entries": self.log_entries,
        }
        out.update(self.references)
        return out


def apply_remaps(using: str, pairs: Sequence[tuple[str, str]]) -> dict[str, RemapCounts]:
    """Move each OLD content type to NEW (labels, lower case); {old: counts}.

    Run inside a transaction: every statement is part of one change. A fixed number of
    statements per kind of reference, whatever the number of pairs.
    """
    from django.contrib.contenttypes.models import ContentType

    result = {old: RemapCounts() for old, _ in pairs}
    snapshot = read_snapshot(using)
    ids = snapshot.by_label
    pairs = [(old, new) for old, new in pairs if old in ids and old != new]
    relabel = [(old, new) for old, new in pairs if new not in ids]
    merge = {ids[old]: ids[new] for old, new in pairs if new in ids}
    # 1. Relabel in place: the old row keeps its id and takes the successor's label.
    if relabel:
        rows = {}
        for old, new in relabel:
            rows[ids[old]] = split_label(new)
            result[old].relabelled = 1
        ct = ContentType._meta
        update_rows(using, ct.db_table, ct.pk.column, ["app_label", "model"], rows)
    # 2. Permissions: rename default codenames, move to the successor or merge with a twin.
    target_ct = {ids[old]: ids.get(new, ids[old]) for old, new in pairs}
    label_of = {ids[old]: (old, new) for old, new in pairs}
    perms_of = snapshot.permissions_of()
    twins: dict[int, int] = {}
    twin_owner: dict[int, str] = {}
    moved: dict[int, tuple[int, str, str]] = {}  # permission id -> (content type, codename, name)
    if auth_installed():
        for old_id, (old, new) in label_of.items():
            target = target_ct[old_id]
            actions = model_actions(new)
            verbose = model_verbose_name(new)
            old_model, new_model = split_label(old)[1], split_label(new)[1]
            # The codenames the target row ends up with: its own (when merging), then the old
            # row's, those already right first so that they keep their rows.
            final = {p.codename: p.id for p in perms_of.get(target, []) if target != old_id}
            translated = [
                (translate_codename(p.codename, old_model, new_model, actions), p)
                for p in perms_of.get(old_id, [])
            ]
            translated.sort(key=lambda item: (item[0] != item[1].codename, item[1].id))
            for codename, p in translated:
                if codename in final:
                    twins[p.id] = final[codename]
                    twin_owner[p.id] = old
                    result[old].permissions_merged += 1
                    continue
                final[codename] = p.id
                name = p.name
                if codename != p.codename and verbose is not None:
                    name = f"Can {codename.split('_', 1)[0]} {verbose}"
                if target != p.content_type_id or codename != p.codename or name != p.name:
                    moved[p.id] = (target, codename, name)
                    result[old].permissions += 1
        for ref in permission_references(using):
            for perm_id, n in move_references(ref, using, twins).items():
                result[twin_owner[perm_id]].assignments += n
        delete_where(using, permission_table(), "id", twins)
        update_rows(using, permission_table(), "id", ["content_type_id", "codename", "name"], moved)
    # 3. Every other ForeignKey to ContentType: admin log entries, generic relations.
    for ref in contenttype_references(using):
        for old_id, n in move_references(ref, using, merge).items():
            counts = result[label_of[old_id][0]]
            if ref.name == "admin.logentry.content_type":
                counts.log_entries += n
            else:
                counts.references[ref.name] = counts.references.get(ref.name, 0) + n
    # 4. The merged old rows are empty now.
    if merge:
        delete_where(using, ContentType._meta.db_table, ContentType._meta.pk.column, merge)
        for old_id in merge:
            result[label_of[old_id][0]].merged = 1
    return result


def remap(using: str, old: str, new: str) -> dict[str, int]:
    """Move content type OLD ('app_label.model') to NEW, inside the caller's transaction.

    Relabels the old row in place (same id) when NEW has no row, else moves every reference
    (permissions by codename with their user/group assignments, admin log entries, every
    ForeignKey to ContentType) to NEW's row and deletes the old one. Returns the counts of what
    changed; clears the ContentType cache.
    """
    from django.contrib.contenttypes.models import ContentType

    counts = apply_remaps(using, [(old.lower(), new.lower())])[old.lower()]
    ContentType.objects.clear_cache()
    return counts.as_dict()
