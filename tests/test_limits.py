"""Abuse limits: each query-shape limit at N (accepted) and N+1 (refused, never a 5xx)."""

from __future__ import annotations

import json

from graphql import parse

from config import Settings
from schema import create_schema
from schema.limits import CostEstimate
from tests.support import GraphQLClient, create_customer, register_partner

STRICT = "application/graphql-response+json"


async def send(
    client: GraphQLClient, query: str, token: str | None = None, variables: dict | None = None
) -> tuple[int, dict]:
    headers = {"content-type": "application/json", "accept": STRICT}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code < 500, response.text
    return response.status_code, response.json()


def messages(body: dict) -> str:
    return " | ".join(error["message"] for error in body.get("errors", []))


def nested_query(depth: int) -> str:
    """customer -> domains -> customer -> ... with `depth` levels of fields."""
    inner = "id"
    for level in range(depth - 1):
        inner = ("domains { %s }" if level % 2 == 0 else "customer { %s }") % inner
    return '{ customer(id: "Q3VzdG9tZXI6MQ==") { ' + inner + " } }"


async def test_depth_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    status, body = await send(client, nested_query(10), partner.token)
    assert status == 200 and "depth" not in messages(body), body
    status, body = await send(client, nested_query(11), partner.token)
    assert status == 400
    assert "exceeds maximum operation depth of 10" in messages(body)


async def test_alias_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{n}: viewer {{ realm }}" for n in range(count)) + " }"

    status, body = await send(client, aliased(15))
    assert (status, body.get("errors")) == (200, None)
    status, body = await send(client, aliased(16))
    assert status == 400
    assert "aliases" in messages(body).lower()


async def test_token_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    def tokens(count: int) -> str:  # "{", count-2 fields, "}"
        return "{ " + " ".join(["__typename"] * (count - 2)) + " }"

    _status, body = await send(client, tokens(2000))
    assert "tokens" not in messages(body)
    status, body = await send(client, tokens(2001))
    assert status == 400
    assert "more than 2000 tokens" in messages(body)


async def test_directive_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    def directed(count: int) -> str:
        return "{ " + " ".join(["__typename @include(if: true)"] * count) + " }"

    status, body = await send(client, directed(50))
    assert (status, body.get("errors")) == (200, None)
    status, body = await send(client, directed(51))
    assert status == 400
    assert "Too many directives: at most 50" in messages(body)


def test_cost_counts_lists_by_their_page_size() -> None:
    schema = create_schema()._schema
    query = "{ customers(first: 20) { totalCount edges { node { id domains { name } } } } }"
    operation = parse(query).definitions[0]
    # customers 1 + totalCount 1 + edges 1 + 20 x (node 1 + id 1 + domains 1 + 5 x name 1)
    assert CostEstimate(schema, {}, {}).operation(operation) == 163  # type: ignore[arg-type]
    with_variable = parse(
        "query($n: Int) { customers(first: $n) { edges { node { id } } } }"
    ).definitions[0]
    assert CostEstimate(schema, {}, {"n": 100}).operation(with_variable) == 1 + 1 + 100 * 2  # type: ignore[arg-type]


COSTLY = "{ customers(first: 100) { edges { node { id displayName email phone tags status domains { name } contracts { product } tasks { title } inquiries { name } } } } }"


async def test_cost_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    from dataclasses import replace

    from app import create_app

    operation = parse(COSTLY).definitions[0]
    cost = CostEstimate(create_schema()._schema, {}, {}).operation(operation)  # type: ignore[arg-type]
    partner = await register_partner(client)
    for ceiling, refused in ((cost, False), (cost - 1, True)):
        application = create_app(replace(Settings(), max_query_cost=ceiling))
        import httpx

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test"
        ) as http:
            response = await http.post(
                "/graphql",
                json={"query": COSTLY},
                headers={"authorization": f"Bearer {partner.token}", "accept": STRICT},
            )
        body = response.json()
        if refused:
            assert response.status_code == 400
            assert f"estimated cost {cost} exceeds the limit of {cost - 1}" in messages(body)
        else:
            assert response.status_code == 200 and "errors" not in body, body


