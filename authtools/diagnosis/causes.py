"""One root cause per problem: link each finding that exists because of another to it.

The probes look at one thing each, so one mistake shows up several times: an unset or mistyped
AUTH_USER_MODEL makes the database look as if it belonged to another user model (E501, E502,
E405 ...), a project switched mid-way makes migrate refuse (E403) and leaves foreign keys and
the content type on the old model (E502, W602). ``link`` marks each such consequence with
``because`` (the id of its cause) and takes away its own fix when the cause's fix is the one to
run (a consequence never carries a fix that contradicts its cause's). Pure data in, data out.
"""

from __future__ import annotations

import dataclasses
import re

from authtools.diagnosis.report import Finding

# Setting errors: with them every database and migration finding reads the wrong user model.
SETTING_ROOTS = tuple(f"authtools.E00{n}" for n in range(1, 6))
FOLLOWS_SETTING = ("migrations", "database", "contenttypes", "related-objects")

# Which finding is the cause when several print the same fix: Django's own error first.
PREFERRED_ROOTS = (
    "authtools.E403",
    "authtools.E401",
    "authtools.E404",
    "authtools.E405",
    "authtools.E402",
    "authtools.E501",
    "authtools.E502",
)
# What a swap repairs besides the history: the user table, its keys, its content type.
SWAP_REPAIRS = tuple(f"authtools.{n}" for n in ("E501", "E502", "E503", "W602", "W603"))
# What a migration reset (or a migrate) repairs besides the history: the user app's migrations
# applied, its table created. (The remap of the swapped-out user model's content type, W602,
# repairs the user model's content type and permissions, W603: rebuild_contenttypes relabels
# the old row and creates what is missing in one run.)
MIGRATE_REPAIRS = ("authtools.E402", "authtools.E501", "authtools.W603")


def link(findings: list[Finding], user_app: str | None = None) -> list[Finding]:
    """The findings with ``because`` set on every consequence (see the module doc)."""
    out = list(findings)
    setting = next((f for f in out if f.id in SETTING_ROOTS), None)
    if setting is not None:
        return _after_setting(out, setting)
    out = _pending_after_model_errors(out, user_app)
    out = _same_fix(out)
    out = _repaired_by(out, "swap_user_model", SWAP_REPAIRS)
    out = _repaired_by(out, "reset_user_migrations", MIGRATE_REPAIRS)
    out = _repaired_by(out, "manage.py migrate", ("authtools.E501", "authtools.W603"))
    out = _repaired_by(out, "rebuild_contenttypes --remap", ("authtools.W603",), "authtools.W602")
    return out


def _follow(f: Finding, cause: Finding, hint: str | None = None) -> Finding:
    return dataclasses.replace(
        f, because=cause.id, fix_command=None, hint=f.hint if hint is None else hint
    )


def _after_setting(findings: list[Finding], setting: Finding) -> list[Finding]:
    """Every database and migration finding is a consequence of the setting error."""
    out: list[Finding] = []
    built_on: str | None = None
    for f in findings:
        if f is setting or f.cause not in FOLLOWS_SETTING:
            out.append(f)
            continue
        if f.id == "authtools.E502" and f.fix_command:
            built_on = built_on or f.fix_command.split("--from ", 1)[-1].split()[0]
        out.append(
            _follow(
                f,
                setting,
                f"This follows from {setting.id}: the database is read against the user model "
                "Django resolves now, not the one the project means. Fix the setting first, "
                "then run diagnose_user_model again.",
            )
        )
    if setting.id == "authtools.E001" and built_on:
        out = [_built_on(f, built_on) if f is setting else f for f in out]
    return out


def _built_on(setting: Finding, label: str) -> Finding:
    """E001 when the database was built on LABEL: setting it is the whole fix."""
    wanted = re.search(r"AUTH_USER_MODEL = '([\w.]+)'", setting.hint)
    if wanted is None or wanted.group(1).lower() != label.lower():
        return setting
    head = setting.hint.split(" before the first migrate", 1)[0]
    return dataclasses.replace(
        setting,
        hint=f"{head}: the database was built on {label} (its foreign keys reference its "
        "table), so the setting is the whole fix; do not run swap_user_model.",
    )


def _pending_after_model_errors(findings: list[Finding], user_app: str | None) -> list[Finding]:
    """W406 for the user app next to a broken user model: makemigrations would record the
    breakage, so the pending change follows from the model error and has no fix of its own."""
    model_error = next((f for f in findings if f.cause == "model" and f.severity == "error"), None)
    if model_error is None:
        return findings
    out = []
    for f in findings:
        if f.id == "authtools.W406" and user_app and f"App {user_app!r}" in f.message:
            f = _follow(
                f,
                model_error,
                f"Fix {model_error.id} first, then write the migration (makemigrations "
                f"{user_app}): running makemigrations now would record the model as it is broken.",
            )
        out.append(f)
    return out


def _rank(f: Finding) -> int:
    return PREFERRED_ROOTS.index(f.id) if f.id in PREFERRED_ROOTS else len(PREFERRED_ROOTS)


def preferred(findings: list[Finding]) -> Finding:
    """The finding of FINDINGS to show as their cause (PREFERRED_ROOTS, then report order)."""
    return min(findings, key=_rank)


def _same_fix(findings: list[Finding]) -> list[Finding]:
    """Findings that print the same fix: the preferred one is the cause of the others."""
    by_fix: dict[str, list[Finding]] = {}
    for f in findings:
        if f.fix_command and f.because is None:
            by_fix.setdefault(f.fix_command, []).append(f)
    replace: dict[int, Finding] = {}
    for group in by_fix.values():
        if len(group) < 2:
            continue
        root = min(group, key=_rank)
        for f in group:
            if f is not root:
                replace[id(f)] = _follow(f, root)
    return [replace.get(id(f), f) for f in findings]


def _repaired_by(
    findings: list[Finding], command: str, ids: tuple[str, ...], root_id: str | None = None
) -> list[Finding]:
    """Findings (IDS) that the root running COMMAND (a ROOT_ID, when given) repairs too: they
    follow from it."""
    root = min(
        (
            f
            for f in findings
            if f.because is None and command in (f.fix_command or "") and root_id in (None, f.id)
        ),
        key=_rank,
        default=None,
    )
    if root is None:
        return findings
    return [
        _follow(f, root) if f.id in ids and f is not root and f.because is None else f
        for f in findings
    ]
