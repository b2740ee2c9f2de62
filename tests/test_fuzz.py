"""Fuzzing: hypothesis-graphql operations from the exported SDL, sent to the ASGI app.

Every generated operation goes over HTTP (httpx + ASGITransport) as a partner member,
an account holder or a visitor. Whatever the operation, the server must answer without
a 5xx, without a masked internal error ("Internal server error" /
INTERNAL_SERVER_ERROR), and without a stack trace in the body.

How hypothesis meets asyncio here: the tests are `async def` functions decorated with
`@given`. pytest-asyncio recognises such tests (its AsyncHypothesisTest item) and wraps
hypothesis' inner test so that each example runs to completion on the session event
loop (asyncio_default_test_loop_scope = session in pyproject.toml), the same loop that
built the `app`/`client` fixtures and the Tortoise connections. Fixtures are set up once
per test function, not per example, so the seeded world is shared by all examples of a
test (hence the suppressed function_scoped_fixture health check; that is what we want).
Values that depend on the seeded world (real ids, cursors, slugs) are drawn with
`st.data()` from strategies built inside the test.

PARTNERDESK_FUZZ_EXAMPLES sets the total number of operations (default 2,000, split
across the tests below); `make fuzz` runs a longer session.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode
from hypothesis_graphql import strategies as gql_st

from schema import create_schema
from schema.ids import to_global_id
from tests.factories import World, build_world, pk_of
from tests.support import GraphQLClient

SDL = create_schema().as_str()
TOTAL_OPERATIONS = int(os.environ.get("PARTNERDESK_FUZZ_EXAMPLES", "2000"))
# Share of the total per test; they add up to 1.
SHARES = {
    "member queries": 0.30,
    "member mutations": 0.25,
    "visitor": 0.15,
    "account holder": 0.15,
    "invalid operations": 0.15,
}
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
MASKED = "Internal server error"
# Driver and runtime messages that reach a client unmasked (an error raised outside the
# resolvers, e.g. in an extension, skips the masking).
INTERNALS = re.compile(
    r"bindings supplied|Python int too large|invalid byte sequence for encoding|"
    r"the server expects \d+ arguments|out of int32 range|codec can't (en|de)code|"
    r"object has no attribute|sqlite3\.|asyncpg\.",
)

STATS: Counter[str] = Counter()


def examples(share: str) -> int:
    return math.ceil(TOTAL_OPERATIONS * SHARES[share])


def fuzz_settings(share: str) -> Any:
    return settings(
        max_examples=examples(share),
        deadline=None,
        database=None,  # no .hypothesis/ folder in the work tree; failures print their example
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# ---------------------------------------------------------------- values from the world


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


@dataclass
class Seeds:
    """Real values of the seeded world, so that operations reach past "not found"."""

    ids: list[str]
    strings: list[str]


async def seeds_of(client: GraphQLClient, world: World) -> Seeds:
    ids: list[str] = []
    for data in (world.a, world.b):
        for global_ids in data.ids.values():
            ids += global_ids
            ids += [str(pk_of(global_id)) for global_id in global_ids[:1]]
    ids += [to_global_id("Customer", 999_999), "", "Q3VzdG9tZXI6", "not-an-id"]
    cursors = await client.gql(
        "{ customers(first: 2) { pageInfo { endCursor } } activity(first: 2) { pageInfo { endCursor } } }",
        token=world.a.token,
    )
    strings = [
        world.a.login.slug,
        world.b.login.slug,
        world.a.login.email,
        cursors["customers"]["pageInfo"]["endCursor"],
        cursors["activity"]["pageInfo"]["endCursor"],
        "2026-01-01",
        "49.90",
        "EUR",
        "+39 06 1234 5678",
        "bücher.example",
        "Rossi",
    ]
    return Seeds(ids=ids, strings=strings)


def _isoformat(value: date | datetime) -> str:
    return value.isoformat()


def _repeated(character_and_length: tuple[str, int]) -> str:
    character, length = character_and_length
    return character * length


# Just over the column sizes and text limits of the models and resolvers.
LONG_LENGTHS = [41, 64, 101, 201, 255, 501, 2001, 5001, 20_000]


def scalars(seeds: Seeds) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Custom scalars (Date, DateTime, Upload) and better-aimed built-in ones (ID, String).

    An Upload written into the document (the only way a JSON request can try) is refused at
    validation: files come with multipart requests (tests/test_uploads.py).
    """
    short = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
    long = st.tuples(st.sampled_from("a1 é\x00"), st.sampled_from(LONG_LENGTHS)).map(_repeated)
    text = st.one_of(short, long)
    dates = st.dates().map(_isoformat)
    datetimes = st.datetimes().map(_isoformat)
    return {
        "ID": st.one_of(st.sampled_from(seeds.ids), text).map(_string),
        "String": st.one_of(text, st.sampled_from(seeds.strings)).map(_string),
        "Date": st.one_of(dates, text).map(_string),
        "DateTime": st.one_of(datetimes, text).map(_string),
        "Upload": text.map(_string),
    }


