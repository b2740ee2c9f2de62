"""Persisted documents: Apollo APQ (POST and GET) and a trusted-documents manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from config import Settings
from tests.support import GraphQLClient, register_partner
from tests.ws_client import next_message, session

VIEWER = "query Viewer { viewer { member { name partner { slug } } } }"
TYPENAME = "query Typename { __typename }"
# Documents outside the manifest (below), for APQ.
MINE = "query Mine { viewer { member { name } } }"
NAME = "query Name { __typename }"
TOO_DEEP = "query Deep { viewer { member { partner { members { partner { members { partner { members { partner { members { partner { name } } } } } } } } } } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


async def post(client: GraphQLClient, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.http.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# ---------------------------------------------------------------- APQ


async def test_apq_round_trip(client: GraphQLClient) -> None:
    partner = await register_partner(client)

    # when: the client first sends only the hash
    missing = await post(client, {"extensions": apq(MINE)}, partner.token)
    # then: Apollo's answer, which makes the client send the document with the hash
    assert missing["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(missing) == ["PERSISTED_QUERY_NOT_FOUND"]

    # when: it registers the document, and later sends the hash alone again
    registered = await post(client, {"query": MINE, "extensions": apq(MINE)}, partner.token)
    again = await post(client, {"extensions": apq(MINE)}, partner.token)

    # then: both answer as the full document does
    expected = await client.gql(MINE, token=partner.token)
    assert registered == again == {"data": expected}


async def test_apq_over_get_for_caches(client: GraphQLClient) -> None:
    params = {"extensions": json.dumps(apq(NAME))}
    missing = await client.http.get("/graphql", params=params)
    assert codes(missing.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "no-cache" in missing.headers["cache-control"]  # a miss is never cached
    registering = await client.http.get("/graphql", params={**params, "query": NAME})
    assert registering.json() == {"data": {"__typename": "Query"}}
    found = await client.http.get("/graphql", params={**params, "variables": "{}"})
    assert found.json() == {"data": {"__typename": "Query"}}


async def test_apq_registration_checks_the_hash(client: GraphQLClient) -> None:
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ viewer { realm } }")}}
    body = await post(client, {"query": NAME, "extensions": wrong})
    assert body["errors"][0]["message"] == "provided sha does not match query"
    assert codes(await post(client, {"extensions": wrong})) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_an_invalid_document_is_not_registered(client: GraphQLClient) -> None:
    broken = "{ viewer {"
    await post(client, {"query": broken, "extensions": apq(broken)})
    assert codes(await post(client, {"extensions": apq(broken)})) == ["PERSISTED_QUERY_NOT_FOUND"]


# ---------------------------------------------------------------- trusted documents


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A manifest as GraphQL Codegen's client preset writes it: {sha256 hash: document}."""
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha256(text): text for text in (VIEWER, TYPENAME, TOO_DEEP)}))
    return path


@pytest.fixture
def settings(base_settings: Settings, manifest: Path, request: pytest.FixtureRequest) -> Settings:
    only = getattr(request, "param", False)
    return replace(base_settings, trusted_documents=str(manifest), trusted_documents_only=only)


async def test_a_trusted_document_runs_by_its_document_id(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    expected = await client.gql(VIEWER, token=partner.token)
    for document_id in (f"sha256:{sha256(VIEWER)}", sha256(VIEWER)):
        body = await post(client, {"documentId": document_id}, partner.token)
        assert body == {"data": expected}
    # Relay and APQ clients may send the manifest's hash as a persisted query too
    assert await post(client, {"extensions": apq(VIEWER)}, partner.token) == {"data": expected}


async def test_persisted_documents_keep_the_limits(client: GraphQLClient) -> None:
    body = await post(client, {"documentId": f"sha256:{sha256(TOO_DEEP)}"})
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_persisted_documents_take_the_same_path_as_sent_ones(
    client: GraphQLClient, count_queries: Any
) -> None:
    partner = await register_partner(client)
    await client.gql(VIEWER, token=partner.token)
    count_queries.reset()
    await client.gql(VIEWER, token=partner.token)
    sent = count_queries.count
    count_queries.reset()
    await post(client, {"documentId": sha256(VIEWER)}, partner.token)
    assert count_queries.count == sent  # compiled reads (when on): one statement, kept


async def test_an_unknown_document_id_is_not_found(client: GraphQLClient) -> None:
    body = await post(client, {"documentId": "sha256:" + "0" * 64})
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize("settings", [True], indirect=True)
async def test_trusted_only_refuses_every_other_document_before_parsing(
    client: GraphQLClient,
) -> None:
    # a document outside the manifest, even one that would not parse, is refused for that
    for text in ("{ __typename }", "{ this is not GraphQL"):
        assert codes(await post(client, {"query": text})) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    # APQ cannot register new documents either
    other = "query Other { __typename }"
    refused = await post(client, {"query": other, "extensions": apq(other)})
    assert codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    # the manifest's documents run, by id or as their exact text
    assert await post(client, {"documentId": sha256(TYPENAME)}) == {"data": {"__typename": "Query"}}
    assert await post(client, {"query": TYPENAME}) == {"data": {"__typename": "Query"}}


async def subscribe_persisted(socket: ClientConnection, payload: dict[str, Any]) -> dict[str, Any]:
    await socket.send(json.dumps({"id": "p", "type": "subscribe", "payload": payload}))
    return await next_message(socket)


async def test_the_websocket_accepts_persisted_documents(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        message = await subscribe_persisted(socket, {"documentId": sha256(VIEWER)})
        assert message["type"] == "next", message
        assert message["payload"]["data"]["viewer"]["member"]["partner"]["slug"] == partner.slug
