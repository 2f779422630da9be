"""The swap's preflight names the cause of a refusal with file and line when the diagnosis
knows it, and the printed fix, applied as printed, lets the swap through. A probe that raises
leaves the refusal with its plain reason."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .swaphelpers import write_new_model

# manage.py ARGS with the diagnosis's references probe (authtools.E301) raising: the product has
# no hook for it, so the wrapper replaces the probe before manage.py runs.
CRASHING_PROBE = """import os
import runpy
import sys

from authtools.diagnosis.probes import references


def run(ctx):
    raise RuntimeError("the probe failed")


references.run = run
sys.argv = ["manage.py", *sys.argv[1:]]
sys.path.insert(0, os.getcwd())
runpy.run_path("manage.py", run_name="__main__")
"""


def test_pending_changes_named_with_file_and_line(db_project: Project, tmp_path: Path) -> None:
    project = db_project
    project.set_setting("AUTH_USER_MODEL", '"auth.User"')
    project.write("accounts/models.py", '"""No user model yet: the project uses auth.User."""\n')
    project.write("accounts/admin.py", "")
    project.remove("accounts/migrations/0001_initial.py")
    project.migrate()
    # A relation hard-coded to auth.User: once AUTH_USER_MODEL names accounts.User, shop's model
    # differs from its migration (which follows the setting).
    models = project.read("shop/models.py")
    project.write("shop/models.py", models.replace("settings.AUTH_USER_MODEL,", '"auth.User",', 1))
    write_new_model(project)
    line = project.line_of("shop/models.py", '"auth.User",')

    refused = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert (refused.code, refused.out) == (1, ""), str(refused)
    assert refused.err == (
        "CommandError: Refused: models have changes that are not in migrations (apps shop), "
        f"caused by shop/models.py:{line} (authtools.E301): ForeignKey('auth.User') relates to "
        "auth.User, which AUTH_USER_MODEL = 'accounts.User' swaps out (Django reports "
        "fields.E301). Fix: Write ForeignKey(settings.AUTH_USER_MODEL, ...): the relation then "
        "follows AUTH_USER_MODEL, then run the swap again. Nothing was changed.\n"
    )

    # The probe that names the cause raises: the refusal stays, with its plain reason.
    wrapper = tmp_path / "crashing_probe.py"
    wrapper.write_text(CRASHING_PROBE)
    crashed = project.run(str(wrapper), "swap_user_model", "--from", "auth.User", "--dry-run")
    assert (crashed.code, crashed.out) == (1, ""), str(crashed)
    assert crashed.err == (
        "CommandError: Refused: models have changes that are not in migrations (apps shop): "
        "run makemigrations for them first. Nothing was changed.\n"
    )

    # The fix as printed: the swap's plan goes through.
    project.write("shop/models.py", models)
    planned = project.manage("swap_user_model", "--from", "auth.User", "--dry-run")
    assert planned.code == 0, str(planned)
    assert planned.out.startswith("Plan (swap_user_model):\n"), str(planned)
