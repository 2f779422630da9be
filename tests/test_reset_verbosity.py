"""reset_user_migrations at verbosity 0, 1 and 2, whole outputs (on one project copy): 0 is the
final result only; 1 adds the plan and a line before every child process and before the
verification, so that a long run is never silent; 2 also names each step as it starts and
what each child process runs."""

from __future__ import annotations

import re

from .conftest import Project

PLAN = """Plan (reset_user_migrations):
  1. Run makemigrations accounts with the real AUTH_USER_MODEL
       expected: accounts/migrations/0001_initial.py
  2. Delete 1 row(s) of 'accounts' from django_migrations
       id N: accounts.0001_initial (applied DATE)
       SQL: DELETE FROM "django_migrations" WHERE app = 'accounts' AND id IN (N)
  3. Record accounts.0001_initial as applied: the database has its tables and columns
       found table accounts_user_groups
       found table accounts_user_user_permissions
       found table accounts_user
  Note: Backup first: 0 file(s) and 1 django_migrations row(s); undo with --restore BACKUP.
"""
RESULT = """Generated: 0001_initial
Verify migrate --check: ok
Verify makemigrations --check: ok
Verify check: ok
Verify diagnose_user_model (migrations): ok
Backup: PROJECT/.authtools-backups/reset_user_migrations-STAMP
Done; verified.
"""
EXPECTED = {
    "0": """Generated: 0001_initial
Backup: PROJECT/.authtools-backups/reset_user_migrations-STAMP
Done; verified.
""",
    "1": PLAN
    + """Running manage.py makemigrations...
Verifying the end state...
Running manage.py migrate...
Running manage.py makemigrations...
Running manage.py check...
Running manage.py diagnose_user_model...
"""
    + RESULT,
    "2": PLAN
    + """Applying: Run makemigrations accounts with the real AUTH_USER_MODEL
Running: manage.py makemigrations accounts --noinput --skip-checks
Applying: Delete 1 row(s) of 'accounts' from django_migrations
Applying: Record accounts.0001_initial as applied: the database has its tables and columns
Verifying the end state...
Running: manage.py migrate --check --noinput --database default
Running: manage.py makemigrations --check --dry-run --noinput
Running: manage.py check --database default
Running: manage.py diagnose_user_model --format json --database default --fail-level error
"""
    + RESULT,
}


def normalized(out: str, project: Project) -> str:
    out = out.replace(str(project.path), "PROJECT")
    out = re.sub(r"\(applied [^)]*\)", "(applied DATE)", out)
    out = re.sub(r"id (IN \()?\d+", lambda m: f"id {m.group(1) or ''}N", out)
    return re.sub(r"reset_user_migrations-\d{8}T\d+Z", "reset_user_migrations-STAMP", out)


def test_reset_verbosity_0_1_2(project: Project) -> None:
    """The migration file deleted after migrate, reset at -v 1, 2 and 0 (each run repairs it)."""
    project.migrate()
    for level in ("1", "2", "0"):
        project.remove("accounts/migrations/0001_initial.py")
        run = project.manage("reset_user_migrations", "--noinput", "-v", level)
        assert (run.code, run.err) == (0, ""), str(run)
        assert normalized(run.out, project) == EXPECTED[level], f"-v {level}: {run.out}"
