"""The docs cannot drift: every output block of README.md and docs/*.md marked
``<!-- output: NAME -->`` is what the commands print now (tests/docs.py runs them; scripts/docs
rewrites the blocks). One test per scenario (some fill several blocks), so that xdist spreads
them; the project states several scenarios start from are built once per worker process and
copied."""

from __future__ import annotations

import pytest

from tests import docs


def test_markers_name_known_scenarios_and_every_scenario_is_used() -> None:
    assert docs.marked_names() == docs.block_names()


def test_normalising_keeps_meaning_and_drops_run_specific_parts() -> None:
    raw = (
        "AUTH_USER_MODEL = 'auth.User' (Django 4.2.30, authtools 0.1.0)\n"
        "  at /work/main/.venvs/django-4.2/lib/python3.10/site-packages/django/x.py:8\n"
        "       id 15: accounts.0001_initial (applied 2026-11-24T00:26:42.800857+00:00)\n"
        "Backup: /tmp/p/.authtools-backups/reset_user_migrations-20261124T002654088026Z\n"
    )
    assert docs.comparable(docs.normalise(raw).replace("/tmp/p", docs.PROJECT_ROOT)) == (
        "AUTH_USER_MODEL = 'auth.User' (Django X, authtools X)\n"
        "  at <site-packages>/django/x.py:8\n"
        "       id 15: accounts.0001_initial (applied 2026-01-01T00:00:00+00:00)\n"
        "Backup: /srv/mysite/.authtools-backups/reset_user_migrations-20260101T000000000000Z\n"
    )


@pytest.mark.parametrize("name", sorted(docs.SCENARIOS))
def test_committed_blocks_are_what_the_commands_print(name: str) -> None:
    outputs = docs.run_scenario(name)
    assert set(outputs) == {name, *docs.ALSO.get(name, ())}
    stale = docs.stale_blocks(outputs)
    assert not stale, "Run scripts/docs to update the docs:\n" + "\n\n".join(stale)
