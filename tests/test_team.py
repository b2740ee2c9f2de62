"""The agency's team end to end (issue 12, items 3 and 5): invitations through a real SMTP
server, joining, roles, removal with its sessions, and the one OWNER."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette

from config import Settings
from events import Event, EventKind, Subscription
from models.activity import ActivityEvent, ActivityVerb
from models.identity import IdentityToken
from models.partner import MemberRole, PartnerMember
from models.team import MemberInvitation
from tests.factories import add_member, pk_of
from tests.mail_sink import MailSink, sink, sink_settings, token_in  # noqa: F401
from tests.support import GraphQLClient, create_customer, register_partner, unique
from tests.ws_client import closed_with, next_data, session, subscribe

ERRORS = "errors { code message field }"
INVITE = f"mutation($email: String!, $role: MemberRole!) {{ inviteMember(input: {{email: $email, role: $role}}) {{ memberInvitation {{ id email role status invitedBy {{ name }} }} {ERRORS} }} }}"
REVOKE = f"mutation($id: ID!) {{ revokeMemberInvitation(input: {{memberInvitationId: $id}}) {{ memberInvitation {{ status }} {ERRORS} }} }}"
ACCEPT = f"mutation($token: String!, $name: String!, $password: String!) {{ acceptMemberInvitation(input: {{token: $token, name: $name, password: $password}}) {{ token viewer {{ member {{ id name role emailVerified }} }} {ERRORS} }} }}"
CHANGE_ROLE = f"mutation($id: ID!, $role: MemberRole!) {{ changeMemberRole(input: {{memberId: $id, role: $role}}) {{ member {{ role }} {ERRORS} }} }}"
REMOVE = f"mutation($id: ID!) {{ removeMember(input: {{memberId: $id}}) {{ ok {ERRORS} }} }}"
TRANSFER = f"mutation($id: ID!) {{ transferOwnership(input: {{memberId: $id}}) {{ member {{ role }} {ERRORS} }} }}"
TEAM = "{ viewer { member { partner { members { id name role email emailVerified joinedAt } memberInvitations { email status } } } } }"
VERIFY = f"mutation($token: String!) {{ verifyEmail(input: {{token: $token}}) {{ ok {ERRORS} }} }}"
REQUEST_RESET = f"mutation($email: String!) {{ requestPasswordReset(input: {{realm: PARTNER, email: $email}}) {{ ok {ERRORS} }} }}"
RESET = f"mutation($token: String!, $password: String!) {{ resetPassword(input: {{token: $token, newPassword: $password}}) {{ token {ERRORS} }} }}"
OWN_ADDRESS = "{ viewer { member { emailVerified } } }"
PASSWORD = "joining the team 2026"
TEAM_VERBS = [
    ActivityVerb.MEMBER_INVITED,
    ActivityVerb.MEMBER_JOINED,
    ActivityVerb.MEMBER_ROLE_CHANGED,
    ActivityVerb.OWNERSHIP_TRANSFERRED,
    ActivityVerb.MEMBER_REMOVED,
]


@pytest.fixture(scope="module")
def settings(base_settings: Settings, sink: MailSink) -> Settings:  # noqa: F811
    return sink_settings(base_settings, sink)


def codes(payload: dict) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def invite_and_read_token(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    token: str,
    role: str = "MEMBER",
) -> tuple[str, str]:
    """(the invited address, the token of the invitation e-mail's link)."""
    email = f"{unique('recruit')}@example.net"
    await client.mutate(INVITE, {"email": email, "role": role}, token)
    (mail,) = await sink.wait_for(email, "invited you to join")
    return email, token_in(mail, "accept-invitation")


async def team_of(client: GraphQLClient, token: str) -> dict:
    return (await client.gql(TEAM, token=token))["viewer"]["member"]["partner"]


async def team_events(stream: Subscription, count: int) -> list[Event]:
    """The next `count` events of team changes (feed events of other rows, such as the mail
    worker's, and sign-outs are left out)."""
    team_kinds = {EventKind[verb.name] for verb in TEAM_VERBS}
    found: list[Event] = []
    while len(found) < count:
        event = await asyncio.wait_for(anext(stream), 5)
        feed = event.kind == EventKind.ACTIVITY_RECORDED and event.payload["verb"] in TEAM_VERBS
        if feed or event.kind in team_kinds:
            found.append(event)
    return found


async def test_invite_accept_work_remove(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    server_url: str,
) -> None:
    # given an owner who invites a colleague, who accepts with the e-mail's link
    owner = await register_partner(client)
    email, token = await invite_and_read_token(client, sink, owner.token)
    joined = await client.mutate(
        ACCEPT, {"token": token, "name": "Marta Neri", "password": PASSWORD}
    )
    member = joined["viewer"]["member"]
    assert (member["role"], member["emailVerified"]) == ("MEMBER", True)
    # when the new member works: a customer of the partner
    customer = await create_customer(client, joined["token"])
    assert customer["customerNumber"]
    team = await team_of(client, owner.token)
    assert [m["name"] for m in team["members"]] == ["Owner Person", "Marta Neri"]
    assert team["memberInvitations"][0]["status"] == "ACCEPTED"
    # and is removed while their dashboard is open
    async with session(server_url, joined["token"]) as socket:
        await subscribe(socket, "subscription { activity { verb } }", "feed")
        await asyncio.sleep(0.05)
        await client.mutate(REMOVE, {"id": member["id"]}, owner.token)
        code, _ = await closed_with(socket)
    # then their socket closed with 4401, their token and password are dead
    assert code == 4401
    assert (await client.raw("{ viewer { member { id } } }", token=joined["token"]))["data"][
        "viewer"
    ] is None
    login = await client.gql(
        "mutation($e: String!, $p: String!) { login(input: {realm: PARTNER, email: $e, password: $p}) { token } }",
        {"e": email, "p": PASSWORD},
    )
    assert login["login"]["token"] is None
    # and what they did stays, under their name
    assert [m["name"] for m in (await team_of(client, owner.token))["members"]] == ["Owner Person"]
    created = await ActivityEvent.get(verb=ActivityVerb.CUSTOMER_CREATED)
    assert created.actor_name == "Marta Neri"
    team_verbs = [
        event.verb
        for event in await ActivityEvent.filter(verb__startswith="MEMBER_").order_by("id")
    ]
    assert team_verbs == [
        ActivityVerb.MEMBER_INVITED,
        ActivityVerb.MEMBER_JOINED,
        ActivityVerb.MEMBER_REMOVED,
    ]
    # and the address is free again: it can be invited anew
    await client.mutate(INVITE, {"email": email, "role": "ADMIN"}, owner.token)


async def test_every_team_change_writes_its_activity_row_and_publishes_its_events(
    app: Starlette,
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    server_url: str,
) -> None:
    # given a partner's events followed on the broker and on a colleague's dashboard feed
    owner = await register_partner(client)
    _watcher_id, watcher = await add_member(client, owner, MemberRole.MEMBER)
    async with (
        app.state.broker.subscribe(pk_of(owner.partner_id)) as stream,
        session(server_url, watcher) as socket,
    ):
        await subscribe(socket, "subscription { activity { verb actorName } }", "feed")
        await asyncio.sleep(0.05)
        # when someone is invited, joins, is made ADMIN, becomes OWNER and removes the old one
        email, token = await invite_and_read_token(client, sink, owner.token)
        joined = await client.mutate(
            ACCEPT, {"token": token, "name": "Marta Neri", "password": PASSWORD}
        )
        new_id = joined["viewer"]["member"]["id"]
        await client.mutate(CHANGE_ROLE, {"id": new_id, "role": "ADMIN"}, owner.token)
        await client.mutate(TRANSFER, {"id": new_id}, owner.token)
        await client.mutate(REMOVE, {"id": owner.member_id}, joined["token"])
        published = await team_events(stream, 2 * len(TEAM_VERBS))
        feed: list[dict] = []
        while len(feed) < len(TEAM_VERBS):
            entry = (await next_data(socket))["data"]["activity"]
            if entry["verb"] in TEAM_VERBS:  # not the mail worker's EMAIL_SENT rows
                feed.append(entry)
    # then one activity row per change, in order, each naming who made it
    rows = await ActivityEvent.filter(verb__in=TEAM_VERBS).order_by("id")
    assert [(row.verb, row.actor_name) for row in rows] == [
        (ActivityVerb.MEMBER_INVITED, "Owner Person"),
        (ActivityVerb.MEMBER_JOINED, "Marta Neri"),
        (ActivityVerb.MEMBER_ROLE_CHANGED, "Owner Person"),
        (ActivityVerb.OWNERSHIP_TRANSFERRED, "Owner Person"),
        (ActivityVerb.MEMBER_REMOVED, "Marta Neri"),
    ]
    assert rows[2].summary == "Marta Neri is now ADMIN (was MEMBER)"
    invitation = await MemberInvitation.get(email=email)
    member, old_owner = pk_of(new_id), pk_of(owner.member_id)
    assert [(row.subject_type, row.subject_id) for row in rows] == [
        ("MemberInvitation", invitation.id),
        ("PartnerMember", member),
        ("PartnerMember", member),
        ("PartnerMember", member),
        ("PartnerMember", old_owner),
    ]
    # and each row's feed event, then the change's own event naming its subject
    expected: list[tuple[str, int | None, dict]] = []
    for row in rows:
        expected.append((EventKind.ACTIVITY_RECORDED, row.id, {"verb": row.verb.value}))
        expected.append((EventKind[row.verb.name], row.subject_id, {}))
    assert [(e.kind, e.subject_id, e.payload) for e in published] == expected
    # and the colleague's dashboard feed showed each change as it happened
    assert [(entry["verb"], entry["actorName"]) for entry in feed] == [
        (row.verb.value, row.actor_name) for row in rows
    ]


async def test_a_second_invitation_replaces_the_first_and_revoking_kills_the_link(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    owner = await register_partner(client)
    email = f"{unique('twice')}@example.net"
    await client.mutate(INVITE, {"email": email, "role": "MEMBER"}, owner.token)
    second = await client.mutate(INVITE, {"email": email, "role": "ADMIN"}, owner.token)
    first_mail, second_mail = await sink.wait_for(email, "invited you", count=2)
    refused = await client.gql(
        ACCEPT,
        {"token": token_in(first_mail, "accept-invitation"), "name": "X", "password": PASSWORD},
    )
    assert codes(refused["acceptMemberInvitation"]) == ["INVALID_TOKEN"]
    revoked = await client.mutate(REVOKE, {"id": second["memberInvitation"]["id"]}, owner.token)
    assert revoked["memberInvitation"]["status"] == "REVOKED"
    refused = await client.gql(
        ACCEPT,
        {"token": token_in(second_mail, "accept-invitation"), "name": "X", "password": PASSWORD},
    )
    assert codes(refused["acceptMemberInvitation"]) == ["INVALID_TOKEN"]
    again = await client.gql(REVOKE, {"id": second["memberInvitation"]["id"]}, owner.token)
    assert codes(again["revokeMemberInvitation"]) == ["ALREADY_PROCESSED"]
    assert await PartnerMember.filter(email=email).count() == 0


async def test_an_address_that_belongs_to_any_member_cannot_be_invited(
    client: GraphQLClient,
) -> None:
    owner = await register_partner(client)
    elsewhere = await register_partner(client)
    taken = await client.gql(INVITE, {"email": elsewhere.email, "role": "MEMBER"}, owner.token)
    assert [(e["code"], e["field"]) for e in taken["inviteMember"]["errors"]] == [
        ("CONFLICT", ["email"])
    ]
    as_owner = await client.gql(INVITE, {"email": "new@example.net", "role": "OWNER"}, owner.token)
    assert as_owner["inviteMember"]["errors"][0]["field"] == ["role"]
    assert await MemberInvitation.all().count() == 0


async def test_expired_invitation_reads_expired_and_its_link_is_invalid(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    owner = await register_partner(client)
    _email, token = await invite_and_read_token(client, sink, owner.token)
    await MemberInvitation.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    refused = await client.gql(ACCEPT, {"token": token, "name": "Late", "password": PASSWORD})
    assert codes(refused["acceptMemberInvitation"]) == ["INVALID_TOKEN"]
    assert (await team_of(client, owner.token))["memberInvitations"][0]["status"] == "EXPIRED"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a" * 101,  # longer than any token we issue
        "a" * 5000,
        "+/" * 21 + "a",  # 43 characters, but not URL-safe base64
        "ü" * 43,
        "\x00abc",
        "../../etc/passwd",
        "?token=x&admin=1",
    ],
)
async def test_malformed_invitation_tokens_are_invalid_and_change_nothing(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    token: str,
) -> None:
    # given a pending invitation
    owner = await register_partner(client)
    email, real_token = await invite_and_read_token(client, sink, owner.token)
    # when a malformed token is given to accept it
    refused = await client.gql(ACCEPT, {"token": token, "name": "Eve", "password": PASSWORD})
    # then INVALID_TOKEN at the token, no member, and the invitation still pending
    payload = refused["acceptMemberInvitation"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_TOKEN", ["token"])]
    assert payload["token"] is None
    assert not await PartnerMember.exists(email=email)
    assert (await team_of(client, owner.token))["memberInvitations"][0]["status"] == "PENDING"
    # and the real link still works
    await client.mutate(ACCEPT, {"token": real_token, "name": "Ann", "password": PASSWORD})


async def test_a_token_works_only_for_what_it_was_made_for(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    # given an unverified owner's verification link and reset link, and a member invitation
    owner = await register_partner(client)
    (verification,) = await sink.wait_for(owner.email, "Confirm your e-mail address")
    await client.mutate(REQUEST_RESET, {"email": owner.email})
    (reset,) = await sink.wait_for(owner.email, "Reset your PartnerDesk password")
    email, invitation = await invite_and_read_token(client, sink, owner.token)
    verify = token_in(verification, "verify-email")
    reset_token = token_in(reset, "reset-password")
    new_password = "a brand new passphrase 7"
    # when each is given to the two mutations it was not made for
    misuses = [
        (VERIFY, {"token": reset_token}),
        (VERIFY, {"token": invitation}),
        (RESET, {"token": verify, "password": new_password}),
        (RESET, {"token": invitation, "password": new_password}),
        (ACCEPT, {"token": verify, "name": "Eve", "password": PASSWORD}),
        (ACCEPT, {"token": reset_token, "name": "Eve", "password": PASSWORD}),
    ]
    for query, variables in misuses:
        # then each answers INVALID_TOKEN at the token
        (payload,) = (await client.gql(query, variables)).values()
        errors = [(e["code"], e["field"]) for e in payload["errors"]]
        assert errors == [("INVALID_TOKEN", ["token"])], (query, variables)
    # and nothing changed: still unverified, still signed in, no member, no token used
    assert (await client.gql(OWN_ADDRESS, token=owner.token))["viewer"]["member"] == {
        "emailVerified": False
    }
    assert not await PartnerMember.exists(email=email)
    assert not await IdentityToken.filter(used_at__not_isnull=True).exists()
    # and each token still does what it was made for
    await client.mutate(VERIFY, {"token": verify})
    await client.mutate(ACCEPT, {"token": invitation, "name": "Ann", "password": PASSWORD})
    await client.mutate(RESET, {"token": reset_token, "password": new_password})


async def test_a_bad_password_on_accept_writes_nothing_and_keeps_the_link(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    owner = await register_partner(client)
    email, token = await invite_and_read_token(client, sink, owner.token)
    weak = await client.gql(ACCEPT, {"token": token, "name": "Ann", "password": email})
    assert weak["acceptMemberInvitation"]["errors"][0]["field"] == ["password"]
    assert not await PartnerMember.exists(email=email)
    await client.mutate(ACCEPT, {"token": token, "name": "Ann", "password": PASSWORD})


async def test_twenty_concurrent_accepts_with_one_token_make_one_member(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    owner = await register_partner(client)
    email, token = await invite_and_read_token(client, sink, owner.token)
    answers = await asyncio.gather(
        *(
            client.gql(ACCEPT, {"token": token, "name": f"Twin {n}", "password": PASSWORD})
            for n in range(20)
        )
    )
    payloads = [answer["acceptMemberInvitation"] for answer in answers]
    assert sum(1 for payload in payloads if payload["token"]) == 1
    assert sorted(codes(p) for p in payloads if not p["token"]) == [["INVALID_TOKEN"]] * 19
    assert await PartnerMember.filter(email=email).count() == 1
    assert await ActivityEvent.filter(verb=ActivityVerb.MEMBER_JOINED).count() == 1


async def test_members_and_admins_are_held_to_their_roles(client: GraphQLClient) -> None:
    # given an owner, an ADMIN and a MEMBER of one partner
    owner = await register_partner(client)
    admin_id, admin = await add_member(client, owner, MemberRole.ADMIN)
    member_id, member = await add_member(client, owner, MemberRole.MEMBER)
    # then a MEMBER may not manage the team
    for query, variables in (
        (INVITE, {"email": "x@example.net", "role": "MEMBER"}),
        (REMOVE, {"id": admin_id}),
        (CHANGE_ROLE, {"id": admin_id, "role": "MEMBER"}),
        (TRANSFER, {"id": member_id}),
    ):
        (payload,) = (await client.gql(query, variables, member)).values()
        assert codes(payload) == ["FORBIDDEN"], query
    # and sees no invitations
    assert (await team_of(client, member))["memberInvitations"] == []
    # an ADMIN may invite and remove, but not change roles, transfer, or remove the OWNER
    await client.mutate(INVITE, {"email": f"{unique('a')}@example.net", "role": "MEMBER"}, admin)
    for query, variables in (
        (CHANGE_ROLE, {"id": member_id, "role": "ADMIN"}),
        (TRANSFER, {"id": admin_id}),
        (REMOVE, {"id": owner.member_id}),
    ):
        (payload,) = (await client.gql(query, variables, admin)).values()
        assert codes(payload) == ["FORBIDDEN"], query
    await client.mutate(REMOVE, {"id": member_id}, admin)
    # the OWNER changes roles
    changed = await client.mutate(CHANGE_ROLE, {"id": admin_id, "role": "MEMBER"}, owner.token)
    assert changed["member"]["role"] == "MEMBER"


async def test_a_partner_always_has_exactly_one_owner(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    admin_id, admin = await add_member(client, owner, MemberRole.ADMIN)
    # the owner can neither demote nor remove themselves
    demote = await client.gql(CHANGE_ROLE, {"id": owner.member_id, "role": "ADMIN"}, owner.token)
    assert codes(demote["changeMemberRole"]) == ["LAST_OWNER"]
    leave = await client.gql(REMOVE, {"id": owner.member_id}, owner.token)
    assert codes(leave["removeMember"]) == ["LAST_OWNER"]
    # ownership moves: the old owner becomes ADMIN
    moved = await client.mutate(TRANSFER, {"id": admin_id}, owner.token)
    assert moved["member"]["role"] == "OWNER"
    roles = sorted(m["role"] for m in (await team_of(client, admin))["members"])
    assert roles == ["ADMIN", "OWNER"]
    # and the former owner cannot transfer again
    again = await client.gql(TRANSFER, {"id": owner.member_id}, owner.token)
    assert codes(again["transferOwnership"]) == ["FORBIDDEN"]
    assert await ActivityEvent.filter(verb=ActivityVerb.OWNERSHIP_TRANSFERRED).count() == 1


async def test_concurrent_transfers_leave_one_owner(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    targets = [(await add_member(client, owner, MemberRole.ADMIN))[0] for _ in range(4)]
    await asyncio.gather(*(client.gql(TRANSFER, {"id": t}, owner.token) for t in targets))
    roles = [m["role"] for m in (await team_of(client, owner.token))["members"]]
    assert roles.count("OWNER") == 1


@pytest.mark.parametrize(
    "given_id", ["", "not-an-id", "UGFydG5lck1lbWJlcjo5OTk5OTk=", "Q3VzdG9tZXI6MQ=="]
)
async def test_malformed_unknown_and_foreign_member_ids_are_not_found(
    client: GraphQLClient, given_id: str
) -> None:
    owner = await register_partner(client)
    foreign = await register_partner(client)
    for target in (given_id, foreign.member_id):
        for query, name in ((REMOVE, "removeMember"), (TRANSFER, "transferOwnership")):
            payload = (await client.gql(query, {"id": target}, owner.token))[name]
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [
                ("NOT_FOUND", ["memberId"])
            ]
        revoke = (await client.gql(REVOKE, {"id": target}, owner.token))["revokeMemberInvitation"]
        assert codes(revoke) == ["NOT_FOUND"]
    assert await PartnerMember.filter(role=MemberRole.OWNER).count() == 2
