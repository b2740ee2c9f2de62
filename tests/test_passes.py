"""The marks that keep a test out of some passes of `make test` (tests/passes.py) are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.passes import PASS_MARKS, why_wrongly_marked

pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]

ROOT = Path(__file__).resolve().parent.parent
NO_GRAPHQL, NO_TEST_DATABASE = PASS_MARKS


def test_a_test_that_needs_nothing_the_mark_rules_out_passes_the_check() -> None:
    assert why_wrongly_marked(NO_GRAPHQL, {"tmp_path"}, "def test_x(tmp_path): ...") is None
    assert why_wrongly_marked(NO_TEST_DATABASE, {"app"}, "def test_x(app): ...") is None


def test_a_test_that_talks_to_the_app_cannot_leave_the_compiled_reads_off_passes() -> None:
    # given: a test marked no_graphql that asks for the client (and so the app)
    reason = why_wrongly_marked(NO_GRAPHQL, {"client", "app", "settings"}, "")
    # then: the check names what it uses
    assert reason == "fixture app, fixture client"


def test_a_module_that_builds_an_app_or_starts_a_server_is_caught() -> None:
    for name in NO_GRAPHQL.forbidden_names:
        source = f"from somewhere import {name}\n"
        assert why_wrongly_marked(NO_GRAPHQL, set(), source) == f"{name} in its module"


def test_a_test_on_the_test_database_cannot_leave_the_postgresql_passes() -> None:
    assert why_wrongly_marked(NO_TEST_DATABASE, {"database_url"}, "") == "fixture database_url"
    for name in NO_TEST_DATABASE.forbidden_names:
        assert why_wrongly_marked(NO_TEST_DATABASE, set(), f"x = {name}\n") is not None


def test_the_makefile_leaves_marked_tests_out_by_these_names() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for mark in PASS_MARKS:
        assert f"not {mark.name}" in makefile, mark.name
