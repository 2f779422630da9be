"""A printed fix is a promise: plan each fix_command against the current state before it is shown.

The diagnosis (``authtools.diagnosis``) is read-only and knows nothing of the procedures; the
procedures build Plans from the diagnosis. This module sits above both: for every root finding
that names a command of this toolkit (or Django's migrate / makemigrations), it plans that
command the way the command itself would, without side effects (the procedures' planners,
Django's MigrationLoader), and

* keeps the fix when the plan has something to do, completed with what it needs to run as
  printed (``--database ALIAS`` when the alias is not the default one, ``--settings`` for the
  ``python -m authtools`` entry, ``--remap OLD=NEW`` when the successor is known);
* drops it when the command would refuse, fail or do nothing, and says why in the hint.

Only findings with a fix are planned, once per distinct command: a healthy project plans nothing.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from authtools.diagnosis.report import Finding, Report

MANAGE = ("python", "manage.py")
# Commands that take --database.
TAKES_DATABASE = ("swap_user_model", "rebuild_contenttypes", "reset_user_migrations", "migrate")


@dataclass(frozen=True)
class Verdict:
    """The outcome of planning one fix: the command to print (None: withheld) and why not."""

    command: str | None
    reason: str = ""


def check_fixes(
    report: Report,
    *,
    database: str = "default",
    use_db: bool = True,
    complete_boot: bool = True,
    settings_module: str | None = None,
) -> Report:
    """REPORT with every fix_command planned (see the module doc). ``settings_module`` is given
    by the ``python -m authtools`` entry: the fixes then name it with --settings."""
    cache: dict[str, Verdict] = {}
    findings: list[Finding] = []
    for f in report.findings:
        if not f.fix_command:
            findings.append(f)
            continue
        if not complete_boot and shlex.split(f.fix_command)[:2] == list(MANAGE):
            verdict = Verdict(
                None,
                "manage.py cannot start until the errors above are fixed, so no manage.py "
                "command can run yet",
            )
        else:
            # (each W601 is planned for its own stale content type)
            key = f"{f.id}:{f.message}" if f.id == "authtools.W601" else f.fix_command
            if key not in cache:
                cache[key] = plan_fix(f, database, use_db)
            verdict = cache[key]
        findings.append(_apply(f, verdict, database, settings_module))
    return dataclasses.replace(report, findings=findings)


def _apply(f: Finding, verdict: Verdict, database: str, settings_module: str | None) -> Finding:
    if verdict.command is None:
        hint = f.hint.rstrip()
        hint += ("" if hint.endswith(".") else ".") + f" No fix is printed: {verdict.reason}."
        return dataclasses.replace(f, fix_command=None, hint=hint)
    command = verdict.command
    words = shlex.split(command)
    name = words[2] if words[:2] == list(MANAGE) and len(words) > 2 else None
    if name in TAKES_DATABASE and database != "default" and "--database" not in words:
        command += f" --database {shlex.quote(database)}"
    if name and settings_module and "--settings" not in words:
        command += f" --settings {shlex.quote(settings_module)}"
    return dataclasses.replace(f, fix_command=command)


def _same_withheld(before: list[Finding], after: list[Finding]) -> list[Finding]:
    """Findings whose same fix was withheld are one problem: the preferred one (it says why)
    is the cause of the others."""
    from authtools.diagnosis.causes import preferred

    groups: dict[str, list[int]] = {}
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if b.fix_command and not a.fix_command:
            groups.setdefault(b.fix_command, []).append(i)
    out = list(after)
    for indexes in groups.values():
        root = preferred([after[i] for i in indexes])
        for i in indexes:
            if after[i] is not root:
                out[i] = dataclasses.replace(after[i], because=root.id)
    return out


def plan_fix(f: Finding, database: str, use_db: bool) -> Verdict:
    """Plan F's fix_command against the current state; never changes anything."""
    command = f.fix_command or ""
    words = shlex.split(command)
    if words[:2] != list(MANAGE) or len(words) < 3:
        return Verdict(command)
    name, args = words[2], words[3:]
    planner = {
        "swap_user_model": _swap,
        "rebuild_contenttypes": _rebuild,
        "reset_user_migrations": _reset,
        "migrate": _migrate,
        "makemigrations": _makemigrations,
    }.get(name)
    if planner is None or not use_db:
        return Verdict(command)  # --no-db: nothing to plan against (documented)
    return planner(f, command, args, database)


# --- one planner per command ---------------------------------------------------------------------


def _why(exc: BaseException) -> str:
    """A refusal's message, without its closing full stop (it goes in parentheses)."""
    return str(exc).rstrip(".")


