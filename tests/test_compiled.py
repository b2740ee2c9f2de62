"""The compiled read path answers exactly like the resolvers, in one SQL statement.

Fixed queries cover every supported shape; generated queries (hypothesis-graphql) check that
the two paths agree, errors included, on whatever else a client may send.
"""

from __future__ import annotations

import base64
import os
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import strawberry
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis_graphql import strategies as graphql_strategies
from starlette.applications import Starlette

from app import create_app
from config import Settings
from models.customer import Customer
from schema import create_schema
from schema.compiled import CompiledReads
from tests.conftest import StatementCounter
from tests.support import (
    GraphQLClient,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
)

ITEMS = """
mutation($d: DomainInput!, $c: ContractInput!, $t: TaskInput!, $t2: TaskInput!) {
  createDomain(input: $d) { errors { code message } }
  createContract(input: $c) { errors { code message } }
  createTask(input: $t) { errors { code message } }
  second: createTask(input: $t2) { errors { code message } }
}"""

SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted errors { code } } }"
SEND = "mutation($input: SendAccessInvitationInput!) { sendAccessInvitation(input: $input) { invitation { id } errors { code } } }"

QUERIES = [
    ("{ customers { totalCount } }", {}),
    ("query($n: Int) { customers(first: $n) { totalCount pageInfo { hasNextPage } } }", {"n": 1}),
    (
        "{ customers(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id customerNumber displayName } } } }",
        {},
    ),
    (
        "query($n: Int, $after: String) { customers(first: $n, after: $after) { edges { cursor node { id } } pageInfo { endCursor hasNextPage } } }",
        {"n": 2},
    ),
    (
        "{ customers(first: 5, orderBy: {field: CREATED_AT, direction: DESC}) { edges { cursor node { displayName createdAt updatedAt } } } }",
        {},
    ),
    (
        "{ customers(first: 5, orderBy: {field: CUSTOMER_NUMBER}) { edges { cursor node { customerNumber } } pageInfo { startCursor endCursor } } }",
        {},
    ),
    (
        '{ customers(first: 10, filter: {search: "ross"}) { totalCount edges { node { displayName email phone } } } }',
        {},
    ),
    (
        '{ customers(first: 10, filter: {tag: "VIP", status: ACTIVE, source: MANUAL}) { totalCount edges { node { tags status source } } } }',
        {},
    ),
    (
        "{ customers(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage startCursor endCursor } } }",
        {},
    ),
    (
        """{ customers(first: 20) { edges { node {
          id customerNumber kind displayName firstName lastName companyName email phone
          address { street postalCode city country __typename } vatId language notes tags status source version createdAt updatedAt
          domains { id name asciiName status expiresOn createdAt }
          contracts { id contractNumber product status startsOn endsOn monthlyFee { amount currency } createdAt }
          tasks { id title description status priority dueOn createdAt completedAt }
          open: tasks(status: OPEN) { title }
          __typename } } } }""",
        {},
    ),
    (
        "query Q($id: ID!) { customer(id: $id) { ...F alias: displayName } } fragment F on Customer { id customerNumber domains { name } }",
        None,
    ),
    (
        "query($id: ID!, $skip: Boolean!) { customer(id: $id) { id email @skip(if: $skip) phone @include(if: $skip) ... on Customer { tags } } }",
        None,
    ),
    (
        "{ pendingInvitationCount __typename customers(first: 1) { __typename edges { __typename node { __typename } } } }",
        {},
    ),
    ('{ customer(id: "Q3VzdG9tZXI6OTk5OTk5") { id } }', {}),
    # the filters and order users asked for (issue 11): declared once, both paths serve them
    (
        "query($after: DateTime, $before: DateTime) { customers(first: 10, filter: {createdAfter: $after, createdBefore: $before}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount edges { cursor node { displayName createdAt updatedAt } } pageInfo { endCursor hasNextPage } } }",
        {"after": "2026-01-01T12:00:00+00:00", "before": "2099-01-01T00:00:00+00:00"},
    ),
    (
        '{ customers(first: 3, filter: {createdBefore: "2026-01-01T12:00:00.000001+00:00"}, orderBy: {field: UPDATED_AT}) { totalCount edges { cursor node { customerNumber } } } }',
        {},
    ),
    (
        "{ pendingInvitationCount viewer { realm account { id } member { id email name role __typename partner { id slug name pendingInvitationCount newInquiryCount } } } }",
        {},
    ),
]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """This module compares the two paths, whichever the suite runs with."""
    return replace(base_settings, compiled_reads=True)


