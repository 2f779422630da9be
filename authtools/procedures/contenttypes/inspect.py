"""Finding what is wrong: stale content types paired with their successors, missing rows,
and what references each stale row (the Analysis a plan is built from)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from authtools.procedures.contenttypes.installed import (
    ExpectedModel,
    installed_models,
    model_actions,
    split_label,
    swapped_models,
)
from authtools.procedures.contenttypes.references import (
    contenttype_references,
    count_by,
    permission_references,
)
from authtools.procedures.contenttypes.remove import cascade_counts
from authtools.procedures.contenttypes.snapshot import Snapshot, read_snapshot


class RemapError(ValueError):
    """A --remap pair that cannot be applied; the message names it and the next step."""


@dataclass(frozen=True)
class Remap:
    old: str
    new: str
    reason: str  # 'swapped user model', 'same model name', '--remap'


def parse_remap(text: str) -> tuple[str, str]:
    """'OLD_APP.MODEL=NEW_APP.MODEL' -> ('old_app.model', 'new_app.model')."""
    old, sep, new = text.partition("=")
    labels = [old.strip().lower(), new.strip().lower()]
    if not sep or any(label.count(".") != 1 or "" in split_label(label) for label in labels):
        raise RemapError(
            f"--remap {text!r} is not of the form OLD_APP.MODEL=NEW_APP.MODEL "
            "(e.g. --remap auth.user=accounts.user)"
        )
    return labels[0], labels[1]


def pair_stale(
    snapshot: Snapshot,
    expected: dict[str, ExpectedModel],
    known: set[str],
    explicit: Sequence[tuple[str, str]] = (),
) -> tuple[list[Remap], list[str]]:
    """(remaps, stale rows left unpaired). Raises RemapError for an explicit pair that cannot
    be applied (unknown labels, a live model as OLD, two OLDs for one NEW)."""
    existing = snapshot.by_label
    stale = sorted(label for label in existing if label not in known)
    remaps: dict[str, Remap] = {}
    for old, new in explicit:
        if old not in existing:
            raise RemapError(
                f"--remap {old}={new}: there is no content type {old!r} in the database; "
                "run without --remap to list the stale ones"
            )
        if old in known:
            raise RemapError(
                f"--remap {old}={new}: {old!r} is an installed model, not a stale content type"
            )
        if new not in expected:
            raise RemapError(
                f"--remap {old}={new}: {new!r} is not an installed model; "
                "name the successor as APP_LABEL.MODEL of an installed app"
            )
        remaps[old] = Remap(old, new, "--remap")
    swapped = swapped_models()
    for old in stale:
        if old not in remaps and swapped.get(old) in expected:
            remaps[old] = Remap(old, swapped[old], "swapped-out user model")
    # The same model name in exactly one other installed app, and no other stale row of that
    # name competing for it.
    unpaired = [label for label in stale if label not in remaps]
    stale_names = Counter(split_label(label)[1] for label in unpaired)
    by_name: dict[str, list[str]] = defaultdict(list)
    for label in expected:
        by_name[split_label(label)[1]].append(label)
    taken = {r.new for r in remaps.values()}
    for old in unpaired:
        app_label, name = split_label(old)
        candidates = [c for c in by_name.get(name, []) if split_label(c)[0] != app_label]
        if stale_names[name] == 1 and len(candidates) == 1 and candidates[0] not in taken:
            remaps[old] = Remap(old, candidates[0], "same model name in another app")
            taken.add(candidates[0])
    targets = Counter(r.new for r in remaps.values())
    for new, n in targets.items():
        if n > 1:
            olds = sorted(r.old for r in remaps.values() if r.new == new)
            raise RemapError(
                f"{n} content types would be remapped to {new!r} ({', '.join(olds)}); "
                "remap only one of them"
            )
    ordered = [remaps[label] for label in sorted(remaps)]
    return ordered, [label for label in stale if label not in remaps]


def translate_codename(
    codename: str, old_model: str, new_model: str, actions: Sequence[str]
) -> str:
    """'add_order' -> 'add_purchase' for the default permissions; custom codenames unchanged."""
    for action in actions:
        if codename == f"{action}_{old_model}":
            return f"{action}_{new_model}"
    return codename


def _allowed(using: str, model_path: str) -> bool:
    from django.apps import apps
    from django.db import router

    app_label, name = model_path.split(".")
    if not apps.is_installed(f"django.contrib.{app_label}"):
        return False
    return bool(router.allow_migrate_model(using, apps.get_model(app_label, name)))


def missing_rows(
    labels: set[str],
    permissions: set[tuple[str, str]],
    expected: dict[str, ExpectedModel],
    using: str,
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(content types, (label, codename, name) permissions) that EXPECTED has and the rows
    (LABELS and (label, codename) PERMISSIONS) lack."""
    cts = [label for label in sorted(expected) if label not in labels]
    if not _allowed(using, "contenttypes.ContentType"):
        cts = []
    perms: list[tuple[str, str, str]] = []
    if _allowed(using, "auth.Permission"):
        perms = [
            (label, codename, name)
            for label in sorted(expected)
            for codename, name in expected[label].permissions
            if (label, codename) not in permissions
        ]
    return cts, perms


