"""A websocket never outlives its bearer token (issue 10, item 1).

Signing out closes the token's open sockets at once (pushed over the event broker, not
polled); every `subscribe` re-checks the token; a socket is closed at its token's expiry;
operations still running end with an error and get nothing more. The same over HTTP: a
dead token is a visitor's.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from models.auth import AuthToken
from models.customer import Customer
from tests.support import GraphQLClient, register_partner
from tests.ws_client import answer_of, closed_with, next_data, session, subscribe

ACTIVITY = "subscription { activity { verb summary } }"
PENDING_COUNTS = "subscription { pendingCounts { invitations inquiries } }"
LOGOUT = "mutation { logout { ok errors { code } } }"
CREATE = (
    'mutation { createCustomer(input: {lastName: "Late"}) { customer { id } errors { code } } }'
)
INQUIRIES = "{ inquiries(first: 5) { totalCount } }"


async def _revoke_quietly(email: str) -> None:
    """Revoke a member's tokens in the database only: no event, as if it had been lost."""
    await AuthToken.filter(member__email=email).update(revoked_at=datetime.now(UTC))


async def test_signing_out_closes_the_open_socket_at_once(
    client: GraphQLClient, server_url: str
) -> None:
    # given a dashboard following the activity feed
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, ACTIVITY, "feed")
        await asyncio.sleep(0.1)
        # when the member signs out over HTTP
        await client.mutate(LOGOUT, token=partner.token)
        # then the running subscription ends with an error and the socket closes with 4401
        code, messages = await closed_with(socket)
    assert code == 4401
    assert [(m["type"], m["id"]) for m in messages] == [("error", "feed")]
    assert messages[0]["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_every_subscribe_rechecks_the_token(client: GraphQLClient, server_url: str) -> None:
    # given an open socket whose token is revoked without any event reaching the server
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        await _revoke_quietly(partner.email)
        # when it asks for anything: a mutation, a query, a subscription
        await subscribe(socket, CREATE, "mutation")
        code, messages = await closed_with(socket)
    # then nothing ran: the socket is closed with 4401, and no customer was created
    assert code == 4401
    assert all(message["type"] != "next" for message in messages)
    assert await Customer.all().count() == 0


async def test_a_dead_token_gets_no_further_events(client: GraphQLClient, server_url: str) -> None:
    # given a dashboard whose token is revoked quietly while it listens
    partner = await register_partner(client, public=True)
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, PENDING_COUNTS, "counts")
        assert (await next_data(socket))["data"]["pendingCounts"]["inquiries"] == 0
        await _revoke_quietly(partner.email)
        # when the next operation is sent
        await subscribe(socket, INQUIRIES, "list")
        code, messages = await closed_with(socket)
    # then the running subscription is ended with an error before the socket closes
    assert code == 4401
    assert ("error", "counts") in [(m["type"], m.get("id")) for m in messages]
    assert all(m["type"] != "next" for m in messages)


async def test_a_socket_is_closed_when_its_token_expires(
    client: GraphQLClient, server_url: str
) -> None:
    # given a token that expires in a moment
    partner = await register_partner(client)
    expiry = datetime.now(UTC) + timedelta(seconds=1.5)
    await AuthToken.filter(member__email=partner.email).update(expires_at=expiry)
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, ACTIVITY, "feed")
        # when it expires, then the server closes the socket with 4401, not later
        code, messages = await closed_with(socket, within=5)
        closed_at = datetime.now(UTC)
    assert code == 4401
    assert timedelta(0) <= closed_at - expiry < timedelta(seconds=2)
    assert [(m["type"], m["id"]) for m in messages] == [("error", "feed")]


async def test_queries_over_the_socket_work_while_the_token_lives(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        answer = await answer_of(socket, INQUIRIES)
    assert answer == {"data": {"inquiries": {"totalCount": 0}}}


async def test_a_signed_out_token_is_a_visitors_over_http(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    await client.mutate(LOGOUT, token=partner.token)
    refused = await client.raw(INQUIRIES, token=partner.token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    created = await client.gql(CREATE, token=partner.token)
    assert created["createCustomer"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_statement_compiled_for_a_member_reads_nothing_once_signed_out(
    client: GraphQLClient,
) -> None:
    # given a member whose queries were compiled (the pipeline remembers who the token was)
    partner = await register_partner(client)
    query = "query($n: Int) { customers(first: $n) { totalCount } }"
    assert (await client.gql(query, {"n": 1}, partner.token))["customers"]["totalCount"] == 0
    # when they sign out and a new variable set is compiled for the same token
    await client.mutate(LOGOUT, token=partner.token)
    refused = await client.raw(query, {"n": 2}, partner.token)
    # then nothing is read: the statement checks the token itself
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
