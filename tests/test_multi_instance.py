"""Two `partnerdesk serve` processes on one PostgreSQL and the local Redis: a mutation served
by one reaches the subscribers connected to the other."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import ServerProcess
from tests.support import REGISTER_PARTNER, rendered_at, unique
from tests.ws_client import closed_with, session, subscribe

REDIS_URL = os.environ.get("PARTNERDESK_TEST_REDIS_URL")
SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted errors { code } } }"
PROFILE = "mutation { updatePartnerProfile(input: {isPublic: true}) { errors { code } } }"

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        REDIS_URL is None,
        reason="needs Redis: set PARTNERDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0",
    ),
]


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    assert REDIS_URL is not None
    environment = {
        "PARTNERDESK_DATABASE_URL": database_url,
        "PARTNERDESK_REDIS_URL": REDIS_URL,
        # Its own channels and keys: other test runs may share this Redis at the same time.
        "PARTNERDESK_REDIS_PREFIX": f"pdtest-{uuid.uuid4().hex[:12]}",
        "PARTNERDESK_RATE_LIMIT_REGISTER_IP": "1000/minute",
        "PARTNERDESK_RATE_LIMIT_INQUIRY_IP": "1000/minute",
    }
    first = ServerProcess(tmp_path / "one", extra_environment=environment)
    second = ServerProcess(tmp_path / "two", extra_environment=environment)
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def graphql(
    server: ServerProcess, query: str, variables: dict | None = None, token: str | None = None
) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{server.base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=10,
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def test_a_mutation_on_one_instance_reaches_subscribers_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    # given a public partner, registered through the first instance
    first, second = two_servers
    slug = unique("multi-")
    registered = graphql(
        first,
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Multi",
                "slug": slug,
                "name": "Owner",
                "email": f"{slug}@example.com",
                "password": "long enough pw",
            }
        },
    )
    token = registered["registerPartner"]["token"]
    graphql(first, PROFILE, token=token)
    # and a dashboard connected to the second instance
    url = second.base_url.replace("http://", "ws://") + "/graphql"
    async with session(url, token) as socket:
        await subscribe(socket, "subscription { pendingCounts { inquiries } }", "counts")
        await subscribe(socket, "subscription { inquiryReceived { name } }", "new")
        first_counts = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert first_counts["payload"]["data"] == {"pendingCounts": {"inquiries": 0}}
        await asyncio.sleep(0.3)  # both subscriptions are registered with Redis
        # when an inquiry is submitted through the first instance
        submitted = await asyncio.to_thread(
            graphql,
            first,
            SUBMIT,
            {
                "input": {
                    "partnerSlug": slug,
                    "name": "Across Instances",
                    "email": "a@example.com",
                    "message": "Hi",
                    "privacyConsent": True,
                    "renderedAt": rendered_at(),
                }
            },
        )
        assert submitted["submitInquiry"]["accepted"] is True
        # then the second instance's subscribers hear of it
        received = {}
        for _ in range(2):
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            received[message["id"]] = message["payload"]["data"]
    assert received == {
        "counts": {"pendingCounts": {"inquiries": 1}},
        "new": {"inquiryReceived": {"name": "Across Instances"}},
    }


async def test_signing_out_on_one_instance_closes_the_socket_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    # given a member signed in through the first instance, with a dashboard on the second
    first, second = two_servers
    slug = unique("revoke-")
    registered = graphql(
        first,
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Revoke",
                "slug": slug,
                "name": "Owner",
                "email": f"{slug}@example.com",
                "password": "long enough pw",
            }
        },
    )
    token = registered["registerPartner"]["token"]
    url = second.base_url.replace("http://", "ws://") + "/graphql"
    async with session(url, token) as socket:
        await subscribe(socket, "subscription { activity { verb } }", "feed")
        await asyncio.sleep(0.5)  # the revocation listener is subscribed with Redis
        # when the member signs out through the first instance
        await asyncio.to_thread(graphql, first, "mutation { logout { ok } }", None, token)
        # then the second instance ends the subscription and closes the socket with 4401
        code, messages = await closed_with(socket, within=5)
    assert code == 4401
    assert [(message["type"], message["id"]) for message in messages] == [("error", "feed")]