def find_missing(using: str) -> tuple[Snapshot, list[str], list[tuple[str, str, str]]]:
    """(the rows now, the content types and the (label, codename, name) permissions that
    post_migrate would create)."""
    expected, _ = installed_models(using)
    snapshot = read_snapshot(using)
    cts, perms = missing_rows(set(snapshot.by_label), snapshot.permission_keys(), expected, using)
    return snapshot, cts, perms


@dataclass
class Analysis:
    """What rebuild_contenttypes found in one database, before changing anything."""

    database: str
    snapshot: Snapshot
    remaps: list[Remap]
    unpaired: list[str]  # stale rows with no successor
    missing_contenttypes: list[str]
    missing_permissions: list[tuple[str, str, str]]
    remove: list[str]  # stale rows to delete (--remove-stale)
    usage: dict[int, Counter[str]]  # content type id -> what references it
    cascades: dict[str, int]  # what the removal deletes, cascades included

    @property
    def involved_ids(self) -> list[int]:
        ids = self.snapshot.by_label
        labels = {r.old for r in self.remaps} | {r.new for r in self.remaps} | set(self.remove)
        return sorted(ids[label] for label in labels if label in ids)


def _usage(using: str, snapshot: Snapshot, ids: Sequence[int]) -> dict[int, Counter[str]]:
    """Per content type id: permissions, assignments and rows of every other reference."""
    usage: dict[int, Counter[str]] = defaultdict(Counter)
    perm_ct = {p.id: p.content_type_id for p in snapshot.permissions if p.content_type_id in ids}
    for p_ct in perm_ct.values():
        usage[p_ct]["permissions"] += 1
    for ref in permission_references(using):
        for perm_id, n in count_by(ref, using, perm_ct).items():
            usage[perm_ct[perm_id]]["permission assignments"] += n
    for ref in contenttype_references(using):
        what = "log entries" if ref.name == "admin.logentry.content_type" else ref.name
        for ct_id, n in count_by(ref, using, ids).items():
            usage[ct_id][what] += n
    return usage


def analyse(using: str, explicit: Sequence[str] = (), remove_stale: bool = False) -> Analysis:
    """Read the database (a fixed number of queries) and decide what to do."""
    pairs = [parse_remap(text) for text in explicit]
    expected, known = installed_models(using)
    snapshot = read_snapshot(using)
    remaps, unpaired = pair_stale(snapshot, expected, known, pairs)
    # The rows as they will be once the remaps are done, for what is still missing.
    # (Permissions indexed by label once: one pass over them, whatever the number of remaps.)
    labels = set(snapshot.by_label)
    have = snapshot.permission_keys()
    codenames: dict[str, list[str]] = defaultdict(list)
    for label, codename in have:
        codenames[label].append(codename)
    for r in remaps:
        labels.discard(r.old)
        labels.add(r.new)
        actions = model_actions(r.new)
        old_model, new_model = split_label(r.old)[1], split_label(r.new)[1]
        for codename in codenames.get(r.old, ()):
            have.add((r.new, translate_codename(codename, old_model, new_model, actions)))
    cts, perms = missing_rows(labels, have, expected, using)
    ids = snapshot.by_label
    stale_ids = sorted(ids[label] for label in [*unpaired, *(r.old for r in remaps)])
    remove = list(unpaired) if remove_stale else []
    return Analysis(
        using,
        snapshot,
        remaps,
        unpaired,
        cts,
        perms,
        remove,
        _usage(using, snapshot, stale_ids),
        cascade_counts(using, [ids[label] for label in remove]),
    )
