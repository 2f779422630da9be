"""The Plan of rebuild_contenttypes: remap, create, remove, each step only when needed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.backup import write_backup
from authtools.procedures.contenttypes.create import create_missing
from authtools.procedures.contenttypes.inspect import Analysis, analyse
from authtools.procedures.contenttypes.installed import clear_cache, split_label
from authtools.procedures.contenttypes.remapping import apply_remaps
from authtools.procedures.contenttypes.remove import remove_stale
from authtools.procedures.contenttypes.validation import require_tables
from authtools.procedures.contenttypes.verification import verify
from authtools.procedures.contenttypes.words import describe_usage, plural


def build_plan(using: str, explicit: Sequence[str] = (), remove_stale: bool = False) -> Any:
    """The Plan of rebuild_contenttypes: remap, create, remove (each step only when needed)."""
    from authtools.procedures.plan import Plan, Step

    require_tables(using)
    a = analyse(using, explicit, remove_stale)
    ids = a.snapshot.by_label
    plan = Plan("rebuild_contenttypes", using, data={"analysis": a})
    if a.remaps:
        details = []
        for r in a.remaps:
            how = (
                f"move its references to id {ids[r.new]} and delete id {ids[r.old]}"
                if r.new in ids
                else f"keep id {ids[r.old]} and relabel it"
            )
            details.append(
                f"{r.old} -> {r.new} ({r.reason}): {how}; {describe_usage(a.usage[ids[r.old]])}"
            )
        plan.add(
            Step(
                "remap",
                "rows",
                f"Remap {plural(len(a.remaps), 'stale content type')} to "
                f"{'its successor' if len(a.remaps) == 1 else 'their successors'}",
                lambda rt: _apply_remaps_step(rt, a),
                details=details,
            )
        )
    if a.missing_contenttypes or a.missing_permissions:
        per_app: dict[str, Counter[str]] = defaultdict(Counter)
        for label in a.missing_contenttypes:
            per_app[split_label(label)[0]]["ct"] += 1
        for label, _, _ in a.missing_permissions:
            per_app[split_label(label)[0]]["perm"] += 1
        plan.add(
            Step(
                "create",
                "rows",
                f"Create {plural(len(a.missing_contenttypes), 'content type')} and "
                f"{plural(len(a.missing_permissions), 'permission')}",
                lambda rt: _create_step(rt),
                details=[
                    f"{app}: {plural(c['ct'], 'content type')}, {plural(c['perm'], 'permission')}"
                    for app, c in sorted(per_app.items())
                ],
            )
        )
    if a.remove:
        details = [
            f"{label} (id {ids[label]}): {describe_usage(a.usage[ids[label]])}"
            for label in a.remove
        ]
        details.append(
            "Deletes in all: " + ", ".join(f"{n} {what}" for what, n in a.cascades.items())
        )
        plan.add(
            Step(
                "remove",
                "rows",
                f"Delete {plural(len(a.remove), 'stale content type')} and everything that "
                "references " + ("it" if len(a.remove) == 1 else "them"),
                lambda rt: _remove_step(rt, a),
                details=details,
            )
        )
    if not remove_stale:
        for label in a.unpaired:
            plan.notes.append(
                f"Stale content type {label!r} (id {ids[label]}) is kept "
                f"({describe_usage(a.usage[ids[label]])}): pass --remap {label}=APP_LABEL.MODEL "
                "to move it to its successor, or --remove-stale to delete it."
            )
    if not plan.empty:
        plan.backup = lambda rt: write_backup(rt, a)
        plan.verify = lambda rt: verify(using, a)
    return plan


def _apply_remaps_step(runtime: Any, a: Analysis) -> None:
    counts = apply_remaps(runtime.database, [(r.old, r.new) for r in a.remaps])
    runtime.state["remapped"] = {f"{r.old} -> {r.new}": counts[r.old].as_dict() for r in a.remaps}
    clear_cache()


def _create_step(runtime: Any) -> None:
    cts, perms = create_missing(runtime.database)
    runtime.state["created"] = {"contenttypes": len(cts), "permissions": len(perms)}
    clear_cache()


def _remove_step(runtime: Any, a: Analysis) -> None:
    runtime.state["removed"] = remove_stale(runtime.database, a.remove)
    clear_cache()
