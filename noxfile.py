"""The test matrix: one session per supported Django version, lint, and the coverage report.

Run it through ``scripts/test`` (the README's command), which installs nox and coverage in
.venvs/runner, finds the Pythons (also under ~/.pyenv) and honours AUTHTOOLS_DJANGO,
AUTHTOOLS_LINT and AUTHTOOLS_TEST_WORKERS; or directly, with nox and coverage installed:

    nox -s tests-6.1 -- -k diagnose      # one Django version, extra args to pytest
    nox -s lint coverage                 # ruff, mypy; combine and report coverage

Coverage follows every child process the tests start (manage.py runs, xdist workers):
COVERAGE_PROCESS_START names pyproject.toml, and the .pth file coverage installs in each
virtualenv starts measurement in any Python process that sees that variable.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# Django version -> the newest Python it supports that we test it with.
PYTHON_FOR = {"4.2": "3.10", "5.2": "3.11", "6.0": "3.12", "6.1": "3.13"}
LINT_DJANGO = "6.1"
# Django version -> the newest Wagtail whose Requires-Dist allows it (7.3.4: Django>=4.2; 8.0.1:
# Django>=5.2); tests/test_swap_user_model_wagtail.py reads this and fails without it.
WAGTAIL_FOR = {"4.2": "7.3.4", "5.2": "8.0.1", "6.0": "8.0.1", "6.1": "8.0.1"}
COVERAGE_FILE = str(ROOT / ".coverage")

nox.options.sessions = [*(f"tests-{dj}" for dj in PYTHON_FOR), "lint", "coverage"]
nox.options.reuse_existing_virtualenvs = True
# The virtualenvs: .venvs/nox in the checkout, or under AUTHTOOLS_VENVS, which .ci/run sets so that
# the runs of one machine share them across fresh clones (install_once reinstalls only the clone).
nox.options.envdir = (
    str(Path(os.environ["AUTHTOOLS_VENVS"]) / "nox")
    if os.environ.get("AUTHTOOLS_VENVS")
    else str(ROOT / ".venvs" / "nox")
)

# The versions whose runs coverage measures (child processes included): the newest only. authtools
# has no branch on Django's version (none tests django.VERSION or an import that only some versions
# have), and the figure shows it: on a CI run that measured 4.2 and 6.1, 6.1's data alone missed at
# most 721 lines and 466 branches (90.1%; a few of its files were lost to the combine before they
# were read), both together 720 and 465 (90.1%), 4.2's alone 725 and 469 (90.0%). Measuring costs
# CPU: each measured process runs about a third slower, and the suite starts about 1,800 Python
# processes per version (4.2 took 310 s under coverage, 5.2 and 6.0 about 213 s unmeasured, on an
# idle 2-core machine), so the other versions run the same tests unmeasured.
# AUTHTOOLS_COVERAGE_DJANGO="4.2 5.2 6.0 6.1" measures every version.
COVERAGE_DJANGO = os.environ.get("AUTHTOOLS_COVERAGE_DJANGO", "6.1").split()


def install_once(session: nox.Session, *requirements: str) -> None:
    """pip install REQUIREMENTS unless this virtualenv already has them for this pyproject.toml.
    A virtualenv that has them for another checkout (AUTHTOOLS_VENVS) gets this checkout's
    authtools installed again, editable and without its dependencies."""
    location = Path(session.virtualenv.location)
    stamp, checkout = location / ".authtools-stamp", location / ".authtools-checkout"
    want = hashlib.sha1(
        (ROOT / "pyproject.toml").read_bytes() + " ".join(requirements).encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        if not checkout.exists() or checkout.read_text() != str(ROOT):
            session.install("--no-deps", "-e", ".")
            checkout.write_text(str(ROOT))
        return
    stamp.unlink(missing_ok=True)  # a run killed while installing leaves none
    session.install("--upgrade", "pip")
    session.install(*requirements)
    stamp.write_text(want)
    checkout.write_text(str(ROOT))


def install_mysqlclient(session: nox.Session) -> None:
    """The MariaDB/MySQL driver builds from source (libmariadb-dev and pkg-config), so it is
    installed apart and tried again on each run until it builds; without it the MariaDB tests
    skip with the reason, or fail under AUTHTOOLS_REQUIRE_DATABASES=1."""
    python = str(Path(session.bin) / "python")
    if subprocess.run([python, "-c", "import MySQLdb"], capture_output=True).returncode == 0:
        return
    log = Path(session.virtualenv.location) / "mysqlclient.log"
    with log.open("w") as out:
        built = subprocess.run(
            [python, "-m", "pip", "install", "mysqlclient>=2.2"], stdout=out, stderr=out
        )
    if built.returncode != 0:
        session.warn(
            "mysqlclient could not be built (it needs libmariadb-dev and pkg-config): "
            f"the MariaDB tests cannot run; see {log}"
        )


def run_tests(session: nox.Session, django: str) -> None:
    wagtail = [f"wagtail=={WAGTAIL_FOR[django]}"] if django in WAGTAIL_FOR else []
    install_once(session, "-e", ".[test]", f"django~={django}.0", *wagtail)
    install_mysqlclient(session)
    session.run(
        "python",
        "-c",
        "import django, sys; print('Django', django.get_version(), 'on Python', "
        "sys.version.split()[0])",
    )
    # Every test starts manage.py several times, and each start imports authtools from the
    # source tree: with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing would ever write
    # its bytecode, so every child process compiled the modules it imports again. Python reads
    # bytecode that exists whatever that variable says.
    session.run("python", "-m", "compileall", "-q", "authtools", silent=True)
    # Two pytest-xdist workers per core: a test spends much of its time waiting for its child
    # processes to start and for the database servers, and on a machine shared with other work
    # each runnable process gets its share of the cores (see the README's figures).
    workers = os.environ.get("AUTHTOOLS_TEST_WORKERS", str(2 * len(os.sched_getaffinity(0))))
    # --durations: where the time goes, in every CI log.
    pytest = ("-m", "pytest", "-p", "no:cacheprovider", "-n", workers, "--durations=15")
    if django in COVERAGE_DJANGO:
        env = {
            "COVERAGE_PROCESS_START": str(ROOT / "pyproject.toml"),
            "COVERAGE_FILE": COVERAGE_FILE,
        }
        session.run("coverage", "run", *pytest, *session.posargs, env=env)
    else:
        session.log(f"Django {django}: not measured by coverage (COVERAGE_DJANGO)")
        session.run("python", *pytest, *session.posargs, env={"COVERAGE_PROCESS_START": ""})


def tests_session(django: str) -> object:
    @nox.session(name=f"tests-{django}", python=PYTHON_FOR[django])
    def tests(session: nox.Session) -> None:
        run_tests(session, django)

    measured = "under coverage (child processes included)" if django in COVERAGE_DJANGO else ""
    tests.__doc__ = f"pytest on Django {django} {measured}".rstrip() + "."
    return tests


for _django in PYTHON_FOR:
    globals()[f"tests_{_django.replace('.', '_')}"] = tests_session(_django)


@nox.session(python=PYTHON_FOR[LINT_DJANGO])
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, mypy."""
    install_once(session, "-e", ".[test,dev]", f"django~={LINT_DJANGO}.0")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=False)
def coverage(session: nox.Session) -> None:
    """Combine the data of every test session and child process, print the figure; with
    ``-- --fail-under`` (scripts/test on a whole run, hence CI) enforce the floor set in
    pyproject.toml ([tool.coverage.report] fail_under)."""
    env = {"COVERAGE_FILE": COVERAGE_FILE}
    coverage = (sys.executable, "-m", "coverage")  # installed beside nox (scripts/test does it)
    session.run(*coverage, "combine", "--quiet", env=env)
    fail_under = [] if "--fail-under" in session.posargs else ["--fail-under=0"]
    session.run(*coverage, "report", *fail_under, env=env)
