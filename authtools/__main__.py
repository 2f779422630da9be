"""``python -m authtools diagnose``: the diagnosis for projects whose manage.py cannot start.

It configures settings itself and sets Django up step by step (see authtools.diagnosis.boot),
so that a typo in AUTH_USER_MODEL, a missing model or an import cycle become findings instead
of a traceback. Exit status: 0 clean, 1 findings at or above --fail-level, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    import authtools
    from authtools.management.commands.diagnose_user_model import add_diagnosis_arguments

    parser = argparse.ArgumentParser(prog="python -m authtools")
    parser.add_argument("--version", action="version", version=f"authtools {authtools.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    diagnose = sub.add_parser(
        "diagnose",
        help="Diagnose AUTH_USER_MODEL problems without relying on manage.py.",
        description="Diagnose AUTH_USER_MODEL problems without relying on manage.py.",
    )
    diagnose.add_argument(
        "--settings",
        help="The settings module, e.g. mysite.settings. Defaults to DJANGO_SETTINGS_MODULE.",
    )
    diagnose.add_argument(
        "--pythonpath",
        help="A folder to put on sys.path first, e.g. the folder of manage.py "
        "(default: the current folder).",
    )
    diagnose.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=1)
    diagnose.add_argument("--no-color", action="store_true", help="Do not colorize the output.")
    diagnose.add_argument("--traceback", action="store_true", help="Show boot tracebacks.")
    add_diagnosis_arguments(diagnose, None)
    diagnose.set_defaults(subparser=diagnose)
    sub.add_parser("ids", help="Print the table of finding ids (markdown).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ids":
        from authtools.diagnosis.catalog import markdown_table

        print(markdown_table())
        return 0
    return diagnose(args.subparser, args)


def diagnose(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    settings_module = args.settings or os.environ.get("DJANGO_SETTINGS_MODULE")
    if not settings_module:
        parser.error("no settings: pass --settings=mysite.settings or set DJANGO_SETTINGS_MODULE")
    sys.path.insert(0, os.path.abspath(args.pythonpath or os.getcwd()))

    from django.core.management.color import color_style, no_style

    from authtools import render
    from authtools.diagnosis.boot import boot
    from authtools.fixes import diagnose as run_diagnosis

    state = boot(settings_module)
    if state.ok("settings"):
        from django.conf import settings

        if args.database not in settings.DATABASES:
            parser.error(
                f"--database {args.database!r} is not in DATABASES "
                f"(choose from {', '.join(map(repr, settings.DATABASES))})"
            )
    from django.core.management.base import CommandError

    try:
        report = run_diagnosis(
            state,
            settings_module=settings_module,
            database=args.database,
            use_db=args.use_db,
            target=args.target,
        )
    except CommandError as exc:  # bad usage found once the project is loaded (e.g. --target)
        parser.error(str(exc))
    if args.format == "json":
        print(render.report_json(report))
    else:
        style = no_style() if args.no_color else color_style()
        print(render.report_text(report, style, args.verbosity))
    if state.failure is not None and (args.traceback or args.verbosity >= 2):
        print(f"\nDjango set-up stopped at {state.failure.phase!r}:", file=sys.stderr)
        print(state.failure.traceback, file=sys.stderr)
    return report.exit_code(args.fail_level)


if __name__ == "__main__":
    sys.exit(main())
