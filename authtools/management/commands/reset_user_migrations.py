"""manage.py reset_user_migrations: regenerate the user app's migrations, repair the history."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authtools.management.base import ProcedureCommand
from authtools.management.conventions import Conventions
from authtools.procedures import childproc, reset
from authtools.procedures.plan import Plan, Runtime
from authtools.procedures.runner import RunResult


class Command(Conventions, ProcedureCommand):
    help = (
        "Regenerate an app's migrations (default: the app of AUTH_USER_MODEL), repair other "
        "apps' dependencies and the django_migrations table, and verify the result."
    )
    procedure = reset.PROCEDURE

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label",
            nargs="?",
            help="The app whose migrations to reset. Defaults to the app of AUTH_USER_MODEL.",
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--via-auth-user",
            action="store_true",
            help="Run makemigrations with AUTH_USER_MODEL='auth.User' first, then with the "
            "real value (the settings file is not edited).",
        )
        parser.add_argument(
            "--restore",
            type=Path,
            metavar="BACKUP",
            help="Put back the migration files and django_migrations rows saved in BACKUP.",
        )
        parser.add_argument(
            "--reset-db",
            action="store_true",
            help="Development only: drop and recreate the database with reset_db, then migrate.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Allow --reset-db when DEBUG is False.",
        )

    def build_plan(self, **options: Any) -> Plan:
        if options["force"] and not options["reset_db"]:
            raise CommandError("--force only applies to --reset-db.")
        try:
            if options["restore"] is not None:
                return reset.build_restore_plan(options["restore"], options["database"])
            return reset.build_plan(
                options["app_label"],
                options["database"],
                via_auth_user=options["via_auth_user"],
                reset_db=options["reset_db"],
                force=options["force"],
            )
        except reset.ResetError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc

    def handle(self, *args: Any, **options: Any) -> None:
        if options["restore"] is None:  # --restore is the way out of an interrupted run
            found = reset.interrupted(self.backup_root(options), options["database"])
            if found is not None:
                raise CommandError(found.message())
        plan = self.build_plan(**options)
        if plan.empty and reset.NOTHING_TO_RESET in plan.notes:  # a precise "nothing to do"
            self.emit(plan, None, options, reset.NOTHING_TO_RESET)
            return
        json_mode = options["format"] == "json"
        with ExitStack() as stack:
            if not json_mode and self.verbosity >= 1:
                self.announce_verification(plan)
            if not json_mode and self.verbosity == 1:  # 2 names what each child runs
                stack.enter_context(childproc.observe(self.progress_line(False), detailed=False))
            self.run_plan(plan, options)

    def announce_verification(self, plan: Plan) -> None:
        """Verbosity 1 and up: a line before the end-state checks (child processes too)."""
        verify = plan.verify
        if verify is None:
            return

        def announced(runtime: Runtime) -> list[str]:
            self.progress_line(False)("Verifying the end state...")
            return verify(runtime)

        plan.verify = announced

    def result_data(self, result: RunResult) -> dict[str, Any]:
        return {"state": result.state}

    def render_result(self, result: RunResult) -> None:
        state = result.state
        if state.get("revert"):
            self.stdout.write(f"Temporary AUTH_USER_MODEL='auth.User' run: {state['revert']}")
        if state.get("generated"):
            self.stdout.write(f"Generated: {', '.join(state['generated'])}")
        for outcome in state.get("verification", []) if self.verbosity >= 1 else []:
            mark = self.style.SUCCESS("ok") if outcome["ok"] else self.style.ERROR("FAILED")
            detail = "" if outcome["ok"] else f": {outcome['detail']}"
            self.stdout.write(f"Verify {outcome['check']}: {mark}{detail}")
        self.stdout.write(f"Backup: {result.backup}")
        if state.get("restored"):
            self.stdout.write(self.style.SUCCESS("Restored."))
        elif result.verified:
            self.stdout.write(self.style.SUCCESS("Done; verified."))
        for step in state.get("next_steps", []):
            self.stdout.write(self.style.WARNING(f"Still to do (not a migration reset): {step}"))
