"""Content types and permissions made right, without losing a permission.

Django's ``remove_stale_contenttypes`` deletes a stale content type with everything that points
at it: its permissions, every user's and group's assignment of them, the admin log. This module
keeps those rows instead. It works on sets, so the number of queries does not grow with the
number of models:

* :func:`analyse` reads the content types, the permissions and the references to both (a
  fixed number of queries) and compares them with the installed models;
* :func:`apply_remaps` moves stale content types to their successors (keeping the old row's
  id and relabelling it when the successor has no row yet, else moving every reference to the
  successor's row and deleting the emptied old row);
* :func:`create_missing` creates what ``post_migrate`` would create, in bulk;
* :func:`remove_stale` deletes stale rows and what references them (only when asked);
* :func:`remap` is the one-pair entry point other procedures call inside their transaction.

Permissions are matched by codename; the default ones (``add_order``) follow the model's new
name (``add_purchase``). When the successor already has the same permission (its "twin"), the
old permission's user and group assignments move to the twin (without duplicates) and the old
permission, now unused, is deleted: nobody loses a permission.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Rows per statement for IN lists and CASE expressions (SQLite allows 32766 parameters).
BATCH = 500
DEFAULT_ACTIONS = ("add", "change", "delete", "view")


class RemapError(ValueError):
    """A --remap pair that cannot be applied; the message names it and the next step."""


# --- what the project says -------------------------------------------------------------------
@dataclass(frozen=True)
class ExpectedModel:
    label: str  # 'app_label.model', lower case
    permissions: tuple[tuple[str, str], ...]  # (codename, name)
    actions: tuple[str, ...]  # default_permissions
    verbose_name: str

    @property
    def app_label(self) -> str:
        return self.label.split(".", 1)[0]

    @property
    def model(self) -> str:
        return self.label.split(".", 1)[1]


def split_label(label: str) -> tuple[str, str]:
    app_label, _, model = label.partition(".")
    return app_label, model


def _auth_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("django.contrib.auth")


def installed_models(using: str) -> tuple[dict[str, ExpectedModel], set[str]]:
    """(models whose content type belongs in USING, every installed model's label).

    The first is what post_migrate creates: every model of every app (proxies included,
    swapped-out and auto-created ones excluded) that the routers allow on USING.
    """
    from django.apps import apps
    from django.db import router

    expected: dict[str, ExpectedModel] = {}
    known: set[str] = set()
    for app_config in apps.get_app_configs():
        for model in app_config.get_models():
            opts = model._meta
            known.add(opts.label_lower)
            if not router.allow_migrate_model(using, model):
                continue
            actions = tuple(opts.default_permissions)
            perms = [(f"{a}_{opts.model_name}", f"Can {a} {opts.verbose_name_raw}") for a in actions]
            perms.extend((str(c), str(n)) for c, n in opts.permissions)
            expected[opts.label_lower] = ExpectedModel(
                opts.label_lower, tuple(perms), actions, str(opts.verbose_name_raw)
            )
    return expected, known


def swapped_models() -> dict[str, str]:
    """{'auth.user': 'accounts.user'} for every installed model that a setting swaps out."""
    from django.apps import apps

    out: dict[str, str] = {}
    for model in apps.get_models(include_swapped=True):
        target = model._meta.swapped
        if target:
            out[model._meta.label_lower] = str(target).lower()
    return out


# --- what references content types and permissions ------------------------------------------
@dataclass(frozen=True)
class Reference:
    """A column that points at django_content_type or auth_permission.

    Found on installed models (their concrete ForeignKeys) and in the database catalog (tables
    no model describes any more, like the swapped-out auth_user_user_permissions). ``link``
    tables (many-to-many rows) are merged without duplicates; other rows are updated.
    """

    table: str
    column: str
    pk: str | None
    others: tuple[str, ...]  # the other columns, primary key excluded
    link: bool
    name: str  # 'admin.logentry.content_type', or 'table.column' without a model

    @property
    def columns(self) -> tuple[str, ...]:
        return ((self.pk,) if self.pk else ()) + (self.column, *self.others)


def references_to(target: Any, using: str) -> list[Reference]:
    """Every column pointing at TARGET's table in USING: installed models' ForeignKeys and the
    catalog's foreign key constraints (a fixed number of queries)."""
    from django.apps import apps
    from django.db import connections, router

    from authtools.db import catalog

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    found: dict[tuple[str, str], Reference] = {}
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.swapped or opts.proxy or opts.db_table not in tables:
            continue
        if not router.allow_migrate_model(using, model):
            continue
        for f in opts.concrete_fields:
            if f.is_relation and f.many_to_one and f.related_model is target:
                others = tuple(
                    c.column for c in opts.concrete_fields if not c.primary_key and c is not f
                )
                found[(opts.db_table, f.column)] = Reference(
                    opts.db_table,
                    f.column,
                    opts.pk.column,
                    others,
                    bool(opts.auto_created),
                    f"{opts.label_lower}.{f.name}",
                )
    raw = [
        fk
        for fk in catalog.foreign_keys(connection, referencing=target._meta.db_table)
        if (fk.table, fk.column) not in found and fk.table != target._meta.db_table
    ]
    if raw:
        types = catalog.column_types(connection, {fk.table for fk in raw})
        for fk in raw:
            key = catalog.primary_key(connection, fk.table)
            pk = key[0] if key else None
            others = tuple(
                sorted(c for (t, c) in types if t == fk.table and c not in (pk, fk.column))
            )
            found[(fk.table, fk.column)] = Reference(
                fk.table, fk.column, pk, others, len(others) == 1, f"{fk.table}.{fk.column}"
            )
    return sorted(found.values(), key=lambda r: (r.table, r.column))


def contenttype_references(using: str) -> list[Reference]:
    """Columns pointing at django_content_type, except auth_permission's (moved by codename)."""
    from django.contrib.contenttypes.models import ContentType

    return [
        r
        for r in references_to(ContentType, using)
        if not (_auth_installed() and r.table == _permission_table())
    ]


def permission_references(using: str) -> list[Reference]:
    if not _auth_installed():
        return []
    from django.contrib.auth.models import Permission

    return references_to(Permission, using)


def _permission_table() -> str:
    from django.contrib.auth.models import Permission

    return str(Permission._meta.db_table)


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _q(using: str, name: str) -> str:
    from django.db import connections

    return str(connections[using].ops.quote_name(name))


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _execute(using: str, sql: str, params: Sequence[Any] = ()) -> Any:
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(sql, list(params))
        if cursor.description:
            return [tuple(row) for row in cursor.fetchall()]
        return cursor.rowcount


def count_by(ref: Reference, using: str, ids: Iterable[int]) -> Counter[int]:
    """How many rows of REF point at each of IDS (one query per batch)."""
    counts: Counter[int] = Counter()
    col, table = _q(using, ref.column), _q(using, ref.table)
    for chunk in _batches(sorted(set(ids))):
        rows = _execute(
            using,
            f"SELECT {col}, COUNT(*) FROM {table} WHERE {col} IN ({_marks(len(chunk))}) "
            f"GROUP BY {col}",
            chunk,
        )
        counts.update({key: n for key, n in rows})
    return counts


def rows_of(using: str, table: str, columns: Sequence[str], where: str, ids: Sequence[Any]) -> list[list[Any]]:
    """SELECT COLUMNS FROM TABLE WHERE WHERE IN (IDS), batched."""
    cols = ", ".join(_q(using, c) for c in columns)
    out: list[list[Any]] = []
    for chunk in _batches(sorted(set(ids))):
        out.extend(
            list(row)
            for row in _execute(
                using,
                f"SELECT {cols} FROM {_q(using, table)} WHERE {_q(using, where)} "
                f"IN ({_marks(len(chunk))})",
                chunk,
            )
        )
    return out


def delete_where(using: str, table: str, column: str, ids: Iterable[Any]) -> int:
    deleted = 0
    for chunk in _batches(sorted(set(ids))):
        deleted += _execute(
            using,
            f"DELETE FROM {_q(using, table)} WHERE {_q(using, column)} IN ({_marks(len(chunk))})",
            chunk,
        )
    return deleted


def case_update(using: str, table: str, column: str, mapping: dict[Any, Any], key: str | None = None) -> int:
    """UPDATE TABLE SET COLUMN = CASE KEY WHEN k THEN v ... END WHERE KEY IN (ks); batched.

    KEY defaults to COLUMN (repoint references); pass the primary key to set per-row values.
    """
    key = key or column
    changed = 0
    for chunk in _batches(sorted(mapping.items())):
        whens = " ".join(f"WHEN %s THEN %s" for _ in chunk)
        params: list[Any] = [x for pair in chunk for x in pair]
        params.extend(k for k, _ in chunk)
        changed += _execute(
            using,
            f"UPDATE {_q(using, table)} SET {_q(using, column)} = CASE {_q(using, key)} {whens} "
            f"END WHERE {_q(using, key)} IN ({_marks(len(chunk))})",
            params,
        )
    return changed


def move_references(ref: Reference, using: str, mapping: dict[int, int]) -> Counter[int]:
    """Point REF's rows at mapping[old] instead of old; how many rows each old id had.

    Link tables lose the rows that would duplicate one the new id already has (the user keeps
    the permission through the twin); every other row is updated.
    """
    if not mapping:
        return Counter()
    counts = count_by(ref, using, mapping)
    if ref.link and ref.pk:
        rows = rows_of(
            using, ref.table, [ref.pk, ref.column, *ref.others], ref.column,
            [*mapping, *mapping.values()],
        )
        present = {(row[1], tuple(row[2:])) for row in rows if row[1] not in mapping}
        duplicates = []
        for pk, value, *others in rows:
            if value in mapping:
                target = (mapping[value], tuple(others))
                if target in present:
                    duplicates.append(pk)
                present.add(target)
        delete_where(using, ref.table, ref.pk, duplicates)
    case_update(using, ref.table, ref.column, mapping)
    return counts


# --- the database as it is -------------------------------------------------------------------
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
    if _auth_installed():
        from django.contrib.auth.models import Permission

        perms = [
            PermissionRow(*row)
            for row in Permission.objects.using(using).values_list(
                "pk", "content_type_id", "codename", "name"
            )
        ]
    return Snapshot(cts, perms)


# --- pairing stale rows with successors ------------------------------------------------------
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


def translate_codename(codename: str, old_model: str, new_model: str, actions: Sequence[str]) -> str:
    """'add_order' -> 'add_purchase' for the default permissions; custom codenames unchanged."""
    for action in actions:
        if codename == f"{action}_{old_model}":
            return f"{action}_{new_model}"
    return codename


# --- applying remaps -------------------------------------------------------------------------
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


def _model_actions(label: str) -> tuple[str, ...]:
    from django.apps import apps

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return DEFAULT_ACTIONS
    return tuple(model._meta.default_permissions)


def _verbose_name(label: str) -> str | None:
    from django.apps import apps

    try:
        return str(apps.get_model(label)._meta.verbose_name_raw)
    except (LookupError, ValueError):
        return None


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
        rows = []
        for old, new in relabel:
            app_label, model = split_label(new)
            rows.append(ContentType(pk=ids[old], app_label=app_label, model=model))
            result[old].relabelled = 1
        ContentType.objects.using(using).bulk_update(rows, ["app_label", "model"], batch_size=BATCH)
    # 2. Permissions: rename default codenames, move to the successor or merge with a twin.
    target_ct = {ids[old]: ids.get(new, ids[old]) for old, new in pairs}
    label_of = {ids[old]: (old, new) for old, new in pairs}
    perms_of = snapshot.permissions_of()
    twins: dict[int, int] = {}
    twin_owner: dict[int, str] = {}
    moved = []
    if _auth_installed():
        from django.contrib.auth.models import Permission

        for old_id, (old, new) in label_of.items():
            target = target_ct[old_id]
            actions = _model_actions(new)
            verbose = _verbose_name(new)
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
                    moved.append(
                        Permission(pk=p.id, content_type_id=target, codename=codename, name=name)
                    )
                    result[old].permissions += 1
        for ref in permission_references(using):
            for perm_id, n in move_references(ref, using, twins).items():
                result[twin_owner[perm_id]].assignments += n
        delete_where(using, _permission_table(), "id", twins)
        if moved:
            Permission.objects.using(using).bulk_update(
                moved, ["content_type_id", "codename", "name"], batch_size=BATCH
            )
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
