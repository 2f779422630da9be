"""manage.py rebuild_contenttypes: content types and permissions made right, keeping every
permission assignment and log entry (see authtools.procedures.contenttypes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authtools.management.base import ProcedureCommand
from authtools.management.conventions import Conventions
from authtools.procedures import contenttypes
from authtools.procedures.backup import BackupError
from authtools.procedures.plan import Plan
from authtools.procedures.runner import RunResult


class Command(Conventions, ProcedureCommand):
    help = (
        "Create missing content types and permissions, move stale content types (a swapped-out "
        "user model, renamed or moved models) to their successors with their permissions, "
        "assignments and log entries, and delete stale ones only with --remove-stale."
    )
    procedure = "rebuild_contenttypes"
    notes_when_empty = True

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--remap",
            action="append",
            default=[],
            metavar="OLD_APP.MODEL=NEW_APP.MODEL",
            help="Move this stale content type to this installed model (repeatable).",
        )
        parser.add_argument(
            "--remove-stale",
            action="store_true",
            help="Delete stale content types that have no successor, and what references them.",
        )
        parser.add_argument(
            "--restore",
            type=Path,
            metavar="BACKUP",
            help="Put back the rows saved in this backup folder of an earlier run.",
        )

    def build_plan(self, **options: Any) -> Plan:
        try:
            if options["restore"] is not None:
                return contenttypes.restore_plan(options["database"], options["restore"])
            return contenttypes.build_plan(
                options["database"], options["remap"], options["remove_stale"]
            )
        except (contenttypes.RemapError, contenttypes.MissingTables, BackupError) as exc:
            raise CommandError(f"{exc}. Nothing was changed.") from exc

    def result_data(self, result: RunResult) -> dict[str, Any]:
        keys = ("remapped", "created", "removed", "restored")
        return {key: result.state[key] for key in keys if key in result.state}

    def render_result(self, result: RunResult) -> None:
        state = result.state
        for pair, counts in state.get("remapped", {}).items():
            self.stdout.write(f"Remapped {pair}: {contenttypes.describe_counts(counts)}")
        if "created" in state:
            created = state["created"]
            self.stdout.write(
                f"Created {contenttypes.plural(created['contenttypes'], 'content type')} and "
                f"{contenttypes.plural(created['permissions'], 'permission')}"
            )
        for key, title in (("removed", "Removed"), ("restored", "Restored")):
            if key in state:
                done = ", ".join(f"{n} {what}" for what, n in state[key].items())
                self.stdout.write(f"{title}: {done or 'nothing'}")
        super().render_result(result)
