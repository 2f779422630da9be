"""How counts read in plans and results: '1 permission', '4 permission assignments'."""

from __future__ import annotations

from collections import Counter


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


USAGE_WORDS = (
    ("permissions", "permission", "permissions"),
    ("permission assignments", "permission assignment", "permission assignments"),
    ("log entries", "log entry", "log entries"),
)


def describe_usage(usage: Counter[str]) -> str:
    """'4 permissions, 7 permission assignments, 1 log entry, 2 tags.taggeditem.content_type'."""
    if not usage:
        return "nothing references it"
    parts = [
        f"{usage[key]} {one if usage[key] == 1 else many}"
        for key, one, many in USAGE_WORDS
        if usage[key]
    ]
    known = {key for key, _, _ in USAGE_WORDS}
    parts.extend(f"{n} {what}" for what, n in sorted(usage.items()) if what not in known and n)
    return ", ".join(parts)


def describe_counts(counts: dict[str, int]) -> str:
    """What one remap did, as a phrase for the result."""
    parts = []
    if counts.get("relabelled"):
        parts.append("kept its id and relabelled it")
    if counts.get("merged"):
        parts.append("merged into the successor's row")
    words = {
        "permissions": "moved or renamed",
        "permissions_merged": "merged with their twins",
        "assignments": "moved",
        "log_entries": "moved",
    }
    for key, n in counts.items():
        if key in ("relabelled", "merged") or not n:
            continue
        what = {"permissions_merged": "permissions", "log_entries": "log entries"}.get(key, key)
        if n == 1:
            what = {
                "permissions": "permission",
                "log entries": "log entry",
                "assignments": "assignment",
            }.get(what, what)
        parts.append(f"{n} {what} {words.get(key, 'moved')}")
    return ", ".join(parts)
