"""Django's command conventions on the four authtools commands (authtools/management/
conventions.py): --version, --skip-checks, verbosity 0-3, cancelling exits 0, --format json for
every outcome, errors included, --sql --format json, and precise "nothing to do" messages."""

from __future__ import annotations

import json

import django

import authtools

from .conftest import Project
from .swaphelpers import before_state, write_new_model

COMMANDS = (
    "diagnose_user_model",
    "reset_user_migrations",
    "rebuild_contenttypes",
    "swap_user_model",
)
VERSION = (
    f"authtools {authtools.__version__} (django-user-model-doctor), Django {django.get_version()}\n"
)


def append_settings(project: Project, *lines: str) -> None:
    project.write(
        "testproject/settings.py", project.read("testproject/settings.py") + "\n".join(lines) + "\n"
    )


def missing_a_permission(project: Project) -> None:
    project.migrate()
    project.db.query("DELETE FROM auth_permission WHERE codename = %s", ["change_group"])


def test_version_and_skip_checks(project: Project) -> None:
    for command in COMMANDS:
        result = project.manage(command, "--version")
        assert (result.code, result.out, result.err) == (0, VERSION, ""), command
    project.migrate()
    # Accepted as by Django's own commands (these never run the system checks anyway).
    skipped = project.manage("reset_user_migrations", "--skip-checks", "--dry-run")
    assert (skipped.code, skipped.out, skipped.err) == (0, "Nothing to do.\n", "")
    diagnosed = project.manage("diagnose_user_model", "--skip-checks", "--no-db", "-v", "0")
    assert (diagnosed.code, diagnosed.out, diagnosed.err) == (0, "No problems found.\n", "")
    assert "--skip-checks" in project.manage("swap_user_model", "--help").out


def test_verbosity_and_cancel(project: Project) -> None:
    missing_a_permission(project)
    normal = project.manage("rebuild_contenttypes", "--dry-run")
    assert normal.out == (
        "Plan (rebuild_contenttypes):\n"
        "  1. Create 0 content types and 1 permission\n"
        "       auth: 0 content types, 1 permission\n"
        "Dry run: nothing was changed.\n"
    )
    quiet = project.manage("rebuild_contenttypes", "--dry-run", "-v", "0")
    assert (quiet.code, quiet.out, quiet.err) == (0, "Dry run: nothing was changed.\n", "")

    # 3: every SQL statement as it runs, on one line each, and otherwise the same output.
    loud = project.manage("rebuild_contenttypes", "--dry-run", "-v", "3")
    assert loud.code == 0, str(loud)
    sql = [line for line in loud.out.splitlines() if line.startswith("SQL: ")]
    assert any(line.startswith('SQL: SELECT "django_content_type"."id"') for line in sql), loud
    assert "\n".join(line for line in loud.out.splitlines() if line not in sql) + "\n" == (
        normal.out
    )
    # JSON keeps stdout one document: the SQL goes to stderr.
    loud_json = project.manage("rebuild_contenttypes", "--dry-run", "-v", "3", "--format", "json")
    assert json.loads(loud_json.out)["dry_run"] is True
    assert loud_json.err.startswith("SQL: "), str(loud_json)

    # Cancelling at the prompt is not an error (as Django's flush): exit 0, nothing changed.
    cancelled = project.manage("rebuild_contenttypes", "-v", "0", input="no\n")
    assert (cancelled.code, cancelled.err) == (0, "")
    assert cancelled.out == (
        "Type 'yes' to continue, or 'no' to cancel: Cancelled: nothing was changed.\n"
    )
    assert not (project.path / ".authtools-backups").exists()


def test_json_for_every_outcome(project: Project) -> None:
    """Errors under --format json are one document on stdout with a stable "error" field; the
    message still goes to stderr as Django prints a CommandError."""
    cases = [
        (
            ("swap_user_model",),
            "Name the model the database holds now with --from, e.g. --from auth.User.",
        ),
        (
            ("reset_user_migrations", "nosuchapp"),
            "No installed app with label 'nosuchapp'; pass the label of an app in INSTALLED_APPS. "
            "Nothing was changed.",
        ),
        (
            ("reset_user_migrations", "--force"),
            "--force only applies to --reset-db.",
        ),
    ]
    for args, message in cases:
        result = project.manage(*args, "--format", "json")
        assert result.code == 1, str(result)
        assert json.loads(result.out) == {"error": message, "returncode": 1}, str(result)
        assert result.err == f"CommandError: {message}\n"
    # A report that fails --fail-level stays the one document (no error document after it).
    failing = project.manage(
        "diagnose_user_model", "--format", "json", "--fail-level", "info", "--no-db"
    )
    document = json.loads(failing.out)  # exactly one document, or this raises
    assert "findings" in document and "error" not in document, str(failing)


