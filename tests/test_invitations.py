"""Access authorizations: send, list, expire, connect, decline (with e-mail), withdraw, revoke."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from config import Settings
from models.activity import ActivityEvent, ActivityVerb
from models.customer import Customer
from models.invitation import AccessInvitation
from models.outbox import EmailDelivery
from resolvers.housekeeping import sweep_once
from schema.ids import parse_global_id, to_global_id
from tests.conftest import StatementCounter
from tests.support import (
    AccountLogin,
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
)

INVITATION_FIELDS = """
  id status scope permissions message receivedAt expiresAt decidedAt closedAt declineMessage
  requester { id name email language }
  partnerProfile { slug }
  decidedBy { name }
  declineEmail { id status to subject attempts }
  customer { id displayName }
"""
SEND = f"""
mutation($input: SendAccessInvitationInput!) {{
  sendAccessInvitation(input: $input) {{
    invitation {{ {INVITATION_FIELDS} }}
    customer {{ id }}
    errors {{ code message field }}
  }}
}}"""
CONNECT = """
mutation($input: ConnectCustomerInput!) {
  connectCustomer(input: $input) {
    invitation { id status decidedAt decidedBy { name } customer { id } }
    customer {
      id kind displayName firstName lastName companyName email phone language source version
      accessAuthorization { id status }
    }
    errors { code message field }
  }
}"""
DECLINE = """
mutation($input: DeclineInvitationInput!) {
  declineInvitation(input: $input) {
    invitation { id status declineMessage decidedBy { name } declineEmail { id status } }
    email { id status to subject attempts lastError queuedAt sentAt }
    errors { code message field }
  }
}"""
WITHDRAW = """
mutation($input: InvitationIdInput!) {
  withdrawInvitation(input: $input) { invitation { id status closedAt } errors { code message field } }
}"""
REVOKE = """
mutation($input: InvitationIdInput!) {
  revokeAccess(input: $input) { invitation { id status closedAt } errors { code message field } }
}"""
PENDING = """
query { pendingInvitationCount pendingInvitations { totalCount edges { node { id status } } } }
"""
BADGE = "{ viewer { member { partner { pendingInvitationCount } } } }"
INVITATIONS = """
query($filter: InvitationFilter, $first: Int, $after: String) {
  invitations(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } }
  }
}"""
INVITATION = f"query($id: ID!) {{ invitation(id: $id) {{ {INVITATION_FIELDS} }} }}"
MINE = "{ myInvitations { id status partnerProfile { slug } decidedBy { name } customer { id } declineEmail { id } } }"
CUSTOMER = """
query($id: ID!) {
  customer(id: $id) {
    id displayName firstName email phone version
    accessAuthorization { id status }
  }
}"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on AccessInvitation { status }
    ... on AccountHolder { name }
    ... on EmailDelivery { emailStatus: status subject }
  }
}"""


def decision_emails() -> QuerySet[EmailDelivery]:
    """The e-mails a decision sends the account holder (not verification or team notices)."""
    return EmailDelivery.filter(template__in=["invitation_declined", "invitation_connected"])


def _pk(global_id: str) -> int:
    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


async def _send(
    client: GraphQLClient, account: AccountLogin, partner: PartnerLogin, **fields: Any
) -> dict[str, Any]:
    payload = await client.mutate(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL", **fields}}, account.token
    )
    return payload["invitation"]


async def _setup(
    client: GraphQLClient, **account_fields: Any
) -> tuple[PartnerLogin, AccountLogin, str]:
    """A public partner, an account holder, and a PENDING authorization between them."""
    partner = await register_partner(client, public=True)
    account = await register_account(client, **account_fields)
    invitation = await _send(client, account, partner)
    return partner, account, invitation["id"]


async def _expire(invitation_id: str) -> None:
    await AccessInvitation.filter(id=_pk(invitation_id)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )


# ---------------------------------------------------------------- send


async def test_account_holder_sends_a_full_authorization(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client, public=True)
    account = await register_account(client, name="Anna Bianchi")
    # when
    invitation = await _send(client, account, partner, message="Please look after my site.")
    # then
    assert invitation["status"] == "PENDING"
    assert invitation["scope"] == "FULL"
    assert invitation["permissions"] == [
        "DOMAINS",
        "HOSTING",
        "EMAIL",
        "SSL",
        "CONTRACTS",
        "INVOICES",
    ]
    assert invitation["message"] == "Please look after my site."
    assert invitation["requester"]["name"] == "Anna Bianchi"
    assert invitation["partnerProfile"] == {"slug": partner.slug}
    expires = datetime.fromisoformat(invitation["expiresAt"])
    received = datetime.fromisoformat(invitation["receivedAt"])
    assert abs((expires - received) - timedelta(days=30)) < timedelta(seconds=5)
    data = await client.gql(PENDING, token=partner.token)
    assert data["pendingInvitationCount"] == 1
    assert data["pendingInvitations"]["edges"] == [
        {"node": {"id": invitation["id"], "status": "PENDING"}}
    ]
    badge = await client.gql(BADGE, token=partner.token)
    assert badge["viewer"]["member"]["partner"]["pendingInvitationCount"] == 1
    assert await ActivityEvent.filter(verb=ActivityVerb.INVITATION_RECEIVED).count() == 1


async def test_partial_authorization_needs_a_non_empty_permission_list(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    account = await register_account(client)
    no_permissions: list[list[str] | None] = [None, []]
    for permissions in no_permissions:
        result = await client.gql(
            SEND,
            {
                "input": {
                    "partnerSlug": partner.slug,
                    "scope": "PARTIAL",
                    "permissions": permissions,
                }
            },
            account.token,
        )
        errors = result["sendAccessInvitation"]["errors"]
        assert [(error["code"], error["field"]) for error in errors] == [
            ("VALIDATION", ["permissions"])
        ]
    assert await AccessInvitation.all().count() == 0
    invitation = await _send(
        client, account, partner, scope="PARTIAL", permissions=["SSL", "DOMAINS", "SSL"]
    )
    assert invitation["permissions"] == ["DOMAINS", "SSL"]


async def test_send_rejects_long_messages_hidden_profiles_and_wrong_realms(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    hidden = await register_partner(client, public=False)
    account = await register_account(client)

    async def send(token: str | None, **fields: Any) -> list[dict[str, Any]]:
        variables = {"input": {"partnerSlug": partner.slug, "scope": "FULL", **fields}}
        return (await client.gql(SEND, variables, token))["sendAccessInvitation"]["errors"]

    assert [(e["code"], e["field"]) for e in await send(account.token, message="x" * 2001)] == [
        ("VALIDATION", ["message"])
    ]
    assert (await send(account.token, message="bell\x07"))[0]["field"] == ["message"]
    assert [
        (e["code"], e["field"]) for e in await send(account.token, partnerSlug=hidden.slug)
    ] == [("PROFILE_NOT_PUBLIC", ["partnerSlug"])]
    assert (await send(partner.token))[0]["code"] == "FORBIDDEN"
    assert (await send(None))[0]["code"] == "UNAUTHENTICATED"
    assert await AccessInvitation.all().count() == 0
    assert await send(account.token, message="x" * 2000) == []


async def test_one_pending_or_connected_authorization_per_account_and_partner(
    client: GraphQLClient,
) -> None:
    partner, account, first_id = await _setup(client)
    other_partner = await register_partner(client, public=True)
    second = await client.gql(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
    )
    assert second["sendAccessInvitation"]["errors"] == [
        {
            "code": "CONFLICT",
            "message": "You already have a pending or connected authorization with this partner.",
            "field": ["partnerSlug"],
        }
    ]
    await _send(client, account, other_partner)  # another partner is fine
    await client.mutate(
        CONNECT, {"input": {"invitationId": first_id, "target": {"newCustomer": {}}}}, partner.token
    )
    connected = await client.gql(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
    )
    assert connected["sendAccessInvitation"]["errors"][0]["code"] == "CONFLICT"
    await client.mutate(REVOKE, {"input": {"invitationId": first_id}}, account.token)
    await _send(client, account, partner)  # after revoking, a new one may be sent


class TestInvitationTtl:
    @pytest.fixture
    def settings(self, base_settings: Settings) -> Settings:
        return dataclasses.replace(base_settings, invitation_ttl_days=7)

    async def test_expiry_follows_the_configured_ttl(self, client: GraphQLClient) -> None:
        partner = await register_partner(client, public=True)
        account = await register_account(client)
        invitation = await _send(client, account, partner)
        expires = datetime.fromisoformat(invitation["expiresAt"])
        assert abs(expires - datetime.now(UTC) - timedelta(days=7)) < timedelta(seconds=5)


# ---------------------------------------------------------------- expiry


async def test_expired_authorization_reads_expired_everywhere_and_is_logged_once(
    client: GraphQLClient,
) -> None:
    # given
    partner, account, invitation_id = await _setup(client)
    await _expire(invitation_id)
    # when / then
    pending = await client.gql(PENDING, token=partner.token)
    assert pending["pendingInvitationCount"] == 0
    assert pending["pendingInvitations"]["totalCount"] == 0
    single = await client.gql(INVITATION, {"id": invitation_id}, partner.token)
    assert single["invitation"]["status"] == "EXPIRED"
    assert single["invitation"]["closedAt"] is not None
    listed = await client.gql(INVITATIONS, {"filter": {"status": ["EXPIRED"]}}, partner.token)
    assert listed["invitations"]["totalCount"] == 1
    mine = await client.gql(MINE, token=account.token)
    assert mine["myInvitations"][0]["status"] == "EXPIRED"
    # reads never write: the expiry is recorded by the periodic sweep, once however often it runs
    assert await ActivityEvent.filter(verb=ActivityVerb.INVITATION_EXPIRED).count() == 0
    await sweep_once()
    await sweep_once()
    assert await ActivityEvent.filter(verb=ActivityVerb.INVITATION_EXPIRED).count() == 1


async def test_status_is_right_even_before_the_sweep_runs(client: GraphQLClient) -> None:
    partner, _account, invitation_id = await _setup(client)
    await _expire(invitation_id)
    # the pending list would sweep; the node() read of the account holder must be right too
    invitations = await AccessInvitation.all()
    assert [row.status for row in invitations] == ["PENDING"]
    node = await client.gql(NODE, {"id": invitation_id}, partner.token)
    assert node["node"]["status"] == "EXPIRED"


async def test_expired_authorization_cannot_be_decided_or_withdrawn(client: GraphQLClient) -> None:
    partner, account, invitation_id = await _setup(client)
    await _expire(invitation_id)
    connect = await client.gql(
        CONNECT,
        {"input": {"invitationId": invitation_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    assert connect["connectCustomer"]["errors"][0]["code"] == "EXPIRED"
    decline = await client.gql(DECLINE, {"input": {"invitationId": invitation_id}}, partner.token)
    assert decline["declineInvitation"]["errors"][0]["code"] == "EXPIRED"
    withdraw = await client.gql(WITHDRAW, {"input": {"invitationId": invitation_id}}, account.token)
    assert withdraw["withdrawInvitation"]["errors"][0]["code"] == "EXPIRED"
    assert await Customer.all().count() == 0
    assert await decision_emails().count() == 0


async def test_an_expired_pending_one_does_not_block_a_new_one(client: GraphQLClient) -> None:
    partner, account, old_id = await _setup(client)
    await _expire(old_id)
    fresh = await _send(client, account, partner)
    assert fresh["status"] == "PENDING"
    assert (await AccessInvitation.get(id=_pk(old_id))).status == "EXPIRED"


# ---------------------------------------------------------------- connect


async def test_connect_creates_a_customer_from_the_account_and_confirms_by_mail(
    client: GraphQLClient,
) -> None:
    # given
    partner, account, invitation_id = await _setup(
        client,
        name="Anna Maria Bianchi",
        phone="+49 30 1234567",
        companyName="Bianchi GmbH",
        language="de",
    )
    # when
    payload = await client.mutate(
        CONNECT,
        {
            "input": {
                "invitationId": invitation_id,
                "target": {"newCustomer": {"notes": "From the portal", "language": "de-ch"}},
            }
        },
        partner.token,
    )
    # then
    customer = payload["customer"]
    assert customer["kind"] == "COMPANY"
    assert customer["displayName"] == "Bianchi GmbH"
    assert (customer["firstName"], customer["lastName"]) == ("Anna Maria", "Bianchi")
    assert customer["email"] == account.email
    assert customer["phone"] == "+49301234567"
    assert customer["language"] == "de-ch"
    assert customer["source"] == "INVITATION"
    assert customer["accessAuthorization"] == {"id": invitation_id, "status": "CONNECTED"}
    invitation = payload["invitation"]
    assert invitation["status"] == "CONNECTED"
    assert invitation["decidedBy"] == {"name": "Owner Person"}
    assert invitation["customer"] == {"id": customer["id"]}
    (email,) = await decision_emails()
    assert (email.template, email.language, email.to_address, email.status, email.attempts) == (
        "invitation_connected",
        "de",
        account.email,
        "QUEUED",
        0,
    )
    assert "angenommen" in email.subject
    verbs = {event.verb for event in await ActivityEvent.all()}
    assert {ActivityVerb.INVITATION_CONNECTED, ActivityVerb.CUSTOMER_CREATED} <= verbs


async def test_connect_to_an_existing_customer_only_adds_the_link(client: GraphQLClient) -> None:
    partner, _account, invitation_id = await _setup(client, companyName="Bianchi GmbH")
    existing = await create_customer(client, partner.token, email="old@example.com")
    before = await client.gql(CUSTOMER, {"id": existing["id"]}, partner.token)
    payload = await client.mutate(
        CONNECT,
        {
            "input": {
                "invitationId": invitation_id,
                "target": {"existingCustomerId": existing["id"]},
            }
        },
        partner.token,
    )
    assert payload["customer"]["id"] == existing["id"]
    after = await client.gql(CUSTOMER, {"id": existing["id"]}, partner.token)
    assert after["customer"]["accessAuthorization"] == {"id": invitation_id, "status": "CONNECTED"}
    unchanged = ("displayName", "firstName", "email", "phone", "version")
    assert {key: after["customer"][key] for key in unchanged} == {
        key: before["customer"][key] for key in unchanged
    }
    assert await Customer.all().count() == 1


async def test_a_customer_connected_to_one_account_cannot_take_a_second(
    client: GraphQLClient,
) -> None:
    partner, _first, first_id = await _setup(client)
    second = await register_account(client)
    second_id = (await _send(client, second, partner))["id"]
    existing = await create_customer(client, partner.token)
    target = {"existingCustomerId": existing["id"]}
    await client.mutate(
        CONNECT, {"input": {"invitationId": first_id, "target": target}}, partner.token
    )
    result = await client.gql(
        CONNECT, {"input": {"invitationId": second_id, "target": target}}, partner.token
    )
    assert [(e["code"], e["field"]) for e in result["connectCustomer"]["errors"]] == [
        ("CONFLICT", ["target", "existingCustomerId"])
    ]
    assert (await AccessInvitation.get(id=_pk(second_id))).status == "PENDING"


async def test_the_database_refuses_a_second_connected_authorization_for_a_customer(
    client: GraphQLClient,
) -> None:
    # given: a customer connected to one account, and a second pending authorization
    partner, _first, first_id = await _setup(client)
    second = await register_account(client)
    second_id = (await _send(client, second, partner))["id"]
    existing = await create_customer(client, partner.token)
    await client.mutate(
        CONNECT,
        {"input": {"invitationId": first_id, "target": {"existingCustomerId": existing["id"]}}},
        partner.token,
    )
    # when: something writes the second link past the resolvers' checks
    # then: the partial unique index of migration 0004 refuses it
    with pytest.raises(IntegrityError):
        await AccessInvitation.filter(id=_pk(second_id)).update(
            status="CONNECTED", customer_id=_pk(existing["id"])
        )


async def test_a_connect_to_a_customer_taken_by_another_account_changes_nothing(
    client: GraphQLClient,
) -> None:
    # given: the customer is connected to another account's authorization (the partial
    # unique index is the one check, for a customer taken long ago or a moment ago)
    partner, _first, first_id = await _setup(client)
    second = await register_account(client)
    second_id = (await _send(client, second, partner))["id"]
    existing = await create_customer(client, partner.token)
    target = {"existingCustomerId": existing["id"]}
    await client.mutate(
        CONNECT, {"input": {"invitationId": first_id, "target": target}}, partner.token
    )
    emails_before = await decision_emails().count()
    activity_before = await ActivityEvent.all().count()
    # when
    result = await client.gql(
        CONNECT, {"input": {"invitationId": second_id, "target": target}}, partner.token
    )
    # then: CONFLICT at the customer, the authorization still PENDING, nothing written
    assert [(e["code"], e["field"]) for e in result["connectCustomer"]["errors"]] == [
        ("CONFLICT", ["target", "existingCustomerId"])
    ]
    stored = await AccessInvitation.get(id=_pk(second_id))
    assert (stored.status, stored.customer_id, stored.decided_at) == ("PENDING", None, None)
    assert await decision_emails().count() == emails_before
    assert await ActivityEvent.all().count() == activity_before


@pytest.mark.postgres_only
async def test_concurrent_connects_link_a_customer_to_one_account_only(
    client: GraphQLClient,
) -> None:
    # given: per trial, a fresh customer and two accounts' pending authorizations
    partner = await register_partner(client, public=True)
    trials = 20
    outcomes: list[str] = []
    for _trial in range(trials):
        customer = await create_customer(client, partner.token)
        accounts = [await register_account(client), await register_account(client)]
        invitation_ids = [(await _send(client, account, partner))["id"] for account in accounts]
        target = {"existingCustomerId": customer["id"]}
        # when: both are connected to that customer at once
        results = await asyncio.gather(
            *(
                client.gql(
                    CONNECT, {"input": {"invitationId": id_, "target": target}}, partner.token
                )
                for id_ in invitation_ids
            )
        )
        # then (collected, so the message says how many trials went wrong)
        payloads = [result["connectCustomer"] for result in results]
        errors = [[(e["code"], e["field"]) for e in payload["errors"]] for payload in payloads]
        connected = await AccessInvitation.filter(
            customer_id=_pk(customer["id"]), status="CONNECTED"
        ).count()
        statuses = sorted(
            [str((await AccessInvitation.get(id=_pk(id_))).status) for id_ in invitation_ids]
        )
        emails = await (
            decision_emails().filter(to_address__in=[account.email for account in accounts]).count()
        )
        one_winner = (
            sorted(errors) == [[], [("CONFLICT", ["target", "existingCustomerId"])]]
            and connected == 1
            and statuses == ["CONNECTED", "PENDING"]
            and emails == 1
        )
        outcomes.append("one winner" if one_winner else f"{errors} {statuses} {emails} e-mails")
    wrong = [outcome for outcome in outcomes if outcome != "one winner"]
    assert wrong == [], f"{len(wrong)} of {trials} trials went wrong: {wrong}"


async def test_connect_with_bad_override_keeps_the_authorization_pending(
    client: GraphQLClient,
) -> None:
    partner, _account, invitation_id = await _setup(client)
    result = await client.gql(
        CONNECT,
        {"input": {"invitationId": invitation_id, "target": {"newCustomer": {"phone": "12"}}}},
        partner.token,
    )
    errors = result["connectCustomer"]["errors"]
    assert [(error["code"], error["field"]) for error in errors] == [
        ("VALIDATION", ["target", "newCustomer", "phone"])
    ]
    assert (await AccessInvitation.get(id=_pk(invitation_id))).status == "PENDING"
    assert await decision_emails().count() == 0


# ---------------------------------------------------------------- decline


async def test_decline_queues_the_mail_in_the_holders_language_with_the_message(
    client: GraphQLClient,
) -> None:
    # given
    partner, account, invitation_id = await _setup(client, language="it")
    message = "Grazie!\nPurtroppo non abbiamo capacità. <b>Ciao</b>"
    # when
    payload = await client.mutate(
        DECLINE,
        {"input": {"invitationId": invitation_id, "personalMessage": message}},
        partner.token,
    )
    # then
    email = payload["email"]
    assert (email["status"], email["to"], email["attempts"], email["sentAt"]) == (
        "QUEUED",
        account.email,
        0,
        None,
    )
    assert "rifiutato" in email["subject"]
    invitation = payload["invitation"]
    assert invitation["status"] == "DECLINED"
    assert invitation["declineMessage"] == message
    assert invitation["declineEmail"] == {"id": email["id"], "status": "QUEUED"}
    stored = await EmailDelivery.get(id=_pk(email["id"]))
    assert stored.language == "it"
    assert message in stored.text_body
    assert "&lt;b&gt;Ciao&lt;/b&gt;" in stored.html_body
    assert "<b>Ciao</b>" not in stored.html_body
    assert await ActivityEvent.filter(verb=ActivityVerb.INVITATION_DECLINED).count() == 1
    node = await client.gql(NODE, {"id": email["id"]}, partner.token)
    assert node["node"]["emailStatus"] == "QUEUED"


async def test_decline_without_message_falls_back_to_english_for_other_languages(
    client: GraphQLClient,
) -> None:
    partner, _account, invitation_id = await _setup(client, language="fr")
    payload = await client.mutate(
        DECLINE, {"input": {"invitationId": invitation_id}}, partner.token
    )
    assert payload["invitation"]["declineMessage"] is None
    stored = await EmailDelivery.get(id=_pk(payload["email"]["id"]))
    assert stored.language == "en"
    assert "personal message" not in stored.text_body


@pytest.mark.parametrize(
    "message",
    ["x" * 2001, "tab\there", "nul\x00", "escape\x1b[31m", "line\u2028separator", "next\x85line"],
    ids=["too-long", "tab", "nul", "escape", "u2028", "nel"],
)
async def test_bad_personal_message_is_rejected_and_nothing_changes(
    client: GraphQLClient, message: str
) -> None:
    partner, _account, invitation_id = await _setup(client)
    result = await client.gql(
        DECLINE,
        {"input": {"invitationId": invitation_id, "personalMessage": message}},
        partner.token,
    )
    errors = result["declineInvitation"]["errors"]
    assert [(error["code"], error["field"]) for error in errors] == [
        ("VALIDATION", ["personalMessage"])
    ]
    assert (await AccessInvitation.get(id=_pk(invitation_id))).status == "PENDING"
    assert await decision_emails().count() == 0


async def test_an_invitation_is_decided_once(client: GraphQLClient) -> None:
    partner, _account, invitation_id = await _setup(client)
    await client.mutate(DECLINE, {"input": {"invitationId": invitation_id}}, partner.token)
    connect = await client.gql(
        CONNECT,
        {"input": {"invitationId": invitation_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    assert connect["connectCustomer"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    again = await client.gql(DECLINE, {"input": {"invitationId": invitation_id}}, partner.token)
    assert again["declineInvitation"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    assert await decision_emails().count() == 1
    assert await Customer.all().count() == 0


async def test_fifty_concurrent_decisions_make_one_decision_and_one_email(
    client: GraphQLClient,
) -> None:
    # given: 25 connects (new and existing customer) and 25 declines on one invitation
    partner, _account, invitation_id = await _setup(client)
    existing = await create_customer(client, partner.token)
    calls: list[tuple[str, dict[str, Any]]] = []
    for index in range(50):
        if index % 2:
            calls.append((DECLINE, {"invitationId": invitation_id, "personalMessage": "No"}))
        else:
            target = {"newCustomer": {}} if index % 4 else {"existingCustomerId": existing["id"]}
            calls.append((CONNECT, {"invitationId": invitation_id, "target": target}))
    # when
    results = await asyncio.gather(
        *(client.gql(query, {"input": variables}, partner.token) for query, variables in calls)
    )
    # then
    payloads = [next(iter(result.values())) for result in results]
    winners = [payload for payload in payloads if not payload["errors"]]
    codes = [payload["errors"][0]["code"] for payload in payloads if payload["errors"]]
    assert len(winners) == 1
    assert codes == ["ALREADY_PROCESSED"] * 49
    assert await decision_emails().count() == 1
    assert await Customer.all().count() in (1, 2)
    stored = await AccessInvitation.get(id=_pk(invitation_id))
    assert stored.status == winners[0]["invitation"]["status"]
    decisions = await ActivityEvent.filter(
        verb__in=[ActivityVerb.INVITATION_CONNECTED, ActivityVerb.INVITATION_DECLINED]
    ).count()
    assert decisions == 1


# ---------------------------------------------------------------- withdraw, revoke


async def test_account_holder_withdraws_a_pending_authorization(client: GraphQLClient) -> None:
    partner, account, invitation_id = await _setup(client)
    payload = await client.mutate(
        WITHDRAW, {"input": {"invitationId": invitation_id}}, account.token
    )
    assert payload["invitation"]["status"] == "WITHDRAWN"
    assert payload["invitation"]["closedAt"] is not None
    again = await client.gql(WITHDRAW, {"input": {"invitationId": invitation_id}}, account.token)
    assert again["withdrawInvitation"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    connect = await client.gql(
        CONNECT,
        {"input": {"invitationId": invitation_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    assert connect["connectCustomer"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    assert (await client.gql(PENDING, token=partner.token))["pendingInvitationCount"] == 0
    assert await ActivityEvent.filter(verb=ActivityVerb.INVITATION_WITHDRAWN).count() == 1


async def test_revoke_ends_a_connected_authorization_and_the_customer_keeps_its_data(
    client: GraphQLClient,
) -> None:
    # given
    partner, account, invitation_id = await _setup(client)
    connected = await client.mutate(
        CONNECT,
        {"input": {"invitationId": invitation_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    customer_id = connected["customer"]["id"]
    # when
    payload = await client.mutate(REVOKE, {"input": {"invitationId": invitation_id}}, account.token)
    # then
    assert payload["invitation"]["status"] == "REVOKED"
    data = await client.gql(CUSTOMER, {"id": customer_id}, partner.token)
    assert data["customer"]["email"] == account.email
    assert data["customer"]["accessAuthorization"] == {"id": invitation_id, "status": "REVOKED"}
    again = await client.gql(REVOKE, {"input": {"invitationId": invitation_id}}, account.token)
    assert again["revokeAccess"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    revoked = await ActivityEvent.get(verb=ActivityVerb.ACCESS_REVOKED)
    assert revoked.customer_id == _pk(customer_id)


async def test_a_pending_authorization_is_withdrawn_not_revoked(client: GraphQLClient) -> None:
    _partner, account, invitation_id = await _setup(client)
    result = await client.gql(REVOKE, {"input": {"invitationId": invitation_id}}, account.token)
    assert result["revokeAccess"]["errors"][0]["code"] == "CONFLICT"
    assert (await AccessInvitation.get(id=_pk(invitation_id))).status == "PENDING"


async def test_withdraw_and_revoke_are_for_the_own_account_holder_only(
    client: GraphQLClient,
) -> None:
    partner, _account, invitation_id = await _setup(client)
    stranger = await register_account(client)
    for mutation, name in ((WITHDRAW, "withdrawInvitation"), (REVOKE, "revokeAccess")):
        variables = {"input": {"invitationId": invitation_id}}
        foreign = (await client.gql(mutation, variables, stranger.token))[name]["errors"]
        missing = (
            await client.gql(
                mutation,
                {"input": {"invitationId": to_global_id("AccessInvitation", 999_999)}},
                stranger.token,
            )
        )[name]["errors"]
        assert foreign == missing
        assert foreign[0]["code"] == "NOT_FOUND"
        as_partner = (await client.gql(mutation, variables, partner.token))[name]["errors"]
        assert as_partner[0]["code"] == "FORBIDDEN"
    assert (await AccessInvitation.get(id=_pk(invitation_id))).status == "PENDING"


# ---------------------------------------------------------------- visibility


async def test_another_partner_sees_nothing_and_gets_not_found(client: GraphQLClient) -> None:
    partner, _account, invitation_id = await _setup(client)
    other = await register_partner(client, public=True)
    assert (await client.gql(INVITATION, {"id": invitation_id}, other.token))["invitation"] is None
    assert (await client.gql(NODE, {"id": invitation_id}, other.token))["node"] is None
    assert (await client.gql(INVITATIONS, token=other.token))["invitations"]["totalCount"] == 0
    assert (await client.gql(PENDING, token=other.token))["pendingInvitationCount"] == 0
    missing = to_global_id("AccessInvitation", 999_999)
    decisions: list[tuple[str, str, dict[str, Any]]] = [
        (CONNECT, "connectCustomer", {"target": {"newCustomer": {}}}),
        (DECLINE, "declineInvitation", {}),
    ]
    for query, name, extra in decisions:
        foreign = await client.gql(
            query, {"input": {"invitationId": invitation_id, **extra}}, other.token
        )
        absent = await client.gql(query, {"input": {"invitationId": missing, **extra}}, other.token)
        assert foreign[name]["errors"] == absent[name]["errors"]
        assert foreign[name]["errors"][0]["code"] == "NOT_FOUND"
    assert (await AccessInvitation.get(id=_pk(invitation_id))).status == "PENDING"
    assert await decision_emails().count() == 0
    own = await client.gql(INVITATION, {"id": invitation_id}, partner.token)
    assert own["invitation"]["status"] == "PENDING"


async def test_partner_queries_refuse_account_tokens_and_visitors(client: GraphQLClient) -> None:
    _partner, account, invitation_id = await _setup(client)
    for query, variables in (
        (PENDING, None),
        (INVITATIONS, None),
        (INVITATION, {"id": invitation_id}),
    ):
        as_account = await client.raw(query, variables, account.token)
        assert as_account["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        anonymous = await client.raw(query, variables)
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    decline = await client.gql(DECLINE, {"input": {"invitationId": invitation_id}}, account.token)
    assert decline["declineInvitation"]["errors"][0]["code"] == "FORBIDDEN"


async def test_my_invitations_shows_the_holders_own_without_partner_internals(
    client: GraphQLClient,
) -> None:
    partner, account, invitation_id = await _setup(client)
    stranger = await register_account(client)
    await client.mutate(DECLINE, {"input": {"invitationId": invitation_id}}, partner.token)
    mine = await client.gql(MINE, token=account.token)
    assert mine["myInvitations"] == [
        {
            "id": invitation_id,
            "status": "DECLINED",
            "partnerProfile": {"slug": partner.slug},
            "decidedBy": None,
            "customer": None,
            "declineEmail": None,
        }
    ]
    assert (await client.gql(MINE, token=stranger.token))["myInvitations"] == []
    assert (await client.gql(NODE, {"id": invitation_id}, stranger.token))["node"] is None
    as_partner = await client.raw(MINE, token=partner.token)
    assert as_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_partner_may_fetch_requesters_but_no_other_account_holders(
    client: GraphQLClient,
) -> None:
    partner, account, _invitation_id = await _setup(client)
    other = await register_partner(client, public=True)
    stranger = await register_account(client)
    found = await client.gql(NODE, {"id": account.account_id}, partner.token)
    assert found["node"] == {"id": account.account_id, "name": "Anna Bianchi"}
    assert (await client.gql(NODE, {"id": account.account_id}, other.token))["node"] is None
    assert (await client.gql(NODE, {"id": stranger.account_id}, partner.token))["node"] is None


async def test_invitations_filter_by_status_and_page(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    ids = []
    for _ in range(3):
        account = await register_account(client)
        ids.append((await _send(client, account, partner))["id"])
    await client.mutate(DECLINE, {"input": {"invitationId": ids[0]}}, partner.token)
    page = await client.gql(INVITATIONS, {"first": 2}, partner.token)
    assert [edge["node"]["id"] for edge in page["invitations"]["edges"]] == [ids[2], ids[1]]
    cursor = page["invitations"]["pageInfo"]["endCursor"]
    rest = await client.gql(INVITATIONS, {"first": 2, "after": cursor}, partner.token)
    assert [edge["node"]["id"] for edge in rest["invitations"]["edges"]] == [ids[0]]
    declined = await client.gql(
        INVITATIONS, {"filter": {"status": ["DECLINED", "CONNECTED"]}}, partner.token
    )
    assert [edge["node"]["id"] for edge in declined["invitations"]["edges"]] == [ids[0]]
    everything = await client.gql(INVITATIONS, {"filter": {"status": []}}, partner.token)
    assert everything["invitations"]["totalCount"] == 3


LIST_WITH_RELATIONS = f"""
query {{ invitations(first: 50) {{ totalCount edges {{ node {{ {INVITATION_FIELDS} }} }} }} }}
"""


async def test_the_invitation_list_costs_the_same_for_3_and_for_9_rows(
    client: GraphQLClient, count_queries: StatementCounter
) -> None:
    partner = await register_partner(client, public=True)
    statements = []
    for rows in (3, 9):
        while await AccessInvitation.all().count() < rows:
            account = await register_account(client)
            invitation = await _send(client, account, partner)
            await client.mutate(
                DECLINE, {"input": {"invitationId": invitation["id"]}}, partner.token
            )
        count_queries.reset()
        data = await client.gql(LIST_WITH_RELATIONS, token=partner.token)
        assert data["invitations"]["totalCount"] == rows
        statements.append(count_queries.count)
    assert statements[0] == statements[1]
