"""rebuild_contenttypes --restore deletes only what the run created: a crafted backup (digests
updated, as an attacker who knows the format would) that lists an existing content type or
permission under ``created``, or a ``before`` state that does not match the database, or a row
outside its section's scope, is refused in one line naming the file and the field, and every
row of every table and every file stay as they were. What a restore deletes is shown in the
plan, cascades included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backuphelpers import assert_refused, copy_backup, dump, fingerprint, only_backup, rewrite
from .conftest import Project
from .test_backup_validation import Craft, check_crafts

# The shop app's Order lost its content type and its permissions; the group 'staff' holds
# auth.group's permissions (the rows a crafted 'created' would delete with it).
SETUP = """
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

ContentType.objects.filter(app_label="shop", model="order").delete()
staff = Group.objects.create(name="staff")
staff.permissions.add(*Permission.objects.filter(content_type__model="group"))
"""


def group_ids(project: Project) -> tuple[int, list[int]]:
    [(ct,)] = project.db.query(
        "SELECT id FROM django_content_type WHERE app_label = 'auth' AND model = 'group'"
    )
    perms = [
        p
        for (p,) in project.db.query(
            "SELECT id FROM auth_permission WHERE content_type_id = %s ORDER BY id", [ct]
        )
    ]
    return ct, perms


def test_crafted_created_rows_are_refused(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    project.migrate()
    project.shell(SETUP)
    folder = tmp_path / "backups"
    run = project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(folder))
    assert run.code == 0, str(run)
    assert "Created 1 content type and 4 permissions" in run.out, str(run)
    valid = only_backup(folder)
    group_ct, group_perms = group_ids(project)

    def doc(change: Callable[[dict[str, Any]], Any]) -> Craft:
        return lambda backup: rewrite(backup, "contenttypes", change)

    def created_group(d: dict[str, Any]) -> None:
        d["created"]["contenttypes"].append("auth.group")

    def created_group_not_before(d: dict[str, Any]) -> None:
        created_group(d)
        d["before"]["contenttypes"] = [
            r for r in d["before"]["contenttypes"] if r[1:] != ["auth", "group"]
        ]

    def created_permission(d: dict[str, Any]) -> None:
        d["created"]["permissions"].append(["auth.group", "add_group"])

    def relabelled(d: dict[str, Any]) -> None:
        d["before"]["contenttypes"][0][2] = "renamed"

    def row_outside_scope(d: dict[str, Any]) -> None:
        d["sections"][0].update(scope=[group_ct + 1000], rows=[[group_ct, "auth", "gone"]])

    def repeated_key(d: dict[str, Any]) -> None:
        d["sections"][0].update(scope=[group_ct], rows=[[group_ct, "auth", "group"]] * 2)

    crafts: dict[str, tuple[Craft, str, str | None]] = {
        "existing-content-type": (
            doc(created_group),
            "contenttypes.json",
            "created.contenttypes[1]",  # after the run's own 'shop.order'
        ),
        "existing-content-type-left-out-of-before": (
            doc(created_group_not_before),
            "contenttypes.json",
            "before.contenttypes",
        ),
        "existing-permission": (
            doc(created_permission),
            "contenttypes.json",
            "created.permissions[4]",
        ),
        "before-does-not-match": (doc(relabelled), "contenttypes.json", "before.contenttypes"),
        "row-outside-scope": (doc(row_outside_scope), "contenttypes.json", "sections[0].rows[0]"),
        "repeated-key": (doc(repeated_key), "contenttypes.json", "sections[0].rows[1]"),
        "before-wrong-shape": (
            doc(lambda d: d["before"]["contenttypes"].append([1])),
            "contenttypes.json",
            None,
        ),
        "no-before": (doc(lambda d: d.__delitem__("before")), "contenttypes.json", "before"),
    }
    check_crafts(project, valid, ["rebuild_contenttypes", "--restore"], crafts, tmp_path)

    # A backup forged consistently (every row from auth.group's id on left out of 'before', so
    # that auth.group passes for a row the run created) cannot be told from a real one: the
    # plan then shows what the restore would delete, cascades included, and --dry-run changes
    # nothing.
    forged = copy_backup(valid, tmp_path / "forged")

    def forge(d: dict[str, Any]) -> None:
        created_group(d)
        d["before"]["contenttypes"] = [r for r in d["before"]["contenttypes"] if r[0] < group_ct]
        d["before"]["permissions"] = [
            r for r in d["before"]["permissions"] if r[0] < group_perms[0]
        ]

    rewrite(forged, "contenttypes", forge)
    before = fingerprint(project)
    dry = project.manage("rebuild_contenttypes", "--restore", str(forged), "--dry-run")
    assert dry.code == 0, str(dry)
    assert "       delete what the run created: 2 content types, 4 permissions\n" in dry.out
    assert "         content types: auth.group, shop.order\n" in dry.out, str(dry)
    assert (
        "         deleting too what points at them now: 4 permissions added since, "
        "4 rows of auth.group_permissions.permission\n"
    ) in dry.out, str(dry)
    assert fingerprint(project) == before

    # The real backup: the plan lists what the run created; the restore deletes exactly that.
    rows = dump(project)
    restored = project.manage(
        "rebuild_contenttypes", "--restore", str(valid), "--noinput", "--backup-dir", str(folder)
    )
    assert restored.code == 0, str(restored)
    assert (
        "       delete what the run created: 1 content type, 4 permissions\n"
        "         content types: shop.order\n"
    ) in restored.out, str(restored)
    after = dump(project)
    assert group_ids(project) == (group_ct, group_perms)
    gone = {t: [r for r in rows[t] if r not in after[t]] for t in rows}
    assert {t: len(v) for t, v in gone.items() if v} == {
        "auth_permission": 4,
        "django_content_type": 1,
    }
    assert [r[1:] for r in gone["django_content_type"]] == [("shop", "order")]


def test_a_database_changed_since_the_backup_is_refused(project: Project, tmp_path: Path) -> None:
    """A permission that existed before the run and now belongs to a content type the run
    created: the backup's 'before' no longer describes the database; the restore refuses."""
    project.migrate()
    project.shell(SETUP)
    folder = tmp_path / "backups"
    assert (
        project.manage("rebuild_contenttypes", "--noinput", "--backup-dir", str(folder)).code == 0
    )
    valid = only_backup(folder)
    [(order,)] = project.db.query("SELECT id FROM django_content_type WHERE model = 'order'")
    project.db.query(
        "UPDATE auth_permission SET content_type_id = %s WHERE codename = 'add_group'", [order]
    )
    before = fingerprint(project)
    result = project.manage("rebuild_contenttypes", "--restore", str(valid), "--noinput")
    assert_refused(result, "contenttypes.json", "before.permissions")
    assert "does not match the database: permission id" in result.err
    assert fingerprint(project) == before
