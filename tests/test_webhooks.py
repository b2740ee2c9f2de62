"""Webhook endpoints through the API: who manages them, what is queued for which change and
with which body, the secret shown once, tests and redeliveries, and URLs that are refused.

Delivery itself (the worker, a real receiver, crashes) is tests/test_webhook_delivery.py.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import events
from config import Settings
from events.activity import record_activity
from models.activity import ActivityEvent, ActivityVerb
from models.invitation import AccessInvitation
from models.partner import MemberRole
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEventType
from resolvers.invitations import expire_overdue
from schema.ids import to_global_id
from tests.factories import (
    ARCHIVE_CUSTOMER,
    CONNECT,
    CONVERT_INQUIRY,
    DECLINE,
    DISMISS_INQUIRY,
    INQUIRY_IDS,
    SEND_INVITATION,
    SUBMIT_INQUIRY,
    add_member,
    pk_of,
)
from tests.support import (
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
)
from webhooks.outbox import EVENT_TYPE_OF_VERB
from webhooks.payloads import event_data

ERRORS = "errors { code message field }"
ENDPOINT_FIELDS = "id url description eventTypes enabled disabledReason createdAt"
CREATE = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ endpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS} }}
}}"""
UPDATE = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{ endpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS} }}
}}"""
DELETE = f"""
mutation($input: WebhookEndpointIdInput!) {{ deleteWebhookEndpoint(input: $input) {{ ok {ERRORS} }} }}"""
ROTATE = f"""
mutation($input: WebhookEndpointIdInput!) {{
  rotateWebhookSecret(input: $input) {{ endpoint {{ id }} secret {ERRORS} }}
}}"""
DELIVERY_FIELDS = "id eventType status attempts lastStatusCode lastError nextAttemptAt createdAt deliveredAt payload"
SEND_TEST = f"""
mutation($input: WebhookEndpointIdInput!) {{
  sendTestWebhook(input: $input) {{ delivery {{ {DELIVERY_FIELDS} }} {ERRORS} }}
}}"""
REDELIVER = f"""
mutation($id: ID!) {{ redeliverWebhook(deliveryId: $id) {{ delivery {{ {DELIVERY_FIELDS} }} {ERRORS} }} }}"""
ENDPOINTS = f"""
query($status: [WebhookDeliveryStatus!], $first: Int, $after: String) {{
  viewer {{ member {{ partner {{ webhookEndpoints {{
    {ENDPOINT_FIELDS}
    deliveries(status: $status, first: $first, after: $after) {{
      totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {DELIVERY_FIELDS} }} }}
    }}
  }} }} }} }}
}}"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
UPDATE_CUSTOMER = f'mutation($id: ID!) {{ updateCustomer(id: $id, patch: {{phone: "+39 06 1234 5678"}}) {{ customer {{ id }} {ERRORS} }} }}'
WITHDRAW = f"mutation($input: InvitationIdInput!) {{ withdrawInvitation(input: $input) {{ invitation {{ id }} {ERRORS} }} }}"
REVOKE = f"mutation($input: InvitationIdInput!) {{ revokeAccess(input: $input) {{ invitation {{ id }} {ERRORS} }} }}"
HOOK = "https://hooks.aurora.example/partnerdesk"


async def create_endpoint(
    client: GraphQLClient, partner: PartnerLogin, **fields: Any
) -> dict[str, Any]:
    return await client.mutate(CREATE, {"input": {"url": HOOK, **fields}}, partner.token)


