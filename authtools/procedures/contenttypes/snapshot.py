"""The content type and permission rows as they are in the database (two queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from authtools.procedures.contenttypes.installed import auth_installed


@dataclass(frozen=True)
class PermissionRow:
    id: int
    content_type_id: int
    codename: str
    name: str


@dataclass
class Snapshot:
    contenttypes: dict[int, str]  # id -> label
    permissions: list[PermissionRow]

    @property
    def by_label(self) -> dict[str, int]:
        return {label: pk for pk, label in self.contenttypes.items()}

    def permission_keys(self) -> set[tuple[str, str]]:
        """{(label, codename)} of every permission whose content type exists."""
        return {
            (self.contenttypes[p.content_type_id], p.codename)
            for p in self.permissions
            if p.content_type_id in self.contenttypes
        }

    def permissions_of(self) -> dict[int, list[PermissionRow]]:
        out: dict[int, list[PermissionRow]] = defaultdict(list)
        for p in self.permissions:
            out[p.content_type_id].append(p)
        return out


def read_snapshot(using: str) -> Snapshot:
    """Every content type and permission row (two queries)."""
    from django.contrib.contenttypes.models import ContentType

    cts = {
        pk: f"{a}.{m}"
        for pk, a, m in ContentType.objects.using(using).values_list("pk", "app_label", "model")
    }
    perms: list[PermissionRow] = []
    if auth_installed():
        from django.contrib.auth.models import Permission

        perms = [
            PermissionRow(*row)
            for row in Permission.objects.using(using).values_list(
                "pk", "content_type_id", "codename", "name"
            )
        ]
    return Snapshot(cts, perms)
