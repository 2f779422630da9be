"""The end state proved by Django's own checks and diagnose_user_model, run one after another in
one fresh process (the files and the database as they are now, none of this process's state)."""

from __future__ import annotations

import json
from typing import Any

from authtools.procedures import childproc
from authtools.procedures.plan import Runtime
from authtools.procedures.reset.commands import last_line
from authtools.procedures.reset.spec import OTHER_PROCEDURES, Inspection


def verify(ins: Inspection, rt: Runtime) -> list[str]:
    """Run Django's own checks and diagnose_user_model on the end state in a fresh process."""
    db = ["--database", ins.database]
    checks = [
        ("migrate --check", ["migrate", "--check", "--noinput", *db], "unapplied migrations"),
        (
            "makemigrations --check",
            ["makemigrations", "--check", "--dry-run", "--noinput"],
            "model changes without a migration",
        ),
        ("check", ["check", *db], "system check errors"),
    ]
    diagnose = ["diagnose_user_model", "--format", "json", *db, "--fail-level", "error"]
    *results, diag = childproc.run_manage_each(
        [args for _, args, _ in checks] + [diagnose], cwd=ins.root
    )
    outcomes = []
    failures = []
    for (title, _, meaning), result in zip(checks, results, strict=True):
        said = (result.stderr or result.stdout).strip()
        detail = "ok" if result.ok else (last_line(result) if said else meaning)
        outcomes.append({"check": title, "ok": result.ok, "detail": detail})
        if not result.ok:
            failures.append(f"{title}: {detail}")
    try:
        findings = [
            f
            for f in json.loads(diag.stdout)["findings"]
            if f["cause"] == "migrations" and f["severity"] in ("error", "warning")
        ]
    except (ValueError, KeyError, TypeError):
        findings = None
    if findings is None:
        ok, detail = False, f"no JSON report: {last_line(diag)}"
    else:
        own = [f for f in findings if not _handed_over(f)]
        ok = not own
        detail = "; ".join(f"{f['id']} {f['message']}" for f in own) or "ok"
        rt.state["next_steps"] = _next_steps([f for f in findings if _handed_over(f)])
    outcomes.append({"check": "diagnose_user_model (migrations)", "ok": ok, "detail": detail})
    if not ok:
        failures.append(f"diagnose_user_model: {detail}")
    rt.state["verification"] = outcomes
    return failures


def _handed_over(finding: dict[str, Any]) -> bool:
    """Findings that another procedure fixes: tables created for another user model (E405,
    E403 from a swap) need their foreign keys and rows moved, which a migration reset never does."""
    return any(cmd in (finding.get("fix_command") or "") for cmd in OTHER_PROCEDURES)


def _next_steps(findings: list[dict[str, Any]]) -> list[str]:
    by_command: dict[str, list[str]] = {}
    for f in findings:
        by_command.setdefault(f["fix_command"], []).append(f["id"])
    return [f"{cmd} (for {', '.join(sorted(set(ids)))})" for cmd, ids in sorted(by_command.items())]
