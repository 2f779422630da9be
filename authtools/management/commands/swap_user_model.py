"""manage.py swap_user_model --from auth.User: move the database to AUTH_USER_MODEL in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authtools.management.base import ProcedureCommand
from authtools.management.conventions import Conventions
from authtools.procedures import swap
from authtools.procedures.backup import BackupError
from authtools.procedures.plan import Plan
from authtools.procedures.runner import ProcedureError, RunResult


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
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument(
            "--write-model",
            dest="keys",
            action="store_const",
            const="keep",
            help="When the new model's key would be 64-bit (BigAutoField) and the old one is "
            "32-bit: keep the 32-bit key by adding `id = models.AutoField(primary_key=True)` to "
            "the new model's file (shown as a diff in the plan, restored by --rollback).",
        )
        keys.add_argument(
            "--widen-keys",
            dest="keys",
            action="store_const",
            const="widen",
            help="When the new model's key would be 64-bit and the old one is 32-bit: make the "
            "user table's key and every foreign key column pointing at it 64-bit (rewrites "
            "every row of those tables; the plan gives the counts).",
        )
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="The longest the swap waits for a table lock, and so the longest the "
            "application's queries wait behind it (PostgreSQL lock_timeout, MariaDB/MySQL "
            "lock_wait_timeout); on a timeout it tries again a few times, then gives up with "
            "nothing changed. Default: 5.",
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
                self.refuse_if_interrupted(options)
                if not options["old_model"] and options["phase"] != 2:
                    raise CommandError(
                        "Name the model the database holds now with --from, e.g. --from auth.User."
                    )
                spec = swap.preflight(
                    database,
                    options["old_model"],
                    drop_columns=options["drop_columns"],
                    phase=options["phase"],
                    keys=options["keys"],
                )
                if not options["lock_timeout"] > 0:
                    raise CommandError("--lock-timeout takes a number of seconds above 0.")
                spec.lock_timeout = options["lock_timeout"]
                plan = swap.build_plan(spec)
                self.lock_log(plan, options)
                if options["sql"]:
                    self.write_sql(plan.sql(), options["format"] == "json")
                    return
                with swap.ddl_session(database):
                    self.run_plan(plan, options)
        except swap.KeyWidthRefused as exc:
            exc.command = self.command_line(options)
            raise CommandError(f"Refused: {exc}. Nothing was changed.") from exc
        except (swap.SwapRefused, swap.LockBusy) as exc:
            raise CommandError(f"Refused: {exc}. Nothing was changed.") from exc
        except BackupError as exc:
            raise CommandError(f"{exc}. Nothing was changed.") from exc

    def refuse_if_interrupted(self, options: dict[str, Any]) -> None:
        """A new swap over a half-done one would read a half-swapped database: say how to
        finish or undo the interrupted one instead."""
        found = swap.interrupted(self.backup_root(options), options["database"])
        if found is None:
            return
        path, done, total = found
        raise CommandError(
            f"The swap of backup {str(path)!r} was interrupted after {done} of {total} steps: "
            f"finish it with `python manage.py swap_user_model --resume {path}` or undo it with "
            f"`python manage.py swap_user_model --rollback {path}`. Nothing was changed."
        )

    def lock_log(self, plan: Plan, options: dict[str, Any]) -> None:
        """Say each lock retry as it happens (stderr in JSON mode); keep the plan for the
        result (the longest lock wait)."""
        locks = plan.lock_tables
        if isinstance(locks, swap.TableLocks):
            json_mode = options["format"] == "json"
            locks.log = self.stderr.write if json_mode else self.stdout.write
        self.plan = plan

    def result_data(self, result: RunResult) -> dict[str, Any]:
        locks = getattr(getattr(self, "plan", None), "lock_tables", None)
        if isinstance(locks, swap.TableLocks) and locks.waits:
            return {
                "longest_lock_wait": round(locks.longest_wait, 3),
                "lock_requests": len(locks.waits),
            }
        return {}

    @staticmethod
    def command_line(options: dict[str, Any]) -> str:
        """The command as the user ran it (the options that shape the plan), to extend."""
        words = ["python manage.py swap_user_model"]
        if options["old_model"]:
            words.append(f"--from {options['old_model']}")
        if options["phase"]:
            words.append(f"--phase {options['phase']}")
        if options["drop_columns"]:
            words.append("--drop-columns")
        if options["database"] != "default":
            words.append(f"--database {options['database']}")
        return " ".join(words)

    def scaffold(self, options: dict[str, Any]) -> None:
        from django.conf import settings

        from authtools.diagnosis.context import current_project_root, relative_display
        from authtools.procedures.swap import scaffold as sc
        from authtools.procedures.swap.settings_edit import plan_settings_edit, write_settings

        root, app, dry_run = current_project_root(), options["scaffold"], options["dry_run"]
        scaffold = sc.plan_scaffold(app, root, options["database"])
        edit = plan_settings_edit(
            settings.SETTINGS_MODULE, scaffold.model_label, app, sc.project_app_test(root)
        )
        if options["write_settings"] and edit.by_hand:
            write_settings(edit)  # refuses, naming what to change by hand, before any write
        written = list(scaffold.files) if dry_run else sc.write_scaffold(scaffold)
        for path in written:
            self.stdout.write(f"{'Would write' if dry_run else 'Wrote'} {path.relative_to(root)}")
        if options["write_settings"] and not dry_run:
            write_settings(edit)
        verb = "Change (or run again with --write-settings)"
        if options["write_settings"]:
            verb = "Would change" if dry_run else "Changed"
        for change in edit.changed:
            self.stdout.write(f"{verb} {relative_display(change.path, root)}:")
            for line in change.diff():
                self.stdout.write(f"  {line}")
        for step in edit.by_hand:
            self.stdout.write(f"Change by hand: {step}.")
        self.stdout.write(
            sc.next_step(
                app,
                settings_pending=edit.pending,
                write_settings=options["write_settings"],
                dry_run=dry_run,
            )
        )

    def continue_swap(self, options: dict[str, Any]) -> None:
        """--resume and --rollback: a plan built from the checked backup, run by run_plan (plan,
        --dry-run, confirmation, lock, transaction or journal, verification)."""
        database = options["database"]
        value = options["resume"] or options["rollback"]
        root = self.backup_root(options)
        path = swap.latest_backup(root) if value == "latest" else Path(value)
        if path is None:
            raise CommandError(f"No swap backup in {str(root)!r}; pass its folder.")
        try:
            if options["resume"]:
                plan = swap.resume_plan(path, database)
            else:
                plan = swap.rollback_plan(path, database)
        except ProcedureError as exc:
            raise CommandError(str(exc)) from exc
        self.undoing = plan.undoing
        self.undo_count = len(plan.steps)
        with swap.ddl_session(database):
            self.run_plan(plan, options)

    def build_plan(self, **options: Any) -> Plan:  # pragma: no cover - handle() builds it
        spec = swap.preflight(
            options["database"],
            options["old_model"],
            drop_columns=options["drop_columns"],
            phase=options["phase"],
            keys=options["keys"],
        )
        return swap.build_plan(spec)

    undoing = False
    undo_count = 0

    def render_result(self, result: RunResult) -> None:
        if self.undoing:
            self.stdout.write(f"Backup: {result.backup}")
            if result.verified:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Undid {self.undo_count} step(s); verified: the database is as "
                        "before the swap."
                    )
                )
            return
        counts = result.state.get("contenttypes")
        if counts:
            from authtools.procedures.contenttypes.words import describe_counts

            self.stdout.write(f"Content type of the old user model: {describe_counts(counts)}.")
        locks = getattr(getattr(self, "plan", None), "lock_tables", None)
        if isinstance(locks, swap.TableLocks) and locks.waits:
            # Each request for a set of locks, retries included (MariaDB takes one set for the
            # renames and one for each many-to-many table's ALTER).
            requests = len(locks.waits)
            self.stdout.write(
                f"Longest lock wait: {locks.longest_wait:.2f} s ({requests} lock "
                f"request{'s' if requests > 1 else ''})."
            )
        super().render_result(result)
        spec = getattr(getattr(self, "plan", None), "data", {}).get("spec")
        if result.verified and spec is not None:
            self.stdout.write(swap.app_processes_next(spec))
        if result.verified:
            self.stdout.write(
                "Next: run `manage.py migrate`, and change permission strings in code "
                "(diagnose_user_model lists them)."
            )