async def endpoints(client: GraphQLClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    data = await client.gql(ENDPOINTS, variables, token)
    return data["viewer"]["member"]["partner"]["webhookEndpoints"]


async def bodies(endpoint_id: str) -> list[dict[str, Any]]:
    rows = await WebhookDelivery.filter(endpoint_id=pk_of(endpoint_id)).order_by("id")
    return [orjson.loads(row.payload) for row in rows]


# ---------------------------------------------------------------- endpoints


async def test_an_owner_registers_an_endpoint_and_sees_its_secret_once(
    client: GraphQLClient,
) -> None:
    # given
    owner = await register_partner(client)

    # when
    created = await create_endpoint(
        client, owner, description="Ticketing", eventTypes=["INQUIRY_RECEIVED"]
    )

    # then: a Standard Webhooks secret, 32 random bytes
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    endpoint = created["endpoint"]
    assert (endpoint["url"], endpoint["description"]) == (HOOK, "Ticketing")
    assert (endpoint["eventTypes"], endpoint["enabled"]) == (["INQUIRY_RECEIVED"], True)
    # and no read shows it again, not even the activity feed
    data = await client.raw(
        "{ viewer { member { partner { webhookEndpoints { id url } } } } "
        "activity { edges { node { verb summary } } } }",
        token=owner.token,
    )
    assert secret not in orjson.dumps(data).decode()
    assert data["data"]["activity"]["edges"][0]["node"]["verb"] == "WEBHOOK_CREATED"


async def test_a_member_can_neither_manage_nor_see_endpoints(client: GraphQLClient) -> None:
    # given: an endpoint of the partner, and a colleague with role MEMBER
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    _member_id, member_token = await add_member(client, owner, MemberRole.MEMBER)

    # when / then
    refused = await client.gql(CREATE, {"input": {"url": HOOK}}, member_token)
    assert [e["code"] for e in refused["createWebhookEndpoint"]["errors"]] == ["FORBIDDEN"]
    assert await endpoints(client, member_token) == []
    assert (await client.gql(NODE, {"id": endpoint["id"]}, member_token))["node"] is None
    # while an ADMIN may
    _admin_id, admin_token = await add_member(client, owner, MemberRole.ADMIN)
    assert [e["id"] for e in await endpoints(client, admin_token)] == [endpoint["id"]]


@pytest.fixture
def settings(base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return replace(base_settings, **getattr(request, "param", {}))


STRICT = {"webhook_allow_private": False}
PRODUCTION = {"env": "production", "webhook_allow_private": False}
LENIENT = {"webhook_allow_private": True}


@pytest.mark.parametrize(
    ("settings", "url", "message"),
    [
        (STRICT, "ftp://hooks.example/x", "The URL must start with https://"),
        (PRODUCTION, "http://hooks.example/x", "The URL must start with https://."),
        (STRICT, "https://user:pw@hooks.example/x", "must not contain a user name"),
        (STRICT, "https://hooks.example/x#part", "must not contain a #fragment"),
        (STRICT, "https://127.0.0.1/x", "a private or reserved network address"),
        (STRICT, "https://10.1.2.3/x", "a private or reserved network address"),
        (STRICT, "https://[::1]/x", "a private or reserved network address"),
        (STRICT, "https://[::ffff:192.168.0.1]/x", "a private or reserved network address"),
        (STRICT, "https://localhost:8443/x", "a private or reserved network address"),
        (LENIENT, "http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
        (LENIENT, "http://[fd00:ec2::254]/", "a cloud metadata address"),
        (LENIENT, "https://metadata.google.internal/", "a cloud metadata address"),
        (STRICT, "https://hooks example/x", "must not contain spaces"),
    ],
    indirect=["settings"],
)
async def test_urls_that_could_reach_our_own_network_are_refused(
    client: GraphQLClient, url: str, message: str
) -> None:
    # given
    owner = await register_partner(client)
    # when
    data = await client.gql(CREATE, {"input": {"url": url}}, owner.token)
    # then
    [error] = data["createWebhookEndpoint"]["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", ["url"])
    assert message in error["message"]


async def test_ping_cannot_be_subscribed_to(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    data = await client.gql(CREATE, {"input": {"url": HOOK, "eventTypes": ["PING"]}}, owner.token)
    [error] = data["createWebhookEndpoint"]["errors"]
    assert error["field"] == ["eventTypes"]


async def test_disabling_fails_pending_deliveries_and_queues_nothing_new(
    client: GraphQLClient,
) -> None:
    # given: an endpoint with one pending delivery
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    await create_customer(client, owner.token)

    # when
    updated = await client.mutate(
        UPDATE, {"input": {"endpointId": endpoint["id"], "enabled": False}}, owner.token
    )
    await create_customer(client, owner.token)

    # then
    assert updated["endpoint"]["enabled"] is False
    assert updated["endpoint"]["disabledReason"] == "Disabled by Owner Person"
    [listed] = await endpoints(client, owner.token)
    [edge] = listed["deliveries"]["edges"]
    assert (edge["node"]["status"], edge["node"]["lastError"]) == (
        "FAILED",
        "The endpoint is disabled",
    )
    # and enabling it again clears the reason; redeliver sends the failed one again
    enabled = await client.mutate(
        UPDATE, {"input": {"endpointId": endpoint["id"], "enabled": True}}, owner.token
    )
    assert (enabled["endpoint"]["enabled"], enabled["endpoint"]["disabledReason"]) == (True, None)
    again = await client.mutate(REDELIVER, {"id": edge["node"]["id"]}, owner.token)
    assert again["delivery"]["status"] == "QUEUED" and again["delivery"]["id"] == edge["node"]["id"]


async def test_changing_url_and_filter_is_validated_and_recorded(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    # when: a bad URL and a good filter together
    bad = await client.gql(
        UPDATE,
        {"input": {"endpointId": endpoint["id"], "url": "ftp://x", "eventTypes": []}},
        owner.token,
    )
    assert [e["field"] for e in bad["updateWebhookEndpoint"]["errors"]] == [["url"]]
    # when: good values
    good = await client.mutate(
        UPDATE,
        {
            "input": {
                "endpointId": endpoint["id"],
                "url": "https://erp.aurora.example/in",
                "eventTypes": ["CUSTOMER_CREATED", "INQUIRY_RECEIVED"],
                "description": None,
            }
        },
        owner.token,
    )
    # then: event types in the API's order, the change in the feed
    assert good["endpoint"]["url"] == "https://erp.aurora.example/in"
    assert good["endpoint"]["eventTypes"] == ["INQUIRY_RECEIVED", "CUSTOMER_CREATED"]
    [event] = await ActivityEvent.filter(verb=ActivityVerb.WEBHOOK_UPDATED)
    assert (
        event.summary == "Webhook endpoint https://erp.aurora.example/in changed: event_types, url"
    )


async def test_deleting_removes_the_endpoint_and_its_deliveries(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    await create_customer(client, owner.token)
    assert await WebhookDelivery.all().count() == 1
    # when
    deleted = await client.mutate(DELETE, {"input": {"endpointId": endpoint["id"]}}, owner.token)
    # then
    assert deleted["ok"] is True
    assert await endpoints(client, owner.token) == []
    assert await WebhookDelivery.all().count() == 0
    assert (await client.gql(NODE, {"id": endpoint["id"]}, owner.token))["node"] is None


async def test_rotating_gives_a_new_secret_and_keeps_the_old_one_for_a_day(
    client: GraphQLClient,
) -> None:
    owner = await register_partner(client)
    created = await create_endpoint(client, owner)
    # when
    rotated = await client.mutate(
        ROTATE, {"input": {"endpointId": created["endpoint"]["id"]}}, owner.token
    )
    # then
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    from models.webhook import WebhookEndpoint

    row = await WebhookEndpoint.get(id=pk_of(created["endpoint"]["id"]))
    assert (row.secret, row.previous_secret) == (rotated["secret"], created["secret"])
    assert row.previous_secret_until is not None
    overlap = row.previous_secret_until - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < overlap <= timedelta(hours=24)


# ---------------------------------------------------------------- what is queued


async def test_each_endpoint_gets_the_events_its_filter_takes(client: GraphQLClient) -> None:
    # given: one endpoint for everything, one for inquiries only
    owner = await register_partner(client, public=True)
    everything = (await create_endpoint(client, owner))["endpoint"]
    inquiries = (await create_endpoint(client, owner, eventTypes=["INQUIRY_RECEIVED"]))["endpoint"]

    # when
    await create_customer(client, owner.token)
    await submit_inquiry(client, owner)

    # then
    assert [b["type"] for b in await bodies(everything["id"])] == [
        "customer.created",
        "inquiry.received",
    ]
    assert [b["type"] for b in await bodies(inquiries["id"])] == ["inquiry.received"]


async def test_a_change_that_rolls_back_queues_no_delivery(client: GraphQLClient) -> None:
    # given
    owner = await register_partner(client)
    await create_endpoint(client, owner)
    customer = await create_customer(client, owner.token)
    before = await WebhookDelivery.all().count()

    # when: the change's transaction fails after its activity row
    with pytest.raises(RuntimeError):
        async with events.transaction():
            await record_activity(
                pk_of(owner.partner_id),
                ActivityVerb.CUSTOMER_UPDATED,
                "Customer changed",
                subject=("Customer", pk_of(customer["id"])),
            )
            raise RuntimeError("the change fails")

    # then
    assert await WebhookDelivery.all().count() == before


async def submit_inquiry(client: GraphQLClient, partner: PartnerLogin, name: str = "Giulia") -> str:
    await client.mutate(
        SUBMIT_INQUIRY,
        {
            "input": {
                "partnerSlug": partner.slug,
                "name": name,
                "email": "giulia@example.org",
                "message": "A new website, please.",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
            }
        },
    )
    data = await client.gql(INQUIRY_IDS, token=partner.token)
    return data["inquiries"]["edges"][0]["node"]["id"]


async def test_every_event_type_carries_what_a_receiver_needs(client: GraphQLClient) -> None:
    # given: an endpoint for every type
    owner = await register_partner(client, public=True)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    holders = [await register_account(client) for _ in range(4)]

    # when: every kind of change happens once
    customer = await create_customer(client, owner.token, email="mario@example.org")
    await client.mutate(UPDATE_CUSTOMER, {"id": customer["id"]}, owner.token)
    await client.mutate(ARCHIVE_CUSTOMER, {"id": customer["id"]}, owner.token)
    converted = await submit_inquiry(client, owner, "Conny Convert")
    await client.mutate(
        CONVERT_INQUIRY,
        {"input": {"inquiryId": converted, "target": {"newCustomer": {}}}},
        owner.token,
    )
    dismissed = await submit_inquiry(client, owner, "Dismissed Dora")
    await client.mutate(DISMISS_INQUIRY, {"input": {"inquiryId": dismissed}}, owner.token)
    invitations = []
    for holder in holders:
        sent = await client.mutate(
            SEND_INVITATION,
            {"input": {"partnerSlug": owner.slug, "scope": "FULL", "message": "Hi"}},
            holder.token,
        )
        invitations.append(sent["invitation"]["id"])
    connected, declined, withdrawn, expiring = invitations
    await client.mutate(
        CONNECT, {"input": {"invitationId": connected, "target": {"newCustomer": {}}}}, owner.token
    )
    await client.mutate(DECLINE, {"input": {"invitationId": declined}}, owner.token)
    await client.mutate(WITHDRAW, {"input": {"invitationId": withdrawn}}, holders[2].token)
    await client.mutate(REVOKE, {"input": {"invitationId": connected}}, holders[0].token)
    await AccessInvitation.filter(id=pk_of(expiring)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await expire_overdue() == 1

    # then: one body per change, with the objects concerned
    queued = await bodies(endpoint["id"])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in queued:
        by_type.setdefault(item["type"], []).append(item["data"])
    subscribable = {t.wire_name for t in WebhookEventType} - {"ping", "customer.erased"}
    assert set(by_type) == subscribable
    created = by_type["customer.created"][0]["customer"]
    assert created["id"] == customer["id"] and created["email"] == "mario@example.org"
    assert created["customerNumber"] == customer["customerNumber"] and created["version"] == 1
    assert by_type["customer.updated"][0]["customer"]["phone"] == "+390612345678"
    assert by_type["customer.archived"][0]["customer"]["status"] == "ARCHIVED"
    received = by_type["inquiry.received"][0]["inquiry"]
    assert received["id"] == converted and received["message"] == "A new website, please."
    conversion = by_type["inquiry.converted"][0]
    assert conversion["inquiry"]["status"] == "ASSIGNED"
    assert conversion["customer"]["displayName"] == "Conny Convert"
    assert by_type["inquiry.dismissed"][0]["inquiry"]["status"] == "DISMISSED"
    live = by_type["invitation.received"][0]["invitation"]
    assert live["requester"]["email"] == holders[0].email and live["scope"] == "FULL"
    connection = by_type["invitation.connected"][0]
    assert connection["invitation"]["status"] == "CONNECTED" and connection["customer"]["id"]
    # closed authorizations show the sender's name only, as the API does
    for closed in ("invitation.declined", "invitation.withdrawn", "invitation.expired"):
        assert by_type[closed][0]["invitation"]["requester"] == {"name": "Anna Bianchi"}
    revoked = by_type["access.revoked"][0]
    assert revoked["invitation"]["status"] == "REVOKED" and revoked["customer"]["id"]
    assert all(item["timestamp"].endswith("+00:00") for item in queued)


async def test_customer_erased_names_the_customer_only() -> None:
    # CUSTOMER_ERASED is an activity verb of another issue: mapped by name once it exists.
    assert ("CUSTOMER_ERASED" in EVENT_TYPE_OF_VERB) == (
        "CUSTOMER_ERASED" in ActivityVerb.__members__
    )
    data = await event_data(
        WebhookEventType.CUSTOMER_ERASED, subject=("Customer", 7), customer_id=7, actor_name=None
    )
    assert data == {"customer": {"id": to_global_id("Customer", 7)}, "actorName": None}


# ---------------------------------------------------------------- tests, lists, redelivery


async def test_a_test_ping_is_queued_whatever_the_filter(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner, eventTypes=["CUSTOMER_CREATED"]))["endpoint"]
    # when
    sent = await client.mutate(SEND_TEST, {"input": {"endpointId": endpoint["id"]}}, owner.token)
    # then
    delivery = sent["delivery"]
    assert (delivery["eventType"], delivery["status"], delivery["attempts"]) == (
        "PING",
        "QUEUED",
        0,
    )
    payload = orjson.loads(delivery["payload"])
    assert payload["type"] == "ping" and payload["data"]["endpoint"]["id"] == endpoint["id"]


async def test_deliveries_are_listed_newest_first_by_status(client: GraphQLClient) -> None:
    # given: three deliveries, one of them delivered
    owner = await register_partner(client)
    endpoint = (await create_endpoint(client, owner))["endpoint"]
    for _ in range(3):
        await create_customer(client, owner.token)
    oldest = await WebhookDelivery.filter(endpoint_id=pk_of(endpoint["id"])).order_by("id").first()
    assert oldest is not None
    await WebhookDelivery.filter(id=oldest.id).update(
        status=WebhookDeliveryStatus.DELIVERED, attempts=1, last_status_code=200
    )

    # when
    [queued] = await endpoints(client, owner.token, status=["QUEUED"], first=1)
    [delivered] = await endpoints(client, owner.token, status=["DELIVERED", "FAILED"])

    # then
    page = queued["deliveries"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"] is True
    assert pk_of(page["edges"][0]["node"]["id"]) > oldest.id + 1  # the newest first
    assert [e["node"]["id"] for e in delivered["deliveries"]["edges"]] == [
        to_global_id("WebhookDelivery", oldest.id)
    ]
    assert delivered["deliveries"]["edges"][0]["node"]["nextAttemptAt"] is None


async def test_a_delivery_being_sent_cannot_be_redelivered(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    await create_endpoint(client, owner)
    await create_customer(client, owner.token)
    delivery = await WebhookDelivery.all().get()
    await WebhookDelivery.filter(id=delivery.id).update(
        status=WebhookDeliveryStatus.SENDING, claimed_by="worker/1"
    )
    # when
    data = await client.gql(
        REDELIVER, {"id": to_global_id("WebhookDelivery", delivery.id)}, owner.token
    )
    # then
    [error] = data["redeliverWebhook"]["errors"]
    assert (error["code"], error["field"]) == ("ALREADY_PROCESSED", ["deliveryId"])


async def test_another_partners_endpoints_and_deliveries_are_not_found(
    client: GraphQLClient,
) -> None:
    # given: B's endpoint with a delivery
    a = await register_partner(client)
    b = await register_partner(client)
    b_endpoint = (await create_endpoint(client, b))["endpoint"]
    await create_customer(client, b.token)
    b_delivery = to_global_id("WebhookDelivery", (await WebhookDelivery.all().get()).id)

    # when A names them
    answers = [
        (
            await client.gql(
                UPDATE, {"input": {"endpointId": b_endpoint["id"], "enabled": False}}, a.token
            )
        )["updateWebhookEndpoint"],
        (await client.gql(SEND_TEST, {"input": {"endpointId": b_endpoint["id"]}}, a.token))[
            "sendTestWebhook"
        ],
        (await client.gql(REDELIVER, {"id": b_delivery}, a.token))["redeliverWebhook"],
    ]

    # then: NOT_FOUND, and nothing changed or was queued
    assert [[e["code"] for e in answer["errors"]] for answer in answers] == [["NOT_FOUND"]] * 3
    assert (await client.gql(NODE, {"id": b_delivery}, a.token))["node"] is None
    assert await WebhookDelivery.all().count() == 1
    [still] = await endpoints(client, b.token)
    assert still["enabled"] is True


def test_the_readme_shows_an_example_body_of_every_event_type() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("#### Event types", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(
        r"<summary><code>([a-z.]+)</code></summary>\s+```json\n(.*?)\n```", section, re.DOTALL
    )
    shown = {name: json.loads(text) for name, text in examples}
    assert set(shown) == {event_type.wire_name for event_type in WebhookEventType}
    for name, example in shown.items():
        assert example["type"] == name and set(example) == {"type", "timestamp", "data"}
