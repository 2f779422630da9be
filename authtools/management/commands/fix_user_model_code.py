"""manage.py fix_user_model_code: rewrite the project's own hard-coded user-model references
(relations, imports that close a cycle, run-time uses of auth.User, permission strings,
unapplied migrations), with the diff first (see authtools.procedures.fixcode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authtools.management.base import ProcedureCommand
from authtools.management.conventions import Conventions
from authtools.procedures import fixcode
from authtools.procedures.backup import Backup, BackupError
from authtools.procedures.plan import Plan


class Command(Conventions, ProcedureCommand):
    help = (
        "Rewrite the project's own files that hard-code the user model: relation fields to "
        "settings.AUTH_USER_MODEL, run-time uses of auth.User to get_user_model(), permission "
        "strings to the current user model, unapplied migrations to swappable_dependency. "
        "Shows the diff first; installed packages are never changed."
    )
    procedure = fixcode.PROCEDURE
    notes_when_empty = True

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--restore",
            type=Path,
            metavar="BACKUP",
            help="Put back the files saved in this backup folder of an earlier run.",
        )

    def build_plan(self, **options: Any) -> Plan:
        from authtools.diagnosis.context import current_project_root

        try:
            if options["restore"]:
                backup = Backup.open(
                    options["restore"],
                    procedures=(fixcode.PROCEDURE,),
                    database=options["database"],
                )
                return fixcode.restore_plan(options["database"], backup, current_project_root())
            return fixcode.build_plan(options["database"])
        except (fixcode.FixError, BackupError) as exc:
            raise CommandError(f"{exc}. Nothing was changed.") from exc