async def test_default_cost_ceiling_refuses_a_huge_nested_query(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    query = "{ customers(first: 100) { edges { node { activity(first: 100) { edges { node { id summary verb at } } } } } } }"
    status, body = await send(client, query, partner.token)
    assert status == 400
    assert "exceeds the limit of 5000" in messages(body)


async def test_page_size_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    await create_customer(client, partner.token)
    for size, ok in ((100, True), (101, False)):
        status, body = await send(
            client,
            "query($n: Int) { customers(first: $n) { totalCount } domains(first: $n) { totalCount } }",
            partner.token,
            {"n": size},
        )
        assert status == 200
        if ok:
            assert "errors" not in body
        else:
            assert "must be at most 100" in messages(body)
            assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_huge_integer_for_first_is_a_clear_error(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    status, body = await send(
        client, "{ customers(first: 99999999999999999999) { totalCount } }", partner.token
    )
    assert status == 400
    assert "Int cannot represent non 32-bit signed integer" in messages(body)


async def test_body_size_limit_at_n_and_n_plus_one(client: GraphQLClient) -> None:
    def body_of(size: int) -> bytes:
        skeleton = json.dumps({"query": "{ viewer { realm } }", "padding": ""}).encode()
        return json.dumps(
            {"query": "{ viewer { realm } }", "padding": "x" * (size - len(skeleton))}
        ).encode()

    limit = 64 * 1024
    headers = {"content-type": "application/json", "accept": "application/json"}
    accepted = await client.http.post("/graphql", content=body_of(limit), headers=headers)
    refused = await client.http.post("/graphql", content=body_of(limit + 1), headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 413
    assert "at most 65536 bytes" in refused.json()["errors"][0]["message"]


async def test_batched_requests_are_refused(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql",
        json=[{"query": "{ viewer { realm } }"}] * 2,
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400


# ---------------------------------------------------------------- one cost limit, every route
# (issue 10, item 2: a float where an Int goes, a literal null, and subscriptions)

NESTED = "query($f: Int) { customers(first: $f) { edges { node { activity(first: $f) { edges { node { id summary } } } } } } }"
NESTED_NULL = "{ customers(first: null) { edges { node { activity(first: null) { edges { node { id summary verb at actorName } } } } } } }"
COSTLY_SUBSCRIPTION = "subscription { activity { customer { activity(first: 100) { edges { node { customer { activity(first: 100) { edges { node { id } } } } } } } } } }"


async def _over_http_and_socket(
    client: GraphQLClient, server_url: str, token: str, query: str, variables: dict | None = None
) -> list[str]:
    """The refusal messages of one operation sent over HTTP and over the websocket."""
    from tests.ws_client import answer_of, session

    _status, body = await send(client, query, token, variables)
    async with session(server_url, token) as socket:
        answer = await answer_of(socket, query, variables)
    return [messages(body), messages(answer)]


async def test_a_float_for_first_counts_as_the_int_it_is_coerced_to(
    client: GraphQLClient, server_url: str
) -> None:
    # given a page size sent as 100.0, which graphql-core coerces to 100
    partner = await register_partner(client)
    # then the cost is counted at 100 rows per level, and refused the same way on every route
    over_http, over_socket = await _over_http_and_socket(
        client, server_url, partner.token, NESTED, {"f": 100.0}
    )
    # customers 1 + edges 1 + 100 x (node 1 + activity 1 + edges 1 + 100 x (node, id, summary))
    cost = 2 + 100 * (3 + 100 * 3)
    assert f"estimated cost {cost} exceeds the limit of 5000" in over_http
    assert over_socket == over_http


async def test_a_null_page_size_counts_as_the_default_page(
    client: GraphQLClient, server_url: str
) -> None:
    # given first: null, which the resolvers answer with the default page of 20
    partner = await register_partner(client)
    operation = parse(NESTED_NULL).definitions[0]
    # then the estimate counts 20 rows, not none
    cost = CostEstimate(create_schema()._schema, {}, {}).operation(operation)  # type: ignore[arg-type]
    assert cost == 1 + 1 + 20 * (1 + 1 + 1 + 20 * (1 + 5))
    status, body = await send(client, NESTED_NULL, partner.token)
    assert status == 200 and "errors" not in body, body


async def test_subscriptions_are_cost_limited_like_any_operation(
    client: GraphQLClient, server_url: str
) -> None:
    from tests.ws_client import answer_of, session

    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        answer = await answer_of(socket, COSTLY_SUBSCRIPTION)
    assert "Query is too expensive: estimated cost" in messages(answer)
    assert "exceeds the limit of 5000" in messages(answer)
