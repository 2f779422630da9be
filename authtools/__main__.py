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
        help="The settings module, e.g. mysite.settings. Defaults to DJANGO_SETTINGS_MODULE, "
        "else to the module that manage.py in the --pythonpath folder names.",
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
    fix = sub.add_parser(
        "fix",
        help="Rewrite hard-coded user-model references (manage.py fix_user_model_code), "
        "also when manage.py cannot start (an import cycle).",
        description="Run manage.py fix_user_model_code with Django set up step by step, so "
        "that it also works when an import cycle stops manage.py; the other options are "
        "fix_user_model_code's (python -m authtools fix --settings=S --help lists them).",
        add_help=False,
    )
    fix.add_argument(
        "--settings",
        help="The settings module, e.g. mysite.settings. Defaults to DJANGO_SETTINGS_MODULE, "
        "then to what manage.py in the current folder names.",
    )
    fix.add_argument("--pythonpath", help="A folder to put on sys.path first.")
    fix.set_defaults(verbosity=1)  # for the settings line; -v goes to the command itself
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit status. A reader that goes away (``ids | head -3``) ends the
    output quietly (authtools.pipe); the status stays the command's own."""
    from authtools import pipe

    try:
        parser = build_parser()
        args, rest = parser.parse_known_args(argv)
        if args.command == "fix":
            return fix(parser, args, rest)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "ids":
            from authtools.diagnosis.catalog import markdown_table

            pipe.print_out(markdown_table())
            return 0
        return diagnose(args.subparser, args)
    except BrokenPipeError:  # a closed pipe outside print_out (argparse swallows its own)
        pipe.discard_stdout()
        return 1
    finally:  # also after argparse's SystemExit: what it buffered must not fail at exit
        with pipe.closed_stdout_is_quiet():
            pass


def find_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, folder: str) -> str:
    """--settings, else DJANGO_SETTINGS_MODULE, else what FOLDER/manage.py names (said on
    stderr); a usage error when none gives one."""
    from pathlib import Path

    from authtools.manage_py import ManagePyError, settings_from_manage_py

    settings_module = args.settings or os.environ.get("DJANGO_SETTINGS_MODULE")
    if settings_module:
        return str(settings_module)
    try:
        settings_module = settings_from_manage_py(Path(folder))
    except ManagePyError as exc:
        parser.error(f"{exc}: pass --settings=mysite.settings or set DJANGO_SETTINGS_MODULE")
    if not settings_module:
        parser.error(
            "no settings: pass --settings=mysite.settings, set DJANGO_SETTINGS_MODULE, or run "
            "from the folder of manage.py"
        )
    if args.verbosity >= 1:
        print(
            f"Settings: {settings_module} (from {os.path.join(folder, 'manage.py')}; "
            "--settings chooses another)",
            file=sys.stderr,
        )
    return settings_module


def diagnose(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    folder = os.path.abspath(args.pythonpath or os.getcwd())
    settings_module = find_settings(parser, args, folder)
    sys.path.insert(0, folder)

    from django.core.management.color import color_style, no_style

    from authtools import pipe, render
    from authtools.diagnosis.boot import boot
    from authtools.fixes import diagnose as run_diagnosis

    state = boot(settings_module)
    if state.ok("settings"):
        from authtools.db.connection import database_choices

        choices = database_choices()  # None: DATABASES is broken, the diagnosis says how
        if choices is not None and args.database not in choices:
            parser.error(
                f"--database {args.database!r} is not in DATABASES "
                f"(choose from {', '.join(map(repr, choices))})"
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
        pipe.print_out(render.report_json(report))
    else:
        style = no_style() if args.no_color else color_style()
        pipe.print_out(render.report_text(report, style, args.verbosity))
    if state.failure is not None and (args.traceback or args.verbosity >= 2):
        print(f"\nDjango set-up stopped at {state.failure.phase!r}:", file=sys.stderr)
        print(state.failure.traceback, file=sys.stderr)
    return report.exit_code(args.fail_level)


def fix(parser: argparse.ArgumentParser, args: argparse.Namespace, rest: list[str]) -> int:
    """fix_user_model_code on a project set up as far as it goes (apps may fail to load)."""
    folder = os.path.abspath(args.pythonpath or os.getcwd())
    settings_module = find_settings(parser, args, folder)
    sys.path.insert(0, folder)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module

    from authtools.diagnosis.boot import boot

    state = boot(settings_module)
    if not state.ok("settings"):
        parser.error(
            f"the settings module {settings_module!r} cannot be loaded: run "
            f"python -m authtools diagnose --settings={settings_module}"
        )
    from authtools.management.commands.fix_user_model_code import Command

    Command().run_from_argv(["python -m authtools", "fix", *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
