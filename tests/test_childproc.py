"""Several read-only commands in one child process (childproc.run_manage_each, the migration
reset's verification): each result as from its own ``manage.py`` run, and a child that cannot
start Django gives every command its failure."""

from __future__ import annotations

import json

from tests.conftest import Project

EACH = """
import json, os
from authtools.procedures import childproc

commands = [["check"], ["xyzzy"], ["migrate", "--check"], ["showmigrations", "shop"]]
if os.environ.get("BROKEN"):
    os.environ["DJANGO_SETTINGS_MODULE"] = "no_such_settings"
results = childproc.run_manage_each(commands)
print(json.dumps([[r.args, r.returncode, r.stdout, r.stderr] for r in results]))
"""


def test_each_command_gets_its_own_output_and_exit_status(project: Project) -> None:
    project.migrate()
    results = json.loads(project.shell(EACH))
    alone = [project.manage(*args) for args, *_ in results]
    assert [r[1:] for r in results] == [[a.code, a.out, a.err] for a in alone]
    assert [r[1] for r in results] == [0, 1, 0, 0]
    assert results[1][3] == "Unknown command: 'xyzzy'\nType 'manage.py help' for usage.\n"


def test_a_child_that_cannot_start_fails_every_command(project: Project) -> None:
    results = json.loads(project.ok("shell", "-v", "0", "-c", EACH, BROKEN="1").out)
    assert [(r[1], r[2]) for r in results] == [(1, "")] * 4
    assert all(r[3] == results[0][3] for r in results)
    assert results[0][3].rstrip().splitlines()[-1] == (
        "ModuleNotFoundError: No module named 'no_such_settings'"
    )
