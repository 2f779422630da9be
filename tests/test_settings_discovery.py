"""``python -m authtools diagnose`` beside manage.py: the settings module comes from manage.py.

manage.py is read with ast, never run (here it would raise if it were), and the module it names
is said on stderr. --settings and DJANGO_SETTINGS_MODULE still come first.
"""

from __future__ import annotations

from tests.conftest import Project
from tests.helpers import header

# A cookiecutter-style manage.py: the variable is set inside main(), and the module would refuse
# to run at all (so the test fails if the diagnosis executed it).
MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

raise RuntimeError("manage.py must not be executed by the diagnosis")


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
"""


def used(project: Project, module: str) -> str:
    return f"Settings: {module} (from {project.path / 'manage.py'}; --settings chooses another)\n"


def test_settings_module_from_manage_py(project: Project) -> None:
    # The bundled manage.py: os.environ.setdefault at module level.
    plain = project.authtools("diagnose", "--no-db")
    assert (plain.code, plain.err) == (0, used(project, "testproject.settings")), str(plain)
    assert plain.out == f"{header('accounts.User')}\n\nNo problems found.\n"

    # A settings package (base + local), named inside main() of a manage.py that must not run;
    # local.py overrides AUTH_USER_MODEL, so the report shows which module was used.
    base = project.read("testproject/settings.py")
    project.remove("testproject/settings.py")
    project.write("testproject/settings/__init__.py", "")
    project.write("testproject/settings/base.py", base.replace(".parent.parent", ".parents[2]"))
    project.write(
        "testproject/settings/local.py",
        'from .base import *  # noqa: F403\n\nAUTH_USER_MODEL = "accounts.Usr"\n',
    )
    project.write("manage.py", MANAGE_PY)
    local = project.authtools("diagnose", "--no-db", "--format", "json")
    assert (local.code, local.err) == (1, used(project, "testproject.settings.local")), str(local)
    assert local.json()["auth_user_model"] == "accounts.Usr"
    assert [(f["id"], f["location"]) for f in local.json()["findings"]] == [
        ("authtools.E005", {"file": "testproject/settings/local.py", "line": 3})
    ]

    # --settings and DJANGO_SETTINGS_MODULE come first, and nothing is said about manage.py.
    explicit = project.authtools("diagnose", "--no-db", "--settings", "testproject.settings.base")
    assert (explicit.code, explicit.err) == (0, ""), str(explicit)
    from_env = project.run(
        "-m",
        "authtools",
        "diagnose",
        "--no-db",
        env=project.env(DJANGO_SETTINGS_MODULE="testproject.settings.base"),
    )
    assert (from_env.code, from_env.err) == (0, ""), str(from_env)
    assert from_env.out == explicit.out == f"{header('accounts.User')}\n\nNo problems found.\n"

    # From another folder, --pythonpath names the folder of manage.py; -v 0 says nothing.
    elsewhere = Project(project.path.parent, project.db)
    quiet = elsewhere.authtools("diagnose", "--no-db", "--pythonpath", "project", "-v", "0")
    assert (quiet.code, quiet.err) == (1, ""), str(quiet)

    # A value only known when manage.py runs: one line naming the culprit, exit 2.
    project.write(
        "manage.py",
        MANAGE_PY.replace(
            '"testproject.settings.local"', 'os.environ.get("ENV", "testproject.settings.local")'
        ),
    )
    dynamic = project.authtools("diagnose", "--no-db")
    assert dynamic.code == 2, str(dynamic)
    assert dynamic.err.splitlines()[-1] == (
        f"python -m authtools diagnose: error: {project.path / 'manage.py'}:9 sets "
        "DJANGO_SETTINGS_MODULE from an expression (os.environ.get('ENV', "
        "'testproject.settings.local')), which is only known when manage.py runs: pass "
        "--settings=mysite.settings or set DJANGO_SETTINGS_MODULE"
    )
