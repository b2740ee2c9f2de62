"""What a partner sees of an account holder once their authorization is closed.

While an authorization is PENDING (unexpired) or CONNECTED, its partner's members read
the account holder (e-mail, phone, account number). Once it is withdrawn, declined,
expired or revoked, they see only the name it was sent with, under an id that is the
authorization's own, and node() no longer finds the account. The account holder always
sees their own data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from models.account import AccountHolder
from models.invitation import AccessInvitation
from resolvers.housekeeping import sweep_once
from tests.factories import pk_of
from tests.support import (
    AccountLogin,
    GraphQLClient,
    PartnerLogin,
    register_account,
    register_partner,
)

REQUESTER = "requester { id name email phone accountNumber companyName language }"
SEND = """
mutation($input: SendAccessInvitationInput!) {
  sendAccessInvitation(input: $input) { invitation { id } errors { code } }
}"""
INVITATION = f"query($id: ID!) {{ invitation(id: $id) {{ status {REQUESTER} }} }}"
MINE = f"{{ myInvitations {{ status {REQUESTER} }} }}"
NODE = """
query($id: ID!) { node(id: $id) { id ... on AccountHolder { name email accountNumber } } }
"""
WITHDRAW = (
    "mutation($input: InvitationIdInput!) { withdrawInvitation(input: $input) { errors { code } } }"
)
REVOKE = "mutation($input: InvitationIdInput!) { revokeAccess(input: $input) { errors { code } } }"
DECLINE = "mutation($input: DeclineInvitationInput!) { declineInvitation(input: $input) { errors { code } } }"
CONNECT = (
    "mutation($input: ConnectCustomerInput!) { connectCustomer(input: $input) { errors { code } } }"
)

Close = Callable[[GraphQLClient, PartnerLogin, AccountLogin, str], Awaitable[None]]


async def _withdraw(
    client: GraphQLClient, _p: PartnerLogin, account: AccountLogin, id_: str
) -> None:
    await client.mutate(WITHDRAW, {"input": {"invitationId": id_}}, account.token)


async def _decline(
    client: GraphQLClient, partner: PartnerLogin, _a: AccountLogin, id_: str
) -> None:
    await client.mutate(DECLINE, {"input": {"invitationId": id_}}, partner.token)


async def _overdue(_c: GraphQLClient, _p: PartnerLogin, _a: AccountLogin, id_: str) -> None:
    # PENDING past its expiry, not yet swept into EXPIRED
    past = datetime.now(UTC) - timedelta(seconds=1)
    await AccessInvitation.filter(id=pk_of(id_)).update(expires_at=past)


async def _expire(client: GraphQLClient, partner: PartnerLogin, a: AccountLogin, id_: str) -> None:
    await _overdue(client, partner, a, id_)
    await sweep_once()  # the periodic sweep records the expiry (reads never write)
    assert (await AccessInvitation.get(id=pk_of(id_))).status == "EXPIRED"


async def _revoke(
    client: GraphQLClient, partner: PartnerLogin, account: AccountLogin, id_: str
) -> None:
    target: dict[str, dict[str, str]] = {"newCustomer": {}}
    await client.mutate(CONNECT, {"input": {"invitationId": id_, "target": target}}, partner.token)
    await client.mutate(REVOKE, {"input": {"invitationId": id_}}, account.token)


CLOSINGS: dict[str, Close] = {
    "withdrawn": _withdraw,
    "declined": _decline,
    "overdue": _overdue,
    "expired": _expire,
    "revoked": _revoke,
}


async def _sent(client: GraphQLClient) -> tuple[PartnerLogin, AccountLogin, str]:
    """A public partner and an authorization Anna sent it (with phone and company)."""
    partner = await register_partner(client, public=True)
    account = await register_account(
        client, name="Anna Bianchi", phone="+49 30 1234567", companyName="Bianchi GmbH"
    )
    sent = await client.mutate(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
    )
    return partner, account, sent["invitation"]["id"]


@pytest.mark.parametrize("closing", list(CLOSINGS))
async def test_a_closed_authorization_shows_the_partner_only_the_name_it_was_sent_with(
    client: GraphQLClient, closing: str
) -> None:
    # given: Anna's authorization is closed, and she has changed her name since
    partner, account, invitation_id = await _sent(client)
    await CLOSINGS[closing](client, partner, account, invitation_id)
    await AccountHolder.filter(id=pk_of(account.account_id)).update(name="Anna Rossi")
    # when
    data = await client.gql(INVITATION, {"id": invitation_id}, partner.token)
    # then: the name at the time, nothing that identifies the account
    requester = data["invitation"]["requester"]
    assert {key: value for key, value in requester.items() if key != "id"} == {
        "name": "Anna Bianchi",
        "email": "",
        "phone": None,
        "accountNumber": "",
        "companyName": None,
        "language": "",
    }
    assert requester["id"] != account.account_id
    assert (await client.gql(NODE, {"id": requester["id"]}, partner.token))["node"] is None


@pytest.mark.parametrize("closing", list(CLOSINGS))
async def test_node_finds_the_account_holder_no_more_once_the_authorization_closed(
    client: GraphQLClient, closing: str
) -> None:
    # given
    partner, account, invitation_id = await _sent(client)
    await CLOSINGS[closing](client, partner, account, invitation_id)
    # when
    data = await client.gql(NODE, {"id": account.account_id}, partner.token)
    # then
    assert data["node"] is None


@pytest.mark.parametrize("closing", ["pending", "connected"])
async def test_a_live_authorization_shows_the_partner_the_account(
    client: GraphQLClient, closing: str
) -> None:
    # given
    partner, account, invitation_id = await _sent(client)
    if closing == "connected":
        target: dict[str, dict[str, str]] = {"newCustomer": {}}
        variables = {"input": {"invitationId": invitation_id, "target": target}}
        await client.mutate(CONNECT, variables, partner.token)
    # when
    data = await client.gql(INVITATION, {"id": invitation_id}, partner.token)
    found = await client.gql(NODE, {"id": account.account_id}, partner.token)
    # then
    requester = data["invitation"]["requester"]
    assert (requester["id"], requester["email"]) == (account.account_id, account.email)
    assert requester["accountNumber"] and requester["phone"] == "+49301234567"
    assert found["node"]["email"] == account.email


@pytest.mark.parametrize("closing", list(CLOSINGS))
async def test_the_account_holder_still_sees_their_own_data(
    client: GraphQLClient, closing: str
) -> None:
    # given
    partner, account, invitation_id = await _sent(client)
    await CLOSINGS[closing](client, partner, account, invitation_id)
    # when
    mine = await client.gql(MINE, token=account.token)
    myself = await client.gql(NODE, {"id": account.account_id}, account.token)
    # then
    [invitation] = mine["myInvitations"]
    assert (invitation["requester"]["id"], invitation["requester"]["email"]) == (
        account.account_id,
        account.email,
    )
    assert invitation["requester"]["accountNumber"]
    assert myself["node"]["email"] == account.email


async def test_a_new_pending_authorization_makes_the_account_visible_again(
    client: GraphQLClient,
) -> None:
    # given: Anna withdrew one authorization and sent a new one
    partner, account, first_id = await _sent(client)
    await _withdraw(client, partner, account, first_id)
    await client.mutate(
        SEND, {"input": {"partnerSlug": partner.slug, "scope": "FULL"}}, account.token
    )
    # when
    found = await client.gql(NODE, {"id": account.account_id}, partner.token)
    closed = await client.gql(INVITATION, {"id": first_id}, partner.token)
    # then: the live one shows the account; the closed one still only its name
    assert found["node"]["email"] == account.email
    assert closed["invitation"]["requester"]["email"] == ""
