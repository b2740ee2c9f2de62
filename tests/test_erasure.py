"""Erasure (issue "customer data", part 3): eraseCustomer leaves no trace of the person in any
table; deleteMyAccount closes an account holder's authorizations and erases their account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import Tortoise

import events
from events.activity import record_activity
from mailers.outbox import queue_email
from mailers.templates import INVITATION_DECLINED
from models.activity import ActivityVerb
from models.dev_mail import DevMailMessage
from models.identity import IdentityToken, TokenPurpose
from models.notification import DigestEntry, NotificationKind
from models.outbox import EmailDelivery, EmailStatus
from models.partner import PartnerMember
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from resolvers.erased_copies import NOT_SENT
from resolvers.housekeeping import sweep_once
from tests.factories import (
    CONNECT,
    CONVERT_INQUIRY,
    CREATE_CONTRACT,
    CREATE_DOMAIN,
    CREATE_TASK,
    DECLINE,
    DISMISS_INQUIRY,
    REQUEST_RESET,
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

ERRORS = "errors { code message field }"
ERASE = (
    f"mutation($input: EraseCustomerInput!) {{ eraseCustomer(input: $input) {{ ok {ERRORS} }} }}"
)
DELETE_ACCOUNT = (
    f"mutation($password: String!) {{ deleteMyAccount(password: $password) {{ ok {ERRORS} }} }}"
)
UPDATE_CUSTOMER = f"mutation($id: ID!, $patch: CustomerPatch!) {{ updateCustomer(id: $id, patch: $patch) {{ customer {{ id }} {ERRORS} }} }}"
EXPORT_CUSTOMER_DATA = (
    f"mutation($id: ID!) {{ exportCustomerData(customerId: $id) {{ export {{ url }} {ERRORS} }} }}"
)
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  customerNumber displayName firstName lastName email phone status
  domains { name } contracts { product } tasks { title }
  activity(first: 1) { edges { node { verb summary } } } } }"""
# What identifies the person, as typed and as stored.
ZELDA = {
    "first": "Zelda",
    "last": "Quartermain",
    "email": "zelda.q@example.org",
    "phone": "+390698765432",
    "phone digits": "390698765432",
    "company": "Quartermain Studio",
    "external id": "ZQ-0042",
}


async def places(*needles: str) -> list[tuple[str, str, Any, Any]]:
    """Every (table, column, row id, value) whose text holds one of the needles, any case."""
    found = []
    wanted = [needle.casefold() for needle in needles]
    for model in Tortoise.apps["partnerdesk"].values():
        for row in await model.all().values():
            for column, value in row.items():
                text = str(value).casefold()
                if any(needle in text for needle in wanted):
                    found.append((model._meta.db_table, column, row.get("id"), value))
    return found


async def traces(*needles: str) -> list[str]:
    """`places`, one line each: "table.column (row id): value"."""
    return [f"{t}.{c} (row {pk}): {value}" for t, c, pk, value in await places(*needles)]


async def team_emails() -> set[int]:
    """E-mails to partners' own members (notifications): the partners' records."""
    members = await PartnerMember.all().values_list("email", flat=True)
    emails = EmailDelivery.filter(to_address__in=list(members))
    return {email.id for email in await emails}


async def submit_inquiry(client: GraphQLClient, partner: PartnerLogin, **fields: str) -> str:
    await client.mutate(
        SUBMIT_INQUIRY,
        {
            "input": {
                "partnerSlug": partner.slug,
                "message": "Please call me about a new website.",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
                **fields,
            }
        },
    )
    found = await client.gql(
        "{ inquiries(first: 1) { edges { node { id } } } }", token=partner.token
    )
    return str(found["inquiries"]["edges"][0]["node"]["id"])


async def email_sent_to(partner: PartnerLogin, address: str, name: str) -> None:
    """An e-mail of the partner's outbox to the person, sent, with its activity row."""
    async with events.transaction():
        email = await queue_email(
            template=INVITATION_DECLINED,
            language="en",
            to_address=address,
            to_name=name,
            values={"recipient": name, "partner": "Agency", "message": f"Dear {name}"},
            partner_id=pk_of(partner.partner_id),
        )
        await EmailDelivery.filter(id=email.id).update(status=EmailStatus.SENT)
        await record_activity(
            pk_of(partner.partner_id),
            ActivityVerb.EMAIL_SENT,
            f"E-mail sent to {address}: {email.subject}",
            subject=("EmailDelivery", email.id),
        )