def test_sql_as_json(project: Project) -> None:
    before_state(project)
    write_new_model(project)
    text = project.manage("swap_user_model", "--from", "auth.User", "--sql")
    assert text.code == 0, str(text)
    as_json = project.manage("swap_user_model", "--from", "auth.User", "--sql", "--format", "json")
    assert as_json.code == 0, str(as_json)
    statements = json.loads(as_json.out)["sql"]
    assert statements and "\n".join(statements) + "\n" == text.out
    assert any(s.startswith("ALTER TABLE") for s in statements), statements


def test_reset_says_nothing_to_reset_on_auth_user(project: Project) -> None:
    append_settings(
        project,
        "INSTALLED_APPS = [a for a in INSTALLED_APPS if a not in ('accounts', 'shop', 'profiles')]",
        "AUTH_USER_MODEL = 'auth.User'",
    )
    project.migrate()
    message = (
        "AUTH_USER_MODEL is Django's default 'auth.User', whose migrations ship with Django: "
        "there is nothing to reset. To reset an app of the project, name it: "
        "reset_user_migrations APP_LABEL."
    )
    result = project.manage("reset_user_migrations", "--noinput")
    assert (result.code, result.out, result.err) == (0, message + "\n", "")
    as_json = project.manage("reset_user_migrations", "--noinput", "--format", "json")
    assert as_json.code == 0, str(as_json)
    assert json.loads(as_json.out) == {
        "plan": {
            "procedure": "reset_user_migrations",
            "database": "default",
            "steps": [],
            "notes": [message],
        },
        "dry_run": False,
        "result": None,
    }


def test_reset_db_needs_django_extensions_then_verbosity_2(project: Project) -> None:
    """--reset-db refuses in its dry run and its preflight, before any file changes, when
    django_extensions is not installed; then the plain reset (which does not need it) at -v 2
    announces every step and every child process as it starts."""
    project.migrate()
    project.remove("accounts/migrations/0001_initial.py")
    append_settings(
        project, "INSTALLED_APPS = [a for a in INSTALLED_APPS if a != 'django_extensions']"
    )
    message = (
        "--reset-db runs django-extensions' reset_db, but 'django_extensions' is not in "
        'INSTALLED_APPS: add "django_extensions" to INSTALLED_APPS (pip install '
        "django-extensions if it is missing) and run again. Nothing was changed."
    )
    for extra in ("--dry-run", "--noinput"):
        result = project.manage("reset_user_migrations", "--reset-db", extra)
        assert (result.code, result.out, result.err) == (1, "", f"CommandError: {message}\n")
    assert sorted(p.name for p in (project.path / "accounts" / "migrations").iterdir()) == [
        "__init__.py"
    ]
    assert not (project.path / ".authtools-backups").exists()

    loud = project.manage("reset_user_migrations", "--noinput", "-v", "2")
    assert loud.code == 0, str(loud)
    progress = [line for line in loud.out.splitlines() if line.startswith(("Applying", "Running"))]
    assert progress == [
        "Applying: Run makemigrations accounts with the real AUTH_USER_MODEL",
        "Running: manage.py makemigrations accounts --noinput --skip-checks",
        "Applying: Delete 1 row(s) of 'accounts' from django_migrations",
        "Applying: Record accounts.0001_initial as applied: the database has its tables and "
        "columns",
        "Running: manage.py migrate --check --noinput --database default",
        "Running: manage.py makemigrations --check --dry-run --noinput",
        "Running: manage.py check --database default",
        "Running: manage.py diagnose_user_model --format json --database default --fail-level "
        "error",
    ]
    assert loud.out.endswith("Done; verified.\n")
    # -v 0: only the final result (where the backup is, and the verdict).
    project.remove("accounts/migrations/0001_initial.py")
    quiet = project.manage("reset_user_migrations", "--noinput", "-v", "0")
    assert quiet.code == 0, str(quiet)
    lines = quiet.out.splitlines()
    assert len(lines) == 3 and lines[0] == "Generated: 0001_initial", quiet.out
    assert lines[1].startswith("Backup: ") and lines[2] == "Done; verified.", quiet.out


def test_diagnosis_text_at_verbosity_0_keeps_errors_and_the_count() -> None:
    from django.core.management.color import no_style

    from authtools.diagnosis.report import Finding, Report
    from authtools.render import report_text

    report = Report(
        "accounts.User",
        "6.1",
        "0.1.0",
        [
            Finding("authtools.W303", "warning", "references", "A warning.", "Do this."),
            Finding("authtools.E401", "error", "migrations", "An error.", "Do that.", None, "fix"),
        ],
    )
    assert report_text(report, no_style(), 0) == (
        "ERROR authtools.E401 [migrations] An error.\n"
        "  hint: Do that.\n"
        "  fix: fix\n"
        "\n"
        "1 error, 1 warning, 0 infos."
    )
    assert report_text(report, no_style(), 1).startswith(
        "AUTH_USER_MODEL = 'accounts.User' (Django 6.1, authtools 0.1.0)\n\nWARNING"
    )