# ---------------------------------------------------------------- sending and judging


@dataclass
class Judge:
    client: GraphQLClient
    label: str

    async def send(self, operation: str, token: str | None) -> None:
        response = await self.client.http.post(
            "/graphql",
            json={"query": operation},
            headers={
                "content-type": "application/json",
                **({"authorization": f"Bearer {token}"} if token else {}),
            },
        )
        STATS["operations"] += 1
        STATS[f"operations {self.label}"] += 1
        body = response.text
        if response.status_code >= 500:
            STATS["5xx"] += 1
        codes = {
            (error.get("extensions") or {}).get("code")
            for error in _errors(response)
            if isinstance(error, dict)
        }
        if MASKED in body or "INTERNAL_SERVER_ERROR" in codes:
            STATS["masked"] += 1
        messages = " ".join(str(error.get("message")) for error in _errors(response))
        if STACK_TRACE.search(body) or INTERNALS.search(messages):
            STATS["leaks"] += 1
        assert response.status_code < 500, (operation, response.status_code, body)
        assert MASKED not in body, (operation, body)
        assert "INTERNAL_SERVER_ERROR" not in codes, (operation, body)
        assert not STACK_TRACE.search(body), (operation, body)
        assert not INTERNALS.search(messages), (operation, body)


def _errors(response: Any) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return []
    return body.get("errors") or [] if isinstance(body, dict) else []