async def copies_for_the_team(partner: PartnerLogin, name: str) -> None:
    """A digest entry naming the person, and the development mailbox's copy of the team's
    notification e-mail about them."""
    owner = await PartnerMember.get(partner_id=pk_of(partner.partner_id))
    now = datetime.now(UTC)
    await DigestEntry.create(
        member_id=owner.id,
        kind=NotificationKind.NEW_INQUIRY,
        summary=f"New inquiry from {name}",
        created_at=now,
        due_at=now,
    )
    notification = await EmailDelivery.filter(
        to_address=owner.email, subject__contains=name
    ).first()
    assert notification is not None
    await DevMailMessage.create(
        delivery_id=notification.id,
        to_address=owner.email,
        subject=notification.subject,
        language="en",
        template=notification.template,
        message="Subject: =?utf-8?q?New_inquiry?=\n\n(encoded, so no search finds the name)",
    )


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client, public=True)


async def zelda(client: GraphQLClient, partner: PartnerLogin) -> dict[str, Any]:
    """A customer made from Zelda's inquiry, with everything a customer can have."""
    inquiry_id = await submit_inquiry(
        client,
        partner,
        name="Zelda Quartermain",
        email="Zelda.Q@example.org",
        phone="+39 06 9876 5432",
        companyName=ZELDA["company"],
    )
    converted = await client.mutate(
        CONVERT_INQUIRY,
        {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    customer = converted["customer"]
    await client.mutate(
        UPDATE_CUSTOMER,
        {
            "id": customer["id"],
            "patch": {
                "notes": "Zelda prefers calls in the morning.",
                "tags": ["quartermain", "vip"],
                "externalId": ZELDA["external id"],
                "address": {"street": "Via Zelda 3", "city": "Roma", "country": "IT"},
                "vatId": "IT12345678901",
            },
        },
        partner.token,
    )
    second = await submit_inquiry(
        client, partner, name="Zelda Q.", email="zelda.q@example.org", message="Me again!"
    )
    await client.mutate(
        DISMISS_INQUIRY,
        {"input": {"inquiryId": second, "reason": "Zelda asked twice"}},
        partner.token,
    )
    await client.mutate(
        CREATE_DOMAIN,
        {"input": {"name": "studio-q3.example", "customerId": customer["id"]}},
        partner.token,
    )
    await client.mutate(
        CREATE_CONTRACT,
        {"input": {"product": "Hosting", "startsOn": "2026-01-01", "customerId": customer["id"]}},
        partner.token,
    )
    await client.mutate(
        CREATE_TASK,
        {"input": {"title": "Call Zelda Quartermain back", "customerId": customer["id"]}},
        partner.token,
    )
    await email_sent_to(partner, ZELDA["email"], "Zelda Quartermain")
    await client.mutate(EXPORT_CUSTOMER_DATA, {"id": customer["id"]}, partner.token)
    found = await client.gql(CUSTOMER, {"id": customer["id"]}, partner.token)
    return {"id": customer["id"], "customerNumber": found["customer"]["customerNumber"]}


async def test_erasure_leaves_no_trace_of_the_person_in_any_table(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: Zelda, everywhere a customer can be (her data went out to a webhook endpoint
    # and in e-mails to the team too), and another customer who must stay
    endpoint = await WebhookEndpoint.create(
        partner_id=pk_of(partner.partner_id), url="https://hooks.example.org/in", secret="s"
    )
    customer = await zelda(client, partner)
    await copies_for_the_team(partner, "Zelda Quartermain")
    bruno = await create_customer(client, partner.token, firstName="Bruno", lastName="Verdi")
    assert len(await traces(*ZELDA.values())) > 20  # the grep finds what is there
    # when
    payload = await client.mutate(
        ERASE,
        {
            "input": {
                "customerId": customer["id"],
                "confirmCustomerNumber": customer["customerNumber"],
            }
        },
        partner.token,
    )
    # then
    assert payload["ok"] is True
    assert await traces(*ZELDA.values()) == []
    assert await traces("Bruno", "Verdi") != []
    found = (await client.gql(CUSTOMER, {"id": customer["id"]}, partner.token))["customer"]
    assert found["customerNumber"] == customer["customerNumber"]
    assert (found["displayName"], found["email"], found["status"]) == (
        "Erased customer",
        None,
        "ARCHIVED",
    )
    assert (found["domains"], found["contracts"], found["tasks"]) == ([], [], [])
    latest = found["activity"]["edges"][0]["node"]
    assert latest == {
        "verb": "CUSTOMER_ERASED",
        "summary": f"Customer {customer['customerNumber']} erased: personal data overwritten, "
        "2 inquiries and 1 e-mails cleared, 3 items unassigned",
    }
    assert (await client.gql(CUSTOMER, {"id": bruno["id"]}, partner.token))["customer"][
        "firstName"
    ] == "Bruno"
    # and: what went to the webhook endpoint before is scrubbed and no longer sent; the
    # erasure itself is queued, with nothing but the customer's id
    deliveries = await WebhookDelivery.filter(endpoint_id=endpoint.id).order_by("id")
    *before, erased = deliveries
    brunos = [delivery for delivery in before if "Bruno" in delivery.payload]
    zeldas = [delivery for delivery in before if delivery not in brunos]
    assert len(zeldas) >= 5 and len(brunos) == 1
    assert {(delivery.status, delivery.last_error) for delivery in zeldas} == {
        (WebhookDeliveryStatus.FAILED, NOT_SENT)
    }
    assert brunos[0].status == WebhookDeliveryStatus.QUEUED
    assert (erased.event_type, erased.status) == ("CUSTOMER_ERASED", "QUEUED")
    assert json.loads(erased.payload)["data"] == {
        "customer": {"id": customer["id"]},
        "actorName": "Owner Person",
    }


async def test_erasing_needs_the_customers_number_typed_again(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    customer = await create_customer(client, partner.token, firstName="Zelda")
    # when
    payload = (
        await client.gql(
            ERASE,
            {"input": {"customerId": customer["id"], "confirmCustomerNumber": "C-99999"}},
            partner.token,
        )
    )["eraseCustomer"]
    # then
    assert payload == {
        "ok": False,
        "errors": [
            {
                "code": "VALIDATION",
                "message": f"Type the customer's number, {customer['customerNumber']}, to confirm the erasure.",
                "field": ["input", "confirmCustomerNumber"],
            }
        ],
    }
    assert await traces("Zelda") != []


async def test_a_customer_is_erased_once(client: GraphQLClient, partner: PartnerLogin) -> None:
    # given
    customer = await create_customer(client, partner.token)
    erase = {
        "input": {"customerId": customer["id"], "confirmCustomerNumber": customer["customerNumber"]}
    }
    await client.mutate(ERASE, erase, partner.token)
    # when
    payload = (await client.gql(ERASE, erase, partner.token))["eraseCustomer"]
    # then
    assert [error["code"] for error in payload["errors"]] == ["ALREADY_PROCESSED"]


async def test_only_owners_and_admins_may_erase(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a colleague with the MEMBER role
    customer = await create_customer(client, partner.token, firstName="Zelda")
    _member_id, member_token = await add_member(client, partner)
    erase = {
        "input": {"customerId": customer["id"], "confirmCustomerNumber": customer["customerNumber"]}
    }
    # when
    payload = (await client.gql(ERASE, erase, member_token))["eraseCustomer"]
    # then
    assert [error["code"] for error in payload["errors"]] == ["FORBIDDEN"]
    assert await traces("Zelda") != []


async def test_erasing_a_connected_customer_revokes_the_authorization(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a customer connected to an account holder's authorization
    account = await register_account(client, name="Zelda Quartermain")
    sent = await client.mutate(
        SEND_INVITATION,
        {"input": {"partnerSlug": partner.slug, "scope": "FULL", "message": "Hi, Zelda here"}},
        account.token,
    )
    connected = await client.mutate(
        CONNECT,
        {"input": {"invitationId": sent["invitation"]["id"], "target": {"newCustomer": {}}}},
        partner.token,
    )
    customer = connected["customer"]
    number = (await client.gql(CUSTOMER, {"id": customer["id"]}, partner.token))["customer"][
        "customerNumber"
    ]
    # when
    await client.mutate(
        ERASE,
        {"input": {"customerId": customer["id"], "confirmCustomerNumber": number}},
        partner.token,
    )
    # then: the account holder sees it revoked; the partner kept nothing of theirs
    mine = await client.gql("{ myInvitations { status message } }", token=account.token)
    assert mine["myInvitations"] == [{"status": "REVOKED", "message": None}]
    # what stays is the account holder's own: their account, and PartnerDesk's e-mails to
    # them (verifying their address), which are no partner's
    own_emails = set(await EmailDelivery.filter(partner_id=None).values_list("id", flat=True))
    remaining = [
        (table, pk)
        for table, _column, pk, _value in await places("Zelda", "Quartermain", account.email)
        if table != "account_holder" and not (table == "email_delivery" and pk in own_emails)
    ]
    assert remaining == []


async def test_deleting_an_account_closes_its_authorizations_and_erases_it(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: Yolanda's authorizations: pending with one partner, connected with another,
    # declined (with its e-mail) by a third
    yolanda = await register_account(
        client, name="Yolanda Underhill", phone="+39 347 7654321", companyName="Underhill SRL"
    )
    connecting = await register_partner(client, public=True)
    declining = await register_partner(client, public=True)
    invitations = {}
    for who in (partner, connecting, declining):
        sent = await client.mutate(
            SEND_INVITATION,
            {"input": {"partnerSlug": who.slug, "scope": "FULL", "message": "Yolanda here"}},
            yolanda.token,
        )
        invitations[who.slug] = sent["invitation"]["id"]
    await client.mutate(
        CONNECT,
        {"input": {"invitationId": invitations[connecting.slug], "target": {"newCustomer": {}}}},
        connecting.token,
    )
    await client.mutate(
        DECLINE,
        {
            "input": {
                "invitationId": invitations[declining.slug],
                "personalMessage": "Sorry Yolanda",
            }
        },
        declining.token,
    )
    # and: a password reset asked for, whose link is not used yet
    await client.mutate(REQUEST_RESET, {"input": {"realm": "ACCOUNT", "email": yolanda.email}})
    await sweep_once()  # sends the reset e-mail, making its one-time token
    assert await IdentityToken.filter(purpose=TokenPurpose.RESET_PASSWORD).count() == 1
    # when
    wrong = (await client.gql(DELETE_ACCOUNT, {"password": "not my password"}, yolanda.token))[
        "deleteMyAccount"
    ]
    deleted = await client.mutate(DELETE_ACCOUNT, {"password": "account password 1"}, yolanda.token)
    # then
    assert wrong["errors"] == [
        {"code": "VALIDATION", "message": "The password is wrong.", "field": ["password"]}
    ]
    assert deleted["ok"] is True
    viewer = await client.gql("{ viewer { account { id } } }", token=yolanda.token)
    assert viewer["viewer"] is None  # signed out everywhere
    statuses = await client.gql(
        "{ invitations { edges { node { status } } } }", token=partner.token
    )
    assert [edge["node"]["status"] for edge in statuses["invitations"]["edges"]] == ["WITHDRAWN"]
    feed = await client.gql(
        "{ activity(first: 1) { edges { node { verb summary } } } }", token=connecting.token
    )
    assert feed["activity"]["edges"][0]["node"] == {
        "verb": "ACCESS_REVOKED",
        "summary": "Access authorization from Yolanda Underhill revoked: the account was deleted",
    }
    platform = (
        "account_holder",
        "access_invitation",
        "auth_token",
        "email_delivery",
        "data_export",
        "identity_token",
        "password_reset_request",
    )
    found = await places("Yolanda", "Underhill", yolanda.email, "+393477654321")
    kept = await team_emails()
    platform_rows = [
        (table, column, pk)
        for table, column, pk, _value in found
        if table in platform and not (table == "email_delivery" and pk in kept)
    ]
    assert platform_rows == []
    live = IdentityToken.filter(account_id__isnull=False, revoked_at=None, used_at=None)
    assert await live.count() == 0
    # the partners' own records stay theirs (their customer, their timeline, the e-mails
    # that told their team about the authorization)
    assert {"customer", "activity_event"} <= {table for table, *_ in found}
