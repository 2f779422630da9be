"""manage.py diagnose_user_model: what is wrong with the user model setup, where, and the fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authtools import pipe, render
from authtools.db.connection import database_choices
from authtools.fixes import diagnose
from authtools.management.conventions import Conventions


def add_diagnosis_arguments(parser: Any, database_choices: tuple[str, ...] | None) -> None:
    """Options shared by this command and ``python -m authtools diagnose``."""
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="Output format. JSON is a stable contract for scripts (see README).",
    )
    parser.add_argument(
        "--database",
        default="default",
        choices=database_choices,
        help='The database to inspect. Defaults to the "default" database.',
    )
    parser.add_argument(
        "--fail-level",
        choices=["error", "warning", "info"],
        default="error",
        help="Exit with status 1 when a finding is at or above this level (default: error).",
    )
    parser.add_argument(
        "--no-db",
        action="store_false",
        dest="use_db",
        help="Do not connect to the database: settings, models, source and migration files only.",
    )
    parser.add_argument(
        "--target",
        metavar="APP_LABEL.MODEL",
        help="Also say what would break once AUTH_USER_MODEL is switched to this model.",
    )


class Command(Conventions, BaseCommand):
    help = "Diagnose AUTH_USER_MODEL problems: what is wrong, where, and the exact fix."

    # The project being diagnosed may fail Django's own checks: that is what we are here for.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_diagnosis_arguments(parser, database_choices())

    def execute(self, *args: Any, **options: Any) -> Any:
        pipe.quiet_stdout(options)  # `diagnose_user_model | head -3` ends quietly
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        report = diagnose(
            database=options["database"], use_db=options["use_db"], target=options["target"]
        )
        if options["format"] == "json":
            self.stdout.write(render.report_json(report))
        else:
            self.stdout.write(render.report_text(report, self.style, options["verbosity"]))
        failing = report.at_least(options["fail_level"])
        if failing:
            raise CommandError(
                f"{render.plural(len(failing), 'finding')} at or above {options['fail_level']!r}.",
                returncode=1,
            )