@pytest.fixture
async def resolvers_only(base_settings: Settings) -> AsyncIterator[GraphQLClient]:
    """An app on the same database with the compiled path switched off."""
    application: Starlette = create_app(replace(base_settings, compiled_reads=False))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


@pytest.fixture
async def world(client: GraphQLClient) -> dict[str, str]:
    partner = await register_partner(client, public=True)
    other = await register_partner(client)
    for n in range(2):
        await client.mutate(
            SUBMIT,
            {
                "input": {
                    "partnerSlug": partner.slug,
                    "name": f"Visitor {n}",
                    "email": "v@example.com",
                    "message": "Hi",
                    "privacyConsent": True,
                    "renderedAt": rendered_at(),
                }
            },
        )
    account = await register_account(client)
    await client.mutate(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
    )
    await create_customer(client, other.token, lastName="Rossi of another partner")
    first = await create_customer(
        client,
        partner.token,
        firstName="Mario",
        lastName="Rossi",
        email="mario@rossi.it",
        phone="+39 06 1234 5678",
        tags=["vip", "Ünïcode"],
        address={"city": "Roma", "country": "IT"},
        notes='multi\nline "quoted" \\ text',
    )
    await create_customer(
        client, partner.token, kind="COMPANY", companyName="Bäckerei Ross GmbH", tags=["vip"]
    )
    for n in range(4):
        await create_customer(client, partner.token, firstName=f"Person{n}", lastName="Bianchi")
    # a creation time with zero microseconds: the one case isoformat() writes differently
    customer_pk = int(base64.b64decode(first["id"]).decode().split(":")[1])
    await Customer.filter(id=customer_pk).update(created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    for fee in ("19.9", "100", "0.1234"):
        created = await client.gql(
            ITEMS,
            {
                "d": {
                    "name": f"rossi-{fee.replace('.', '-')}.it",
                    "customerId": first["id"],
                    "expiresOn": "2027-01-31",
                },
                "c": {
                    "product": f"Hosting {fee}",
                    "startsOn": "2026-01-01",
                    "customerId": first["id"],
                    "monthlyFee": {"amount": fee, "currency": "eur"},
                },
                "t": {
                    "title": f"Open task {fee}",
                    "customerId": first["id"],
                    "dueOn": "2026-12-01",
                },
                "t2": {"title": f"Undated task {fee}", "customerId": first["id"]},
            },
            partner.token,
        )
        assert all(payload["errors"] == [] for payload in created.values()), created
    return {"token": partner.token, "customer_id": first["id"]}


@pytest.fixture
def compiled_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per compiled attempt, whether the compiled path answered it (the pipeline runs
    every compiled statement through `CompiledReads.run`)."""
    answered: list[bool] = []
    original = CompiledReads.run

    async def recording(self: CompiledReads, *args: Any) -> object:
        result = await original(self, *args)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(CompiledReads, "run", recording)
    return answered


async def test_compiled_answers_equal_the_resolvers(
    client: GraphQLClient,
    resolvers_only: GraphQLClient,
    world: dict[str, str],
    count_queries: StatementCounter,
    compiled_answers: list[bool],
) -> None:
    for query, variables in QUERIES:
        for skip in (True, False):
            values = {"id": world["customer_id"], "skip": skip} if variables is None else variables
            count_queries.reset()
            compiled_answers.clear()
            compiled = await client.raw(query, values, world["token"])
            statements = count_queries.count
            assert compiled_answers == [True], f"fell back to the resolvers: {query}"
            expected = await resolvers_only.raw(query, values, world["token"])
            assert compiled == expected, query
            assert "errors" not in compiled, compiled
            if "newInquiryCount" in query:
                partner = compiled["data"]["viewer"]["member"]["partner"]
                assert (partner["newInquiryCount"], partner["pendingInvitationCount"]) == (2, 1)
            assert statements <= 2, f"{statements} statements for {query}"  # token + one compiled
            if variables is not None:
                break


async def test_cursors_from_either_path_work_in_the_other(
    client: GraphQLClient, resolvers_only: GraphQLClient, world: dict[str, str]
) -> None:
    query = "query($after: String) { customers(first: 2, after: $after) { edges { node { customerNumber } } pageInfo { endCursor } } }"
    compiled_page = (await client.gql(query, {}, world["token"]))["customers"]
    resolver_next = await resolvers_only.gql(
        query, {"after": compiled_page["pageInfo"]["endCursor"]}, world["token"]
    )
    compiled_next = await client.gql(
        query, {"after": compiled_page["pageInfo"]["endCursor"]}, world["token"]
    )
    assert resolver_next == compiled_next
    assert resolver_next["customers"]["edges"]


async def test_statement_count_does_not_grow_with_page_size(
    client: GraphQLClient, world: dict[str, str], count_queries: StatementCounter
) -> None:
    query = "query($n: Int) { customers(first: $n) { edges { node { id domains { name } contracts { product } tasks(status: OPEN) { title } } } } }"
    await client.gql(query, {"n": 3}, world["token"])  # the token's first request looks it up
    counts = []
    for size in (1, 6):
        count_queries.reset()
        await client.gql(query, {"n": size}, world["token"])
        counts.append(count_queries.count)
    # one statement each: new variables compile anew, with the token checked inside it
    assert counts == [1, 1], counts


# ---------------------------------------------------------------- generated queries

# Root fields the compiled path understands (others always take the resolvers).
COMPILED_ROOTS = ["customers", "customer", "viewer", "pendingInvitationCount"]
EXAMPLES = int(os.environ.get("PARTNERDESK_DIFFERENTIAL_EXAMPLES", "300"))


def generated_queries(count: int) -> list[str]:
    """`count` distinct valid queries over the compiled roots, reproducibly."""
    strategy = graphql_strategies.queries(
        create_schema().as_str(), fields=COMPILED_ROOTS, allow_x00=False
    )
    found: list[str] = []

    # Hypothesis drives a plain function that only collects: the HTTP calls happen in the
    # async test on the session event loop, where the database connections live.
    @hypothesis_settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(query: str) -> None:
        if query not in found:
            found.append(query)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return found


async def test_generated_queries_get_identical_answers(
    client: GraphQLClient,
    resolvers_only: GraphQLClient,
    world: dict[str, str],
    compiled_answers: list[bool],
) -> None:
    queries = generated_queries(EXAMPLES)
    compiled_count = 0
    for query in queries:
        compiled_answers.clear()
        compiled = await client.post(query, {}, world["token"])
        expected = await resolvers_only.post(query, {}, world["token"])
        assert compiled.status_code == expected.status_code, query
        assert compiled.json() == expected.json(), query
        compiled_count += sum(compiled_answers)
    print(
        f"differential: {len(queries)} generated queries, {compiled_count} answered by the compiled path"
    )
    assert len(queries) >= EXAMPLES // 2
    assert compiled_count >= len(queries) // 10, (
        "the generator should reach the compiled path often"
    )


# ---------------------------------------------------------------- the HTTP fast lane

FAST_LANE_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # answered by the lane: defaults of omitted variables apply, the named operation runs
    (
        "query($first: Int = 2) { customers(first: $first) { edges { node { customerNumber } } } }",
        {},
        None,
    ),
    (
        "query A { customers(first: 1) { totalCount } } query B { viewer { realm } }",
        {},
        "B",
    ),
    # left to the ordinary path, which reports the error
    ("query($first: Int!) { customers(first: $first) { totalCount } }", {}, None),
    ("query($first: Int) { customers(first: $first) { totalCount } }", {"first": "x"}, None),
    ("query A { viewer { realm } } query B { viewer { realm } }", {}, None),
    ("query A { viewer { realm } }", {}, "C"),
    ("{ customers(first: 1) { totalCount nope } }", {}, None),
    ("{ customers(first: 1) { totalCount }", {}, None),
    ("{ customers(first: 101) { totalCount } }", {}, None),
    # executed by the lane without Strawberry: resolver errors, payload errors, bad variables
    ('{ inquiry(id: 5) { id } customer(id: "x") { id } }', {}, None),
    ('{ activity(first: 2, after: "not-a-cursor") { totalCount } }', {}, None),
    (
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { errors { code field } } }",
        {"input": {"kind": "PERSON"}},
        None,
    ),
    (
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { errors { code } } }",
        {"input": {"kind": "NOPE"}},
        None,
    ),
]


async def test_the_fast_lane_answers_like_the_ordinary_path(
    client: GraphQLClient, resolvers_only: GraphQLClient, world: dict[str, str]
) -> None:
    for query, variables, operation_name in FAST_LANE_CASES:
        for accept in ("application/json", "application/graphql-response+json"):
            body = {"query": query, "variables": variables, "operationName": operation_name}
            headers = {"authorization": f"Bearer {world['token']}", "accept": accept}
            fast = await client.http.post("/graphql", json=body, headers=headers)
            ordinary = await resolvers_only.http.post("/graphql", json=body, headers=headers)
            assert (fast.status_code, fast.json()) == (ordinary.status_code, ordinary.json()), query
            assert fast.headers["content-type"] == ordinary.headers["content-type"]


async def test_no_operation_runs_through_strawberrys_own_pipeline(
    client: GraphQLClient,
    world: dict[str, str],
    count_queries: StatementCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executed: list[str | None] = []
    original = strawberry.Schema.execute

    async def recording(self: strawberry.Schema, query: str | None, *args: Any, **kw: Any) -> Any:
        executed.append(query)
        return await original(self, query, *args, **kw)

    monkeypatch.setattr(strawberry.Schema, "execute", recording)
    # a member's supported query: one compiled statement besides the token look-up
    count_queries.reset()
    data = await client.gql("{ customers(first: 3) { totalCount } }", {}, world["token"])
    assert data == {"customers": {"totalCount": 6}}
    assert count_queries.count == 2
    # an account holder: the resolvers refuse, without looking the token up again
    account = await register_account(client)
    count_queries.reset()
    refused = await client.raw("{ customers(first: 3) { totalCount } }", {}, account.token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert count_queries.count == 1
    # neither, nor the registration (a mutation), nor a document with an error went
    # through Strawberry's Schema.execute: every operation takes the one pipeline
    await client.raw("{ customers(first: 3) { totalCount nope } }", {}, world["token"])
    assert executed == []


async def test_a_kept_statement_checks_its_token_every_time(
    client: GraphQLClient, world: dict[str, str], count_queries: StatementCounter
) -> None:
    query = "{ customers(first: 2) { totalCount } }"
    # the first request looks the token up and compiles; the next ones are one statement
    assert await client.gql(query, {}, world["token"]) == {"customers": {"totalCount": 6}}
    count_queries.reset()
    assert await client.gql(query, {}, world["token"]) == {"customers": {"totalCount": 6}}
    assert count_queries.count == 1
    # signed out: the kept statement reads nothing, and the answer is the resolvers' refusal
    await client.mutate("mutation { logout { errors { code } } }", {}, world["token"])
    refused = await client.raw(query, {}, world["token"])
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- over the websocket
# (issue 10, item 5: a compiled answer reached websocket clients as `{}`)


async def test_queries_over_the_websocket_answer_like_http(
    client: GraphQLClient,
    resolvers_only: GraphQLClient,
    world: dict[str, str],
    server_url: str,
    compiled_answers: list[bool],
) -> None:
    from tests.ws_client import session

    cases: list[tuple[str, dict[str, Any], str | None]] = [
        (q, v if v is not None else {"id": world["customer_id"], "skip": False}, None)
        for q, v in QUERIES
    ]
    cases += [case for case in FAST_LANE_CASES if not case[0].lstrip().startswith("mutation")]
    async with session(server_url, world["token"]) as socket:
        for number, (query, variables, operation_name) in enumerate(cases):
            compiled_answers.clear()
            over_http = await resolvers_only.post(query, variables, world["token"])
            over_socket = await _socket_answer(
                socket, query, variables, operation_name, f"q{number}"
            )
            expected = (
                over_http.json()
                if operation_name is None
                else await _named(resolvers_only, query, variables, operation_name, world["token"])
            )
            if over_socket.get("data") is None and "errors" in over_socket:
                # a request error: an `error` message over the socket, data null over HTTP
                assert over_socket["errors"] == expected["errors"], query
            else:
                assert over_socket == expected, query


async def _socket_answer(
    socket: Any,
    query: str,
    variables: dict[str, Any],
    operation_name: str | None,
    operation_id: str,
) -> dict[str, Any]:
    import json

    from tests.ws_client import next_message

    payload: dict[str, Any] = {"query": query, "variables": variables}
    if operation_name is not None:
        payload["operationName"] = operation_name
    await socket.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
    message = await next_message(socket)
    if message["type"] == "error":
        return {"data": None, "errors": message["payload"]}
    assert message["type"] == "next", message
    assert await next_message(socket) == {"id": operation_id, "type": "complete"}
    return message["payload"]


async def _named(
    client: GraphQLClient, query: str, variables: dict[str, Any], name: str, token: str
) -> dict[str, Any]:
    response = await client.http.post(
        "/graphql",
        json={"query": query, "variables": variables, "operationName": name},
        headers={"authorization": f"Bearer {token}"},
    )
    return response.json()
