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
            perms = [
                (f"{a}_{opts.model_name}", f"Can {a} {opts.verbose_name_raw}") for a in actions
            ]
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
                    str(c.column) for c in opts.concrete_fields if not c.primary_key and c is not f
                )
                found[(opts.db_table, str(f.column))] = Reference(
                    opts.db_table,
                    str(f.column),
                    str(opts.pk.column),
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
                sorted(str(c) for (t, c) in types if t == fk.table and c not in (pk, fk.column))
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


def rows_of(
    using: str, table: str, columns: Sequence[str], where: str, ids: Sequence[Any]
) -> list[list[Any]]:
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


def case_update(
    using: str, table: str, column: str, mapping: dict[Any, Any], key: str | None = None
) -> int:
    """UPDATE TABLE SET COLUMN = CASE KEY WHEN k THEN v ... END WHERE KEY IN (ks); batched.

    KEY defaults to COLUMN (repoint references); pass the primary key to set per-row values.
    """
    key = key or column
    changed = 0
    for chunk in _batches(sorted(mapping.items())):
        whens = " ".join("WHEN %s THEN %s" for _ in chunk)
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
            using,
            ref.table,
            [ref.pk, ref.column, *ref.others],
            ref.column,
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


def translate_codename(
    codename: str, old_model: str, new_model: str, actions: Sequence[str]
) -> str:
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


# --- creating what post_migrate would create -------------------------------------------------
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


def create_missing(using: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Create every missing content type and permission in bulk (four queries, plus batches)."""
    from django.contrib.contenttypes.models import ContentType

    expected, _ = installed_models(using)
    snapshot = read_snapshot(using)
    labels = set(snapshot.by_label)
    have = {
        (snapshot.contenttypes[p.content_type_id], p.codename)
        for p in snapshot.permissions
        if p.content_type_id in snapshot.contenttypes
    }
    cts, perms = missing_rows(labels, have, expected, using)
    if cts:
        ContentType.objects.using(using).bulk_create(
            [ContentType(app_label=a, model=m) for a, m in map(split_label, cts)],
            batch_size=BATCH,
        )
    if perms:
        from django.contrib.auth.models import Permission

        ids = snapshot.by_label
        if cts:
            ids = {
                f"{a}.{m}": pk
                for pk, a, m in ContentType.objects.using(using).values_list(
                    "pk", "app_label", "model"
                )
            }
        Permission.objects.using(using).bulk_create(
            [Permission(content_type_id=ids[label], codename=c, name=n) for label, c, n in perms],
            batch_size=BATCH,
        )
    return cts, perms


# --- removing stale rows ---------------------------------------------------------------------
def _collector(using: str, ids: Sequence[int]) -> Any:
    """Django's deletion collector over the stale rows, every row loaded (no fast deletes), so
    that the plan can count and the backup can keep what would go."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.deletion import Collector

    class LoadingCollector(Collector):
        def can_fast_delete(self, *args: Any, **kwargs: Any) -> bool:
            return False

    collector = LoadingCollector(using=using)
    collector.collect(list(ContentType.objects.using(using).filter(pk__in=ids)))
    return collector


def cascade_counts(using: str, ids: Sequence[int]) -> dict[str, int]:
    """{'auth.Permission': 4, ...}: what deleting the content types IDS deletes, cascades
    included (as remove_stale_contenttypes lists them); tables without a model too."""
    if not ids:
        return {}
    collector = _collector(using, ids)
    counts = {model._meta.label: len(objs) for model, objs in collector.data.items()}
    for (f, value), batches in collector.field_updates.items():
        shown = "NULL" if value is None else repr(value)
        key = f"{f.model._meta.label}.{f.name} set to {shown}"
        counts[key] = counts.get(key, 0) + sum(len(batch) for batch in batches)
    model_tables = _model_tables()
    for ref in contenttype_references(using):
        if ref.table not in model_tables:
            n = sum(count_by(ref, using, ids).values())
            if n:
                counts[ref.name] = n
    perm_ids = (
        [pk for (pk,) in rows_of(using, _permission_table(), ["id"], "content_type_id", ids)]
        if _auth_installed()
        else []
    )
    for ref in permission_references(using):
        if ref.table not in model_tables and perm_ids:
            n = sum(count_by(ref, using, perm_ids).values())
            if n:
                counts[ref.name] = n
    return dict(sorted(counts.items()))


def _model_tables() -> set[str]:
    from django.apps import apps

    return {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if not m._meta.swapped and not m._meta.proxy
    }


def remove_stale(using: str, labels: Sequence[str]) -> dict[str, int]:
    """Delete the content types LABELS and everything that references them; counts by model."""
    from django.contrib.contenttypes.models import ContentType

    ids = [pk for label, pk in read_snapshot(using).by_label.items() if label in labels]
    if not ids:
        return {}
    counts: dict[str, int] = {}
    model_tables = _model_tables()
    if _auth_installed():
        perm_ids = [
            pk for (pk,) in rows_of(using, _permission_table(), ["id"], "content_type_id", ids)
        ]
        for ref in permission_references(using):
            if ref.table not in model_tables and perm_ids:
                counts[ref.name] = delete_where(using, ref.table, ref.column, perm_ids)
    for ref in contenttype_references(using):
        if ref.table not in model_tables:
            counts[ref.name] = delete_where(using, ref.table, ref.column, ids)
    _, per_model = ContentType.objects.using(using).filter(pk__in=ids).delete()
    counts.update(per_model)
    return {k: v for k, v in sorted(counts.items()) if v}


# --- the analysis and the plan ---------------------------------------------------------------
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
    labels = set(snapshot.by_label)
    have = {
        (snapshot.contenttypes[p.content_type_id], p.codename)
        for p in snapshot.permissions
        if p.content_type_id in snapshot.contenttypes
    }
    for r in remaps:
        labels.discard(r.old)
        labels.add(r.new)
        actions = _model_actions(r.new)
        old_model, new_model = split_label(r.old)[1], split_label(r.new)[1]
        for label, codename in list(have):
            if label == r.old:
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


def build_plan(using: str, explicit: Sequence[str] = (), remove_stale: bool = False) -> Any:
    """The Plan of rebuild_contenttypes: remap, create, remove (each step only when needed)."""
    from authtools.procedures.plan import Plan, Step

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


def _clear_cache() -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def _apply_remaps_step(runtime: Any, a: Analysis) -> None:
    counts = apply_remaps(runtime.database, [(r.old, r.new) for r in a.remaps])
    runtime.state["remapped"] = {f"{r.old} -> {r.new}": counts[r.old].as_dict() for r in a.remaps}
    _clear_cache()


def _create_step(runtime: Any) -> None:
    cts, perms = create_missing(runtime.database)
    runtime.state["created"] = {"contenttypes": len(cts), "permissions": len(perms)}
    _clear_cache()


def _remove_step(runtime: Any, a: Analysis) -> None:
    runtime.state["removed"] = remove_stale(runtime.database, a.remove)
    _clear_cache()


# --- verification ----------------------------------------------------------------------------
def verify(using: str, a: Analysis) -> list[str]:
    """What is still wrong once the plan ran (empty when all is well)."""
    from django.contrib.contenttypes.models import ContentType

    _clear_cache()
    failures = []
    expected, _ = installed_models(using)
    snapshot = read_snapshot(using)
    labels = set(snapshot.by_label)
    have = {
        (snapshot.contenttypes[p.content_type_id], p.codename)
        for p in snapshot.permissions
        if p.content_type_id in snapshot.contenttypes
    }
    cts, perms = missing_rows(labels, have, expected, using)
    if cts:
        failures.append(f"{plural(len(cts), 'content type')} still missing ({', '.join(cts[:5])})")
    if perms:
        failures.append(f"{plural(len(perms), 'permission')} still missing")
    left = sorted(
        {r.old for r in a.remaps if r.old not in {x.new for x in a.remaps}} | set(a.remove)
    )
    left = [label for label in left if label in labels]
    if left:
        failures.append(f"stale content types still present: {', '.join(left)}")
    ct_table, ct_pk = ContentType._meta.db_table, ContentType._meta.pk.column
    checks = [(r, ct_table, ct_pk) for r in contenttype_references(using)]
    if _auth_installed():
        checks += [(r, _permission_table(), "id") for r in permission_references(using)]
        checks.append(
            (
                Reference(
                    _permission_table(), "content_type_id", "id", (), False, "auth.permission"
                ),
                ct_table,
                ct_pk,
            )
        )
    for ref, table, pk in checks:
        col = _q(using, ref.column)
        ((n,),) = _execute(
            using,
            f"SELECT COUNT(*) FROM {_q(using, ref.table)} WHERE {col} IS NOT NULL AND {col} NOT IN "
            f"(SELECT {_q(using, pk)} FROM {_q(using, table)})",
        )
        if n:
            failures.append(f"{n} rows of {ref.name} point at a {table} row that does not exist")
    return failures


# --- backup and restore ----------------------------------------------------------------------
BACKUP_DOCUMENT = "contenttypes"


def _section(
    using: str, table: str, pk: str, columns: Sequence[str], scope_column: str, scope: Sequence[Any]
) -> dict[str, Any]:
    columns = [pk, *(c for c in columns if c != pk)]
    return {
        "table": table,
        "pk": pk,
        "columns": columns,
        "scope_column": scope_column,
        "scope": sorted(set(scope)),
        "rows": rows_of(using, table, columns, scope_column, scope) if scope else [],
    }


def _model_columns(model: Any) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def backup_document(using: str, a: Analysis) -> dict[str, Any]:
    """The rows the plan may change, as they are now, each table with the scope it covers:
    restoring puts the scope back exactly (rows added to it deleted, rows changed or deleted
    written back)."""
    from django.contrib.contenttypes.models import ContentType

    ct_ids = a.involved_ids
    sections = [
        _section(
            using,
            ContentType._meta.db_table,
            ContentType._meta.pk.column,
            _model_columns(ContentType),
            ContentType._meta.pk.column,
            ct_ids,
        )
    ]
    covered = {ContentType._meta.db_table}
    if _auth_installed():
        from django.contrib.auth.models import Permission

        perms = _section(
            using,
            Permission._meta.db_table,
            "id",
            _model_columns(Permission),
            "content_type_id",
            ct_ids,
        )
        sections.append(perms)
        covered.add(Permission._meta.db_table)
        perm_ids = [row[0] for row in perms["rows"]]
        for ref in permission_references(using):
            if ref.pk:
                sections.append(
                    _section(using, ref.table, ref.pk, ref.columns, ref.column, perm_ids)
                )
                covered.add(ref.table)
    for ref in contenttype_references(using):
        if ref.pk:
            sections.append(_section(using, ref.table, ref.pk, ref.columns, ref.column, ct_ids))
            covered.add(ref.table)
    if a.remove:
        ids = a.snapshot.by_label
        collector = _collector(using, [ids[label] for label in a.remove])
        collector.sort()
        for model, objs in reversed(list(collector.data.items())):
            if model._meta.db_table not in covered and objs:
                sections.append(
                    _section(
                        using,
                        model._meta.db_table,
                        model._meta.pk.column,
                        _model_columns(model),
                        model._meta.pk.column,
                        [o.pk for o in objs],
                    )
                )
    return {
        "database": using,
        "created": {
            "contenttypes": a.missing_contenttypes,
            "permissions": [[label, codename] for label, codename, _ in a.missing_permissions],
        },
        "sections": sections,
    }


def write_backup(runtime: Any, a: Analysis) -> None:
    document = backup_document(runtime.database, a)
    runtime.backup_dir.write_json(BACKUP_DOCUMENT, document)
    runtime.state["backed_up"] = sum(len(s["rows"]) for s in document["sections"])


def restore_plan(using: str, backup: Any) -> Any:
    """A Plan that puts back the rows of a rebuild_contenttypes backup folder."""
    from authtools.procedures.plan import Plan, Step

    if not backup.has(BACKUP_DOCUMENT):
        raise RemapError(
            f"{str(backup.path)!r} holds no {BACKUP_DOCUMENT}.json: it is not a "
            "rebuild_contenttypes backup"
        )
    document = backup.read_json(BACKUP_DOCUMENT)
    plan = Plan("rebuild_contenttypes-restore", using)
    created = document["created"]
    details = [
        f"{s['table']}: {plural(len(s['rows']), 'row')} for {s['scope_column']} in "
        f"{plural(len(s['scope']), 'value')}"
        for s in document["sections"]
    ]
    if created["contenttypes"] or created["permissions"]:
        details.insert(
            0,
            "delete what the run created: "
            f"{plural(len(created['contenttypes']), 'content type')}, "
            f"{plural(len(created['permissions']), 'permission')}",
        )

    def apply(runtime: Any) -> None:
        runtime.state["restored"] = restore(runtime.database, document)
        _clear_cache()

    plan.add(Step("restore", "rows", f"Restore the rows saved in {backup.path}", apply, details))
    return plan


def restore(using: str, document: dict[str, Any]) -> dict[str, int]:
    """Put the backup's rows back exactly; counts per table. Run inside a transaction."""
    counts: Counter[str] = Counter()
    snapshot = read_snapshot(using)
    ids = snapshot.by_label
    created_cts = [ids[label] for label in document["created"]["contenttypes"] if label in ids]
    created_perms = [
        p.id
        for p in snapshot.permissions
        if [snapshot.contenttypes.get(p.content_type_id), p.codename]
        in document["created"]["permissions"]
        or p.content_type_id in created_cts
    ]
    # 1. What the run created (and anything since pointing at it).
    if created_perms:
        for ref in permission_references(using):
            counts[ref.table] += delete_where(using, ref.table, ref.column, created_perms)
        counts[_permission_table()] += delete_where(using, _permission_table(), "id", created_perms)
    if created_cts:
        for ref in contenttype_references(using):
            counts[ref.table] += delete_where(using, ref.table, ref.column, created_cts)
        counts["django_content_type"] += delete_where(
            using, "django_content_type", "id", created_cts
        )
    sections = document["sections"]
    # 2. Rows that entered a scope since the backup, children first.
    for s in reversed(sections):
        if not s["scope"]:
            continue
        kept = {row[0] for row in s["rows"]}
        now = rows_of(using, s["table"], [s["pk"]], s["scope_column"], s["scope"])
        extra = [row[0] for row in now if row[0] not in kept]
        counts[s["table"]] += delete_where(using, s["table"], s["pk"], extra)
    # 3. The saved rows, parents first: updated where they exist, inserted where they do not.
    for s in sections:
        if not s["rows"]:
            continue
        table, pk, columns = s["table"], s["pk"], s["columns"]
        existing = {row[0] for row in rows_of(using, table, [pk], pk, [r[0] for r in s["rows"]])}
        sets = ", ".join(f"{_q(using, c)} = %s" for c in columns[1:])
        inserts = []
        for row in s["rows"]:
            if row[0] in existing:
                if columns[1:]:
                    _execute(
                        using,
                        f"UPDATE {_q(using, table)} SET {sets} WHERE {_q(using, pk)} = %s",
                        [*row[1:], row[0]],
                    )
            else:
                inserts.append(row)
        if inserts:
            from django.db import connections

            cols = ", ".join(_q(using, c) for c in columns)
            with connections[using].cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {_q(using, table)} ({cols}) VALUES ({_marks(len(columns))})",
                    inserts,
                )
        counts[table] += len(s["rows"])
    _reset_sequences(using, [s["table"] for s in sections])
    return dict(sorted((k, v) for k, v in counts.items() if v))


def _reset_sequences(using: str, tables: Sequence[str]) -> None:
    """PostgreSQL: rows inserted with explicit ids leave the id sequence behind; move it on."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connections

    connection = connections[using]
    models = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.db_table in set(tables) and not m._meta.swapped
    ]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
