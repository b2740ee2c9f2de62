"""Subscriptions over graphql-transport-ws: authentication, delivery, scoping, limits, clean-up."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from config import Settings
from models.auth import AuthToken
from tests.support import GraphQLClient, register_account, register_partner, rendered_at
from tests.ws_client import next_data, nothing_arrives, rejected_with, session, subscribe

PENDING_COUNTS = "subscription { pendingCounts { invitations inquiries } }"
INQUIRY_RECEIVED = "subscription { inquiryReceived { name message status } }"
ACTIVITY = "subscription { activity { verb summary customer { displayName } } }"
INVITATION_RECEIVED = "subscription { invitationReceived { status scope requester { name } } }"
SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted errors { code } } }"
SEND = "mutation($input: SendAccessInvitationInput!) { sendAccessInvitation(input: $input) { invitation { id } errors { code } } }"
DISMISS = "mutation($input: DismissInquiryInput!) { dismissInquiry(input: $input) { inquiry { status } errors { code } } }"
INQUIRIES = "{ inquiries(first: 5) { edges { node { id } } } }"


@pytest.fixture
def settings(base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    # A generous init timeout by default: 50 handshakes at once share the test's event loop
    # with the server, and a busy CI machine must not turn that into 4408s. The timeout test
    # asks for a short one through indirect parametrisation.
    init_timeout = getattr(request, "param", 10.0)
    return replace(base_settings, ws_init_timeout_seconds=init_timeout, ws_max_subscriptions=3)


def inquiry(slug: str, name: str = "Ada Lovelace") -> dict[str, Any]:
    return {
        "input": {
            "partnerSlug": slug,
            "name": name,
            "email": "ada@example.com",
            "message": "Hello",
            "privacyConsent": True,
            "renderedAt": rendered_at(),
        }
    }


async def test_connections_without_a_partner_token_are_refused_with_4403(
    client: GraphQLClient, server_url: str
) -> None:
    # given tokens of every wrong kind
    account = await register_account(client)
    expired = await register_partner(client)
    await AuthToken.filter(member__email=expired.email).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    payloads = [
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": f"Bearer {account.token}"},
        {"authorization": f"Bearer {expired.token}"},
        {"authorization": "Basic abc"},
    ]
    # then each is closed with 4403 before any subscription runs
    for payload in payloads:
        assert await rejected_with(server_url, payload) == 4403, payload


@pytest.mark.parametrize("settings", [0.5], indirect=True)
async def test_no_connection_init_times_out(server_url: str) -> None:
    assert await rejected_with(server_url, None) == 4408


async def test_pending_counts_come_at_once_and_after_every_change(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client, public=True)
    account = await register_account(client)
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, PENDING_COUNTS)
        assert await next_data(socket) == {
            "data": {"pendingCounts": {"invitations": 0, "inquiries": 0}}
        }
        # when an inquiry arrives, then an authorization, then the inquiry is dismissed
        await client.mutate(SUBMIT, inquiry(partner.slug))
        assert await next_data(socket) == {
            "data": {"pendingCounts": {"invitations": 0, "inquiries": 1}}
        }
        await client.mutate(
            SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
        )
        assert await next_data(socket) == {
            "data": {"pendingCounts": {"invitations": 1, "inquiries": 1}}
        }
        inquiry_id = (await client.gql(INQUIRIES, token=partner.token))["inquiries"]["edges"][0][
            "node"
        ]["id"]
        await client.mutate(
            DISMISS, {"input": {"inquiryId": inquiry_id, "reason": "spam"}}, partner.token
        )
        assert await next_data(socket) == {
            "data": {"pendingCounts": {"invitations": 1, "inquiries": 0}}
        }


async def test_events_reach_only_the_partner_concerned_once(
    client: GraphQLClient, server_url: str
) -> None:
    # given two partners, each with a subscriber
    mine = await register_partner(client, public=True)
    theirs = await register_partner(client, public=True)
    async with (
        session(server_url, mine.token) as my_socket,
        session(server_url, theirs.token) as their_socket,
    ):
        await subscribe(my_socket, INQUIRY_RECEIVED)
        await subscribe(their_socket, INQUIRY_RECEIVED)
        await asyncio.sleep(0.1)
        # when an inquiry goes to my profile
        await client.mutate(SUBMIT, inquiry(mine.slug, "Grace Hopper"))
        # then I get it once, and they get nothing
        data = await next_data(my_socket)
        assert data == {
            "data": {
                "inquiryReceived": {"name": "Grace Hopper", "message": "Hello", "status": "NEW"}
            }
        }
        await nothing_arrives(my_socket)
        await nothing_arrives(their_socket, within=0.2)


async def test_activity_and_invitations_are_live(client: GraphQLClient, server_url: str) -> None:
    partner = await register_partner(client, public=True)
    account = await register_account(client, name="Anna Bianchi")
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, ACTIVITY, "feed")
        await subscribe(socket, INVITATION_RECEIVED, "invitations")
        await asyncio.sleep(0.1)
        await client.mutate(
            SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
        )
        received = {}
        for _ in range(2):
            message = json.loads(await asyncio.wait_for(socket.recv(), 3))
            received[message["id"]] = message["payload"]["data"]
        assert received["invitations"] == {
            "invitationReceived": {
                "status": "PENDING",
                "scope": "FULL",
                "requester": {"name": "Anna Bianchi"},
            }
        }
        assert received["feed"]["activity"]["verb"] == "INVITATION_RECEIVED"


async def test_a_refused_change_publishes_nothing(client: GraphQLClient, server_url: str) -> None:
    partner = await register_partner(
        client, public=False
    )  # hidden profile: submitInquiry is refused
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, ACTIVITY)
        await asyncio.sleep(0.1)
        body = await client.gql(SUBMIT, inquiry(partner.slug))
        assert body["submitInquiry"]["errors"][0]["code"] == "PROFILE_NOT_PUBLIC"
        await nothing_arrives(socket)


async def test_subscriptions_per_connection_are_limited(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        for n in range(3):
            await subscribe(socket, ACTIVITY, f"s{n}")
        await subscribe(socket, ACTIVITY, "one-too-many")
        message = json.loads(await asyncio.wait_for(socket.recv(), 3))
        assert message["type"] == "error" and message["id"] == "one-too-many", message


async def test_oversized_messages_close_the_connection(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)
    async with session(server_url, partner.token) as socket:
        await socket.send(
            json.dumps({"id": "big", "type": "subscribe", "payload": {"query": "#" + "x" * 70_000}})
        )
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 3)
        assert socket.close_code == 1009  # message too big


async def test_dropped_connections_leave_no_tasks_behind(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)

    async def open_and_drop() -> None:
        async with session(server_url, partner.token) as socket:
            await subscribe(socket, PENDING_COUNTS)
            await next_data(socket)

    await open_and_drop()  # warm up whatever is created once
    await asyncio.sleep(0.2)
    baseline = len(asyncio.all_tasks())
    for _batch in range(10):
        await asyncio.gather(*[open_and_drop() for _ in range(50)])
    for _ in range(50):
        await asyncio.sleep(0.1)
        if len(asyncio.all_tasks()) <= baseline:
            break
    assert len(asyncio.all_tasks()) <= baseline, (
        f"{len(asyncio.all_tasks())} tasks after 500 connections, {baseline} before"
    )


async def test_subscribers_of_one_partner_share_each_event(
    client: GraphQLClient, server_url: str
) -> None:
    # given two dashboards of one partner on separate connections
    partner = await register_partner(client, public=True)
    async with session(server_url, partner.token) as one, session(server_url, partner.token) as two:
        await subscribe(one, INQUIRY_RECEIVED, "a")
        await subscribe(two, INQUIRY_RECEIVED, "b")
        await asyncio.sleep(0.1)
        # when one inquiry arrives
        await client.mutate(SUBMIT, inquiry(partner.slug, "Shared Event"))
        # then each receives it once, under its own operation id
        first = json.loads(await asyncio.wait_for(one.recv(), 3))
        second = json.loads(await asyncio.wait_for(two.recv(), 3))
        assert (first["id"], second["id"]) == ("a", "b")
        assert (
            first["payload"]
            == second["payload"]
            == {
                "data": {
                    "inquiryReceived": {"name": "Shared Event", "message": "Hello", "status": "NEW"}
                }
            }
        )
        await nothing_arrives(one, within=0.3)
        await nothing_arrives(two, within=0.1)


async def test_a_late_subscriber_gets_the_current_counts_at_once(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client, public=True)
    async with session(server_url, partner.token) as early:
        await subscribe(early, PENDING_COUNTS)
        assert await next_data(early) == {
            "data": {"pendingCounts": {"invitations": 0, "inquiries": 0}}
        }
        await client.mutate(SUBMIT, inquiry(partner.slug))
        assert await next_data(early) == {
            "data": {"pendingCounts": {"invitations": 0, "inquiries": 1}}
        }
        async with session(server_url, partner.token) as late:
            await subscribe(late, PENDING_COUNTS)
            assert await next_data(late) == {
                "data": {"pendingCounts": {"invitations": 0, "inquiries": 1}}
            }


async def test_a_broken_subscription_document_errors_for_each_subscriber(
    client: GraphQLClient, server_url: str
) -> None:
    partner = await register_partner(client)
    async with session(server_url, partner.token) as one, session(server_url, partner.token) as two:
        for socket in (one, two):
            await subscribe(socket, "subscription { pendingCounts { nope } }", "bad")
            message = json.loads(await asyncio.wait_for(socket.recv(), 3))
            assert message["type"] == "error" and message["id"] == "bad", message


async def test_a_feed_that_missed_events_catches_up_from_the_database(
    client: GraphQLClient, server_url: str, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    from events.event import EventKind as Kind
    from events.event import broker_notice
    from tests.factories import pk_of
    from tests.support import create_customer

    # given a dashboard on the activity feed
    partner = await register_partner(client)
    broker = app.state.broker
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, "subscription { activity { summary } }")
        await asyncio.sleep(0.1)
        # when three changes are made while their events are lost on the way
        monkeypatch.setattr(broker, "publish", _lost)
        for name in ("Ada", "Grace", "Hedy"):
            await create_customer(client, partner.token, firstName=name, lastName="Lost")
        monkeypatch.undo()
        await nothing_arrives(socket, within=0.3)
        # and the broker tells the subscriber that events were dropped
        broker.dispatch(broker_notice(Kind.EVENTS_DROPPED, pk_of(partner.partner_id), dropped=3))
        # then the feed sends the three rows it missed, oldest first, then follows live again
        missed = [(await next_data(socket))["data"]["activity"]["summary"] for _ in range(3)]
        assert missed == [f"Customer {name} Lost created" for name in ("Ada", "Grace", "Hedy")]
        await create_customer(client, partner.token, firstName="Live", lastName="Again")
        assert (await next_data(socket))["data"]["activity"][
            "summary"
        ] == "Customer Live Again created"
        await nothing_arrives(socket, within=0.3)


async def _lost(event: object) -> None:
    """A broker publish that never arrives."""
