"""Test helpers: a GraphQL client that fails loudly, and factories that go through the API."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def rendered_at(seconds_ago: float = 600) -> str:
    """`renderedAt` as a real inquiry form sends it: when the form was shown, a while ago.

    Without it (or sent back within PARTNERDESK_INQUIRY_MIN_FILL_SECONDS) an inquiry is
    taken for a bot's and silently dropped.
    """
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


class GraphQLError(AssertionError):
    pass


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )

    async def upload(
        self,
        query: str,
        variables: dict[str, Any],
        files: dict[str, tuple[str, bytes]],
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST an operation with files, as the GraphQL multipart request specification says:
        `files` maps a variable path ("file", "files.0") to (file name, content)."""
        operations = {"query": query, "variables": variables}
        file_map = {str(index): [f"variables.{path}"] for index, path in enumerate(files)}
        all_headers = {"graphql-require-preflight": "1", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        return await self.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps(file_map)},
            files={
                str(index): (name, content, "text/csv")
                for index, (name, content) in enumerate(files.values())
            },
            headers=all_headers,
        )

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The whole response body (data and errors), for tests about errors."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """`data` of a response; any top-level error fails the test."""
        body = await self.raw(query, variables, token)
        if body.get("errors"):
            raise GraphQLError(f"unexpected GraphQL errors: {body['errors']}")
        return body["data"]

    async def mutate(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The single payload of a mutation, asserting its `errors` list is empty."""
        data = await self.gql(query, variables, token)
        (payload,) = data.values()
        assert payload["errors"] == [], payload["errors"]
        return payload


REGISTER_PARTNER = """
mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { token viewer { member { id partner { id slug } } } errors { code message field } }
}"""
REGISTER_ACCOUNT = """
mutation($input: RegisterAccountInput!) {
  registerAccount(input: $input) { token viewer { account { id email } } errors { code message field } }
}"""
CREATE_CUSTOMER = """
mutation($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id customerNumber displayName version } errors { code message field } }
}"""
UPDATE_PROFILE = """
mutation($input: PartnerProfileInput!) { updatePartnerProfile(input: $input) { profile { slug isPublic } errors { code field } } }
"""


@dataclass
class PartnerLogin:
    token: str
    slug: str
    partner_id: str
    member_id: str
    email: str
    password: str


async def register_partner(
    client: GraphQLClient, *, public: bool = False, slug: str | None = None
) -> PartnerLogin:
    slug = slug or unique("agency-")
    email = f"{slug}@example.com"
    password = "correct horse battery"
    payload = await client.mutate(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": f"Agency {slug}",
                "slug": slug,
                "name": "Owner Person",
                "email": email,
                "password": password,
            }
        },
    )
    member = payload["viewer"]["member"]
    login = PartnerLogin(
        payload["token"], slug, member["partner"]["id"], member["id"], email, password
    )
    if public:
        await client.mutate(UPDATE_PROFILE, {"input": {"isPublic": True}}, login.token)
    return login


@dataclass
class AccountLogin:
    token: str
    account_id: str
    email: str


async def register_account(
    client: GraphQLClient, *, verified: bool = True, **fields: Any
) -> AccountLogin:
    """A registered account holder; `verified` marks the address verified as the verification
    link would (tests of that link itself pass verified=False)."""
    email = fields.pop("email", None) or f"{unique('holder')}@example.org"
    payload = await client.mutate(
        REGISTER_ACCOUNT,
        {
            "input": {
                "name": "Anna Bianchi",
                "email": email,
                "password": "account password 1",
                **fields,
            }
        },
    )
    if verified:
        from models.account import AccountHolder

        await AccountHolder.filter(email=email).update(email_verified_at=datetime.now(UTC))
    return AccountLogin(payload["token"], payload["viewer"]["account"]["id"], email)


async def create_customer(client: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    values = {"firstName": "Mario", "lastName": unique("Rossi"), **fields}
    payload = await client.mutate(CREATE_CUSTOMER, {"input": values}, token)
    return payload["customer"]
