"""PARTNERDESK_ENV=production: no GraphiQL, no introspection, no suggestions, masked faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from app import create_app
from config import Settings
from tests.support import GraphQLClient


@pytest.fixture
async def production_client(base_settings: Settings) -> AsyncIterator[GraphQLClient]:
    application: Starlette = create_app(replace(base_settings, env="production"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


async def test_graphiql_is_off(production_client: GraphQLClient) -> None:
    page = await production_client.http.get("/graphql", headers={"accept": "text/html"})
    assert "PartnerDesk GraphiQL" not in page.text
    assert page.status_code in (400, 404, 406)


async def test_introspection_is_off(production_client: GraphQLClient) -> None:
    body = await production_client.raw("{ __schema { queryType { name } } }")
    assert body["errors"]
    assert "introspection has been disabled" in body["errors"][0]["message"]


async def test_no_suggestions_in_any_error(production_client: GraphQLClient) -> None:
    for query in [
        "{ viewr { realm } }",
        "{ viewer { relm } }",
        "{ customers(frist: 2) { totalCount } }",
        '{ partnerProfile(slg: "x") { slug } }',
    ]:
        body = await production_client.raw(query)
        assert body["errors"], query
        assert all("Did you mean" not in error["message"] for error in body["errors"]), body


async def test_permission_and_validation_messages_stay_readable(
    production_client: GraphQLClient,
) -> None:
    body = await production_client.raw("{ customers { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Sign in" in body["errors"][0]["message"]
    mutation = await production_client.raw(
        'mutation { registerPartner(input: {partnerName: "", slug: "!", name: "x", email: "y", password: "z"}) { errors { code field } } }'
    )
    assert {error["code"] for error in mutation["data"]["registerPartner"]["errors"]} == {
        "VALIDATION"
    }


async def test_development_mode_keeps_introspection_and_suggestions(client: GraphQLClient) -> None:
    introspection = await client.raw("{ __schema { queryType { name } } }")
    assert introspection["data"]["__schema"]["queryType"]["name"] == "Query"
    suggestion = await client.raw("{ viewr { realm } }")
    assert "Did you mean" in suggestion["errors"][0]["message"]
