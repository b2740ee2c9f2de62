"""Which of the four passes of `make test` a test runs in, and the check that keeps it honest.

`make test` runs the suite on SQLite and on PostgreSQL, each with the compiled read path on
and off. A test runs in every pass unless it carries one of these marks, each of which says
which difference the test cannot see:

- `no_graphql`: sends no GraphQL operation to PartnerDesk, so the compiled read path cannot
  change its outcome; runs only in the passes with compiled reads on.
- `no_test_database`: touches no database of the backend under test (at most a SQLite
  database of its own); runs only in the SQLite passes.

A test with both runs once. At collection, every marked test is checked against what would
make its mark wrong: the fixtures it uses and the names its module mentions.

A parallel pass (pytest-xdist, --dist loadfile) hands out whole modules in collection order;
longest_first() puts the modules that take longest at the front, so that none of them starts
last and keeps one worker busy alone while the others have finished.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PassMark:
    name: str
    description: str
    # A test with this mark must use none of these fixtures (directly or through others)...
    forbidden_fixtures: frozenset[str]
    # ...and its module must mention none of these names.
    forbidden_names: tuple[str, ...]


PASS_MARKS = (
    PassMark(
        "no_graphql",
        "sends no GraphQL operation to PartnerDesk: runs only with compiled reads on",
        # Every app of the suite is built by or beside these; a subprocess server is started
        # with ServerProcess.
        frozenset({"app", "client", "server_url"}),
        ("create_app", "ServerProcess", "running_server"),
    ),
    PassMark(
        "no_test_database",
        "touches no database of the backend under test: runs only in the SQLite passes",
        frozenset({"database_url", "backend"}),
        ("BACKEND", "POSTGRES_URL", "PARTNERDESK_TEST_DATABASE_URL"),
    ),
)


def why_wrongly_marked(mark: PassMark, fixtures: set[str], module_source: str) -> str | None:
    """What a test with `mark` uses that the mark rules out, or None."""
    used = sorted(mark.forbidden_fixtures & fixtures)
    mentioned = [name for name in mark.forbidden_names if name in module_source]
    if not used and not mentioned:
        return None
    return ", ".join(
        [f"fixture {name}" for name in used] + [f"{name} in its module" for name in mentioned]
    )


def check_pass_marks(items: list[pytest.Item]) -> None:
    """Stops the run when a marked test uses what its mark rules out."""
    sources: dict[Path, str] = {}
    problems = []
    for item in items:
        for mark in PASS_MARKS:
            if item.get_closest_marker(mark.name) is None:
                continue
            path = item.path
            if path not in sources:
                sources[path] = path.read_text()
            # A test function's fixtures, with every fixture they use in turn.
            fixtures = set(getattr(item, "fixturenames", ()))
            reason = why_wrongly_marked(mark, fixtures, sources[path])
            if reason:
                problems.append(f"{item.nodeid} is marked {mark.name} but uses {reason}")
    if problems:
        raise pytest.UsageError(
            "tests that would drop out of passes they belong in (tests/passes.py):\n"
            + "\n".join(problems)
        )


# Each takes tens of seconds in a pass (the fuzz tests over a minute in the first); the other
# modules follow, those with more tests first. A stale list costs time, never a test.
LONGEST_MODULES = (
    "test_fuzz.py",
    "test_browser.py",
    "test_mail_worker.py",
    "test_multi_instance.py",
    "test_workers.py",
    "test_webhook_delivery.py",
)


def longest_first(items: list[pytest.Item]) -> None:
    """Reorders `items` module by module, keeping the order of the tests within a module."""
    tests_per_module = Counter(item.path for item in items)

    def rank(item: pytest.Item) -> tuple[int, int, str]:
        name = item.path.name
        listed = LONGEST_MODULES.index(name) if name in LONGEST_MODULES else len(LONGEST_MODULES)
        return listed, -tests_per_module[item.path], str(item.path)

    items.sort(key=rank)