def _option(args: list[str], name: str) -> str | None:
    for i, word in enumerate(args):
        if word == name and i + 1 < len(args):
            return args[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _swap(f: Finding, command: str, args: list[str], database: str) -> Verdict:
    from authtools.procedures import swap

    old = _option(args, "--from")
    try:
        swap.preflight(database, old)
    except swap.SwapRefused as exc:
        return Verdict(None, f"`{command}` would refuse in this state ({str(exc).rstrip('.')})")
    return Verdict(command)


def _rebuild(f: Finding, command: str, args: list[str], database: str) -> Verdict:
    from authtools.procedures import contenttypes

    remaps = [args[i + 1] for i, w in enumerate(args[:-1]) if w == "--remap"]
    try:
        plan = contenttypes.build_plan(database, remaps, "--remove-stale" in args)
    except contenttypes.RemapError as exc:
        return Verdict(None, f"`{command}` would refuse ({str(exc).rstrip('.')})")
    stale = _stale_label(f)
    if stale is not None:
        return _stale_fix(command, plan.data["analysis"], stale, database)
    if plan.empty:
        return Verdict(None, f"`{command}` would find nothing to do")
    return Verdict(command)


def _stale_label(f: Finding) -> str | None:
    """'app.model' of the stale content type a W601 is about."""
    if f.id != "authtools.W601":
        return None
    match = re.search(r"The content type '(\w+) \| (\w+)'", f.message)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _stale_fix(command: str, analysis: Any, stale: str, database: str) -> Verdict:
    """W601: the remap that moves this stale content type, when its successor is known."""
    from authtools.procedures import contenttypes

    if any(r.old == stale for r in analysis.remaps):
        return Verdict(command)  # the command pairs it by itself
    taken = {r.new for r in analysis.remaps}
    successor, unknown = stale_successor(stale, taken)
    if successor is not None:
        remap = f"{stale}={successor}"
        try:
            plan = contenttypes.build_plan(database, [remap])
        except contenttypes.RemapError as exc:
            return Verdict(None, f"its successor {successor!r} cannot take it ({_why(exc)})")
        if not plan.empty:
            return Verdict(f"python manage.py rebuild_contenttypes --remap {remap}")
    return Verdict(
        None,
        f"no successor of {stale!r} is known ({unknown}), and `python manage.py "
        f"rebuild_contenttypes` alone would leave it; name it: rebuild_contenttypes --remap "
        f"{stale}=APP_LABEL.MODEL (--remove-stale deletes it with its assignments)",
    )


def stale_successor(stale: str, taken: Collection[str] = ()) -> tuple[str | None, str]:
    """(the model that replaced the stale content type STALE ('app.model'), None) when the
    migrations of its app say which: a RenameModel chain from it to an installed model, or the
    one model of the app, new since the old one was deleted, with the fields the migrations
    gave the old one (a model deleted and created again under another name). Else (None, why
    it is not known)."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    app, model = stale.split(".", 1)
    try:
        config = apps.get_app_config(app)
    except LookupError:
        return None, f"the app {app!r} is not installed"
    try:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        if app not in loader.migrated_apps:
            return None, f"{app!r} has no migrations that tell"
        plan = [key for key in loader.graph.forwards_plan(_last(loader, app)) if key[0] == app]
        renamed = _renamed(loader, plan, model)
        fields, new = _fields_before_deletion(loader, plan, app, model)
    except Exception as exc:  # NodeNotFoundError, a migration that fails to import
        return None, f"the migrations of {app!r} cannot be read: {type(exc).__name__}"
    if renamed != model and renamed in config.models:
        label = config.models[renamed]._meta.label_lower
        if label not in taken:
            return label, ""
    if renamed != model:
        return None, f"its RenameModel leads to {app}.{renamed}, which is not a free model"
    if fields is None:
        return None, f"no migration of {app!r} creates or renames it"
    matches = [
        m._meta.label_lower
        for m in config.get_models()
        if m._meta.model_name in new
        and m._meta.label_lower not in taken
        and _field_signature(m) == fields
    ]
    if len(matches) == 1:
        return matches[0], ""
    if matches:
        return None, f"{' and '.join(matches)} all have its fields"
    return None, f"no RenameModel renames it and no new model of {app!r} has its fields"


def _last(loader: Any, app: str) -> tuple[str, str]:
    """The app's last migration (the leaf that ends its plan; the last by name if several)."""
    return max(loader.graph.leaf_nodes(app))


def _renamed(loader: Any, plan: list[tuple[str, str]], model: str) -> str:
    """MODEL (lower case) after every RenameModel of PLAN, in order."""
    from django.db.migrations.operations import RenameModel

    for key in plan:
        for op in loader.graph.nodes[key].operations:
            if isinstance(op, RenameModel) and op.old_name_lower == model:
                model = op.new_name_lower
    return model


def _fields_before_deletion(
    loader: Any, plan: list[tuple[str, str]], app: str, model: str
) -> tuple[dict[str, str] | None, set[str]]:
    """({field: class path} of APP.MODEL as the migrations last stated it, or None when no
    migration state has it; the models that are new since: created by the migration that
    deletes it or a later one, else (never deleted by a migration) the installed models the
    migrations do not have yet)."""
    from django.apps import apps
    from django.db.migrations.operations import CreateModel, DeleteModel

    deleted_at = next(
        (
            i
            for i, key in enumerate(plan)
            for op in loader.graph.nodes[key].operations
            if isinstance(op, DeleteModel) and op.name_lower == model
        ),
        None,
    )
    if deleted_at is not None:
        state = loader.project_state(plan[deleted_at], at_end=False)
        new = {
            op.name_lower
            for key in plan[deleted_at:]
            for op in loader.graph.nodes[key].operations
            if isinstance(op, CreateModel)
        }
    else:
        state = loader.project_state(_last(loader, app))
        final = {name for label, name in loader.project_state().models if label == app}
        new = set(apps.get_app_config(app).models) - final
    found = state.models.get((app, model))
    if found is None:
        return None, new
    return {name: field.deconstruct()[1] for name, field in found.fields.items()}, new


def _field_signature(model: Any) -> dict[str, str]:
    """{field: class path} of an installed model, as a migration states it."""
    opts = model._meta
    return {f.name: f.deconstruct()[1] for f in [*opts.local_fields, *opts.local_many_to_many]}


def _reset(f: Finding, command: str, args: list[str], database: str) -> Verdict:
    from django.core.management.base import CommandError

    from authtools.procedures import reset

    label = next((a for a in args if not a.startswith("-")), None)
    try:
        plan = reset.build_plan(label, database, via_auth_user="--via-auth-user" in args)
    except (reset.ResetError, CommandError) as exc:
        return Verdict(None, f"`{command}` would refuse in this state ({str(exc).rstrip('.')})")
    if plan.empty:
        return Verdict(None, f"`{command}` would find nothing to do")
    return Verdict(command)


def _history_problem(database: str) -> str | None:
    """Why migrate / makemigrations would refuse to start: the history check Django runs."""
    from django.db import DatabaseError, connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory
    from django.db.migrations.loader import MigrationLoader

    connection = connections[database]
    try:
        loader = MigrationLoader(connection, ignore_no_migrations=True)
        loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        return f"InconsistentMigrationHistory: {exc}"
    except DatabaseError:
        return None
    except Exception as exc:  # NodeNotFoundError, a migration that fails to import
        return f"{type(exc).__name__}: {exc}"
    return None


def _migrate(f: Finding, command: str, args: list[str], database: str) -> Verdict:
    from django.db import connections
    from django.db.migrations.loader import MigrationLoader

    app = next((a for a in args if not a.startswith("-")), None)
    if app is not None:
        loader = MigrationLoader(connections[database], ignore_no_migrations=True, load=False)
        loader.load_disk()
        if app not in loader.migrated_apps:
            return Verdict(None, f"`{command}` would fail: app {app!r} has no migrations")
    problem = _history_problem(database)
    if problem:
        return Verdict(None, f"`{command}` would fail ({problem})")
    return Verdict(command)


def _makemigrations(f: Finding, command: str, args: list[str], database: str) -> Verdict:
    problem = _history_problem(database)
    if problem:
        return Verdict(None, f"`{command}` would fail ({problem})")
    return Verdict(command)


def diagnose(boot: Any = None, **options: Any) -> Report:
    """The diagnosis with its fixes planned, then its consequences linked to their causes: what
    every front end prints. Options as for ``run_diagnosis``; ``settings_module`` also goes
    into the fixes (--settings). Planning comes first so that a consequence is linked only to
    a cause whose fix really runs."""
    from authtools.diagnosis import causes, run_diagnosis, user_app
    from authtools.diagnosis.boot import booted_state
    from authtools.diagnosis.context import Context

    state = boot if boot is not None else booted_state()
    report = run_diagnosis(state, link=False, **options)
    planned = check_fixes(
        report,
        database=options.get("database", "default"),
        use_db=options.get("use_db", True),
        complete_boot=state.complete,
        settings_module=options.get("settings_module") if boot is not None else None,
    )
    ctx = Context.create(state, **{k: v for k, v in options.items() if k == "settings_module"})
    linked = causes.link(_same_withheld(report.findings, planned.findings), user_app(ctx))
    # A consequence needs no word on its own (withheld) fix: its cause's fix is the one to run.
    findings = [
        dataclasses.replace(f, hint=before.hint)
        if f.because is not None and f.hint == after.hint
        else f
        for f, after, before in zip(linked, planned.findings, report.findings, strict=True)
    ]
    return dataclasses.replace(planned, findings=findings)