@dataclass(repr=False)  # hypothesis prints the arguments of a failing example: keep it short
class Fuzz:
    world: World
    scalars: dict[str, st.SearchStrategy[graphql.ValueNode]]
    judge: Judge
    # Built once per test: a strategy made anew for every example costs more than the request.
    strategies: dict[str, st.SearchStrategy[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "Fuzz(<the seeded world>)"

    def strategy(self, name: str) -> st.SearchStrategy[str]:
        if name not in self.strategies:
            self.strategies[name] = STRATEGIES[name](self.scalars)
        return self.strategies[name]


@pytest.fixture
async def fuzz(client: GraphQLClient) -> Fuzz:
    world = await build_world(client)
    return Fuzz(world, scalars(await seeds_of(client, world)), Judge(client, "-"))


def _fields(root: str, *, without: set[str]) -> list[str]:
    schema = graphql.build_schema(SDL)
    type_ = schema.query_type if root == "query" else schema.mutation_type
    assert type_ is not None
    return [name for name in type_.fields if name not in without]


# Signed-in callers must not log themselves out half-way through a run.
SIGNED_IN_MUTATIONS = _fields("mutation", without={"logout"})
QUERIES = _fields("query", without=set())
Scalars = dict[str, st.SearchStrategy[graphql.ValueNode]]
STRATEGIES: dict[str, Callable[[Scalars], st.SearchStrategy[str]]] = {
    "member queries": lambda scalars: gql_st.queries(SDL, custom_scalars=scalars),
    "member mutations": lambda scalars: gql_st.mutations(
        SDL, fields=SIGNED_IN_MUTATIONS, custom_scalars=scalars
    ),
    "visitor": lambda scalars: gql_st.from_schema(SDL, custom_scalars=scalars),
    "account holder": lambda scalars: gql_st.from_schema(
        SDL, fields=[*QUERIES, *SIGNED_IN_MUTATIONS], custom_scalars=scalars
    ),
    # Mode.NEGATIVE: each operation breaks the schema once (wrong type, missing argument, ...).
    "invalid operations": lambda scalars: gql_st.from_schema(
        SDL, custom_scalars=scalars, mode=Mode.NEGATIVE
    ),
}


@fuzz_settings("member queries")
@given(data=st.data())
async def test_fuzzed_queries_as_a_partner_member(fuzz: Fuzz, data: st.DataObject) -> None:
    operation = data.draw(fuzz.strategy("member queries"))
    fuzz.judge.label = "member queries"
    token = data.draw(st.sampled_from([fuzz.world.a.token, fuzz.world.a.member_token]))
    await fuzz.judge.send(operation, token)


@fuzz_settings("member mutations")
@given(data=st.data())
async def test_fuzzed_mutations_as_a_partner_member(fuzz: Fuzz, data: st.DataObject) -> None:
    operation = data.draw(fuzz.strategy("member mutations"))
    fuzz.judge.label = "member mutations"
    token = data.draw(st.sampled_from([fuzz.world.a.token, fuzz.world.a.member_token]))
    await fuzz.judge.send(operation, token)


@fuzz_settings("visitor")
@given(data=st.data())
async def test_fuzzed_operations_as_a_visitor(fuzz: Fuzz, data: st.DataObject) -> None:
    operation = data.draw(fuzz.strategy("visitor"))
    fuzz.judge.label = "visitor"
    await fuzz.judge.send(operation, None)


@fuzz_settings("account holder")
@given(data=st.data())
async def test_fuzzed_operations_as_an_account_holder(fuzz: Fuzz, data: st.DataObject) -> None:
    operation = data.draw(fuzz.strategy("account holder"))
    fuzz.judge.label = "account holder"
    await fuzz.judge.send(operation, fuzz.world.a.requesters[0].token)


@fuzz_settings("invalid operations")
@given(data=st.data())
async def test_fuzzed_invalid_operations(fuzz: Fuzz, data: st.DataObject) -> None:
    operation = data.draw(fuzz.strategy("invalid operations"))
    fuzz.judge.label = "invalid operations"
    token = data.draw(st.sampled_from([fuzz.world.a.token, None]))
    await fuzz.judge.send(operation, token)


def test_fuzzing_totals(request: pytest.FixtureRequest) -> None:
    # Runs after the fuzz tests above (file order) and in their process: `make test` keeps a
    # module on one pytest-xdist worker. A partial run (-k) has nothing to sum.
    selected = [item for item in request.session.items if item.path == request.node.path]
    whole_module = sum(item.name.startswith("test_fuzzed_") for item in selected) == len(SHARES)
    print(
        f"fuzz totals: operations {STATS['operations']}, 5xx {STATS['5xx']}, "
        f"masked internal errors {STATS['masked']}, internals leaked {STATS['leaks']}; "
        + ", ".join(f"{share} {STATS[f'operations {share}']}" for share in SHARES)
    )
    assert STATS["5xx"] == 0
    assert STATS["masked"] == 0
    assert STATS["leaks"] == 0
    if whole_module:
        assert all(STATS[f"operations {share}"] for share in SHARES), "fuzzed in another process"
        assert STATS["operations"] >= TOTAL_OPERATIONS
