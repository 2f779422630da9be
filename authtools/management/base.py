"""The front end shared by the destructive commands: options, plan, confirmation, result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authtools import pipe
from authtools.db.connection import database_choices
from authtools.procedures.backup import Backup, BackupError, prepare_root, tighten_root
from authtools.procedures.plan import Plan
from authtools.procedures.runner import ProcedureError, RunResult, execute
from authtools.render import as_jsonable


class ProcedureCommand(BaseCommand):
    """A command that builds a Plan, shows it, asks, backs up, runs it and verifies.

    Subclasses implement ``build_plan(**options) -> Plan`` and may override ``render_result``.
    """

    # These commands repair projects that fail Django's system checks.
    requires_system_checks: list[str] = []
    procedure = "procedure"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be done and change nothing.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--database",
            default="default",
            choices=database_choices(),
            help='The database to work on. Defaults to the "default" database.',
        )
        parser.add_argument(
            "--backup-dir",
            type=Path,
            help="Where to keep the backup (default: .authtools-backups/ beside manage.py).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format; json prints the plan and the result as one document.",
        )

    def execute(self, *args: Any, **options: Any) -> Any:
        """Every recovery needs its database: say so in one line before anything else runs."""
        from authtools.db.connection import refusal

        problem = refusal(options.get("database") or "default")
        if problem:
            raise CommandError(f"{problem}. Nothing was changed.")
        pipe.quiet_stdout(options)  # a closed pipe discards the output, as > /dev/null would
        return super().execute(*args, **options)

    # --- to implement -----------------------------------------------------------------------
    def build_plan(self, **options: Any) -> Plan:
        raise NotImplementedError

    # --- protocol ---------------------------------------------------------------------------
    def backup_root(self, options: dict[str, Any]) -> Path:
        """The real folder backups go into (symlinks resolved); refused in one line when it is
        the project root."""
        return self.backup_root_and_notes(options)[0]

    def backup_root_and_notes(self, options: dict[str, Any]) -> tuple[Path, list[str]]:
        from authtools.diagnosis.context import current_project_root

        given = options.get("backup_dir")
        try:
            return prepare_root(None if given is None else Path(given), current_project_root())
        except BackupError as exc:
            raise CommandError(f"{exc}. Nothing was changed.") from exc

    # A plan with nothing to do may still carry notes worth reading (what was left alone).
    notes_when_empty = False

    def handle(self, *args: Any, **options: Any) -> None:
        plan = self.build_plan(**options)
        if self.notes_when_empty and plan.empty and plan.notes and options["format"] == "text":
            for note in plan.notes:
                self.stdout.write(f"Note: {note}")
        self.run_plan(plan, options)

    def run_plan(self, plan: Plan, options: dict[str, Any]) -> RunResult | None:
        """The one protocol of every way in (first runs, --resume, --rollback, --restore):
        plan, --dry-run, confirmation, backup (or the backup being continued), the runner
        (lock, transaction or journal), verification, then what is still to do by hand."""
        json_mode = options["format"] == "json"
        if plan.empty:
            self.emit(plan, None, options, plan.empty_message)
            return None
        root: Path | None = None
        if plan.existing_backup is None:
            root, notes = self.backup_root_and_notes(options)
            plan.notes.extend(notes)
        if not json_mode and options["verbosity"] >= 1:  # 0: errors and the final result only
            self.stdout.write(self.style.MIGRATE_HEADING(f"Plan ({plan.procedure}):"))
            for line in plan.lines():
                self.stdout.write(f"  {line}")
        if options["dry_run"]:
            self.emit(plan, None, options, "Dry run: nothing was changed.")
            return None
        if options["interactive"] and not self.confirm(json_mode):  # exit 0, as Django's flush
            self.emit(plan, None, options, "Cancelled: nothing was changed.")
            return None
        if root is None:
            backup = plan.existing_backup
        else:
            try:
                tightened = tighten_root(root)
                backup = Backup.create(root, plan.procedure, plan.database)
            except (BackupError, OSError) as exc:
                raise CommandError(f"{exc}. Nothing was changed.") from exc
            if tightened and not json_mode:
                self.stdout.write(tightened)
        log = (lambda m: None) if json_mode or options["verbosity"] < 2 else self.stdout.write
        try:
            result = execute(plan, backup, log=log)
        except (ProcedureError, BackupError) as exc:
            raise CommandError(str(exc)) from exc
        self.emit(plan, result, options, None)
        if result.failures:
            raise CommandError(
                f"Verification failed: {'; '.join(result.failures)}. "
                f"Undo with {plan.way_back_for(result.backup)}.",
            )
        return result

    def confirm(self, json_mode: bool = False) -> bool:
        """Ask on the terminal; in JSON mode the question goes to stderr, keeping stdout JSON."""
        prompt = "Type 'yes' to continue, or 'no' to cancel: "
        try:
            if json_mode:
                self.stderr.write(prompt, ending="")
                self.stderr.flush()
                prompt = ""
            answer = input(prompt)
        except EOFError:  # no terminal (CI, a pipe): never assume yes
            raise CommandError(
                "No answer on standard input: nothing was changed. "
                "Pass --noinput to run without confirmation."
            ) from None
        return answer.strip().lower() == "yes"

    def emit(
        self, plan: Plan, result: RunResult | None, options: dict[str, Any], message: str | None
    ) -> None:
        if options["format"] == "json":
            document = {
                "plan": plan.to_dict(),
                "dry_run": bool(options["dry_run"]),
                "result": None
                if result is None
                else as_jsonable(
                    {
                        "backup": str(result.backup),
                        "completed": result.completed,
                        "verified": result.verified,
                        "failures": result.failures,
                        "by_hand": plan.by_hand,
                        **self.result_data(result),
                    }
                ),
            }
            self.stdout.write(json.dumps(document, indent=2, default=str))
            return
        if message:
            self.stdout.write(message)
        if result is not None:
            self.render_result(result)
            for line in plan.by_hand:
                self.stdout.write(self.style.WARNING(f"Still to do by hand: {line}"))

    def result_data(self, result: RunResult) -> dict[str, Any]:
        return {}

    def render_result(self, result: RunResult) -> None:
        self.stdout.write(f"Backup: {result.backup}")
        if result.verified:
            self.stdout.write(self.style.SUCCESS("Done; verified."))
