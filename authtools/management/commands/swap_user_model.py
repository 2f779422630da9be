"""manage.py swap_user_model --from auth.User: move the database to AUTH_USER_MODEL in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authtools.management.base import ProcedureCommand
from authtools.management.conventions import Conventions
from authtools.procedures import swap
from authtools.procedures.plan import Plan
from authtools.procedures.runner import RunResult


class Command(Conventions, ProcedureCommand):
    help = (
        "Move a project's database from the old user model (--from) to AUTH_USER_MODEL by "
        "renaming tables and constraints, relabelling the content type and recording the new "
        "app's migrations: no row is copied."
    )
    procedure = swap.PROCEDURE
    # requires_system_checks = [] (inherited): the project fails its checks until it is swapped.

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--from",
            dest="old_model",
            metavar="APP.MODEL",
            help="The user model the database holds now, e.g. auth.User.",
        )
        parser.add_argument(
            "--drop-columns",
            action="store_true",
            help="Drop the old table's columns the new model has no field for (their values are "
            "saved in the backup first); without it the swap refuses to drop them.",
        )
        parser.add_argument(
            "--sql",
            action="store_true",
            help="Print only the SQL statements of the plan (for review) and change nothing.",
        )
        parser.add_argument(
            "--phase",
            type=int,
            choices=[1, 2],
            help="Swap in two deployments: 1 moves to a new model that keeps the old tables "
            "(Meta.db_table) and records its migration; 2, once Meta.db_table is removed, "
            "renames the tables and applies the model's other changes.",
        )
        parser.add_argument(
            "--scaffold",
            metavar="APP",
            help="Write a new app APP beside manage.py with a user model that copies auth.User's "
            "fields (and its primary key type), and say what to change in the settings.",
        )
        parser.add_argument(
            "--write-settings",
            action="store_true",
            help="With --scaffold: set AUTH_USER_MODEL and add the app to INSTALLED_APPS in the "
            "settings module (plain literals only) and show the diff.",
        )
        parser.add_argument(
            "--resume",
            nargs="?",
            const="latest",
            metavar="BACKUP",
            help="Finish an interrupted swap from its backup folder (default: the newest).",
        )
        parser.add_argument(
            "--rollback",
            nargs="?",
            const="latest",
            metavar="BACKUP",
            help="Undo the completed steps of a swap recorded in its backup (default: newest).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        if options["resume"] and options["rollback"]:
            raise CommandError("Give --resume or --rollback, not both.")
        if options["write_settings"] and not options["scaffold"]:
            raise CommandError("--write-settings goes with --scaffold APP.")
        try:
            if options["scaffold"]:
                self.scaffold(options)
                return
            with swap.locked(database):
                if options["resume"] or options["rollback"]:
                    self.continue_swap(options)
                    return
                if not options["old_model"] and options["phase"] != 2:
                    raise CommandError(
                        "Name the model the database holds now with --from, e.g. --from auth.User."
                    )
                spec = swap.preflight(
                    database,
                    options["old_model"],
                    drop_columns=options["drop_columns"],
                    phase=options["phase"],
                )
                plan = swap.build_plan(spec)
                if options["sql"]:
                    self.write_sql(plan.sql(), options["format"] == "json")
                    return
                with swap.ddl_session(database):
                    self.run_plan(plan, options)
        except (swap.SwapRefused, swap.LockBusy) as exc:
            raise CommandError(f"Refused: {exc}. Nothing was changed.") from exc

    def scaffold(self, options: dict[str, Any]) -> None:
        from django.conf import settings

        from authtools.diagnosis.context import current_project_root
        from authtools.procedures.swap.scaffold import plan_scaffold, write_scaffold
        from authtools.procedures.swap.settings_edit import plan_settings_edit, write_settings

        root = current_project_root()
        app = options["scaffold"]
        scaffold = plan_scaffold(app, root, options["database"])
        edit = plan_settings_edit(settings.SETTINGS_MODULE, scaffold.model_label, app)
        would = "Would write" if options["dry_run"] else "Wrote"
        written = list(scaffold.files) if options["dry_run"] else write_scaffold(scaffold)
        for path in written:
            self.stdout.write(f"{would} {path.relative_to(root)}")
        if options["write_settings"] and not options["dry_run"]:
            write_settings(edit)
        if edit.changed:
            if options["write_settings"]:
                verb = "Would change" if options["dry_run"] else "Changed"
            else:
                verb = "Change (or run again with --write-settings)"
            self.stdout.write(f"{verb} {edit.path.relative_to(root)}:")
            for line in edit.diff():
                self.stdout.write(f"  {line}")
        self.stdout.write(
            "Next: python manage.py swap_user_model --from auth.User "
            "(it writes the migration of " + repr(app) + ")"
        )

    def continue_swap(self, options: dict[str, Any]) -> None:
        value = options["resume"] or options["rollback"]
        path = swap.latest_backup(self.backup_root(options)) if value == "latest" else Path(value)
        if path is None:
            raise CommandError(
                f"No swap backup in {str(self.backup_root(options))!r}; pass its folder."
            )
        with swap.ddl_session(options["database"]):
            if options["resume"]:
                result = swap.resume(path, log=self.log(options))
                self.render_result(result)
                if result.failures:
                    raise CommandError(f"Verification failed: {'; '.join(result.failures)}.")
            else:
                undone = swap.rollback(path, log=self.log(options))
                self.stdout.write(f"Undid {len(undone)} steps; the database is as before the swap.")

    def log(self, options: dict[str, Any]) -> Any:
        if options["format"] == "json" or options["verbosity"] < 2:
            return lambda message: None
        return self.stdout.write

    def build_plan(self, **options: Any) -> Plan:  # pragma: no cover - handle() builds it
        spec = swap.preflight(
            options["database"],
            options["old_model"],
            drop_columns=options["drop_columns"],
            phase=options["phase"],
        )
        return swap.build_plan(spec)

    def render_result(self, result: RunResult) -> None:
        counts = result.state.get("contenttypes")
        if counts:
            from authtools.procedures.contenttypes.words import describe_counts

            self.stdout.write(f"Content type of the old user model: {describe_counts(counts)}.")
        super().render_result(result)
        if result.verified:
            self.stdout.write(
                "Next: run `manage.py migrate`, and change permission strings in code "
                "(diagnose_user_model lists them)."
            )
