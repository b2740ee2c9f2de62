"""Verified addresses and passwords, end to end through the API and a real SMTP server
(issue 12, items 1, 2 and 5): the token of each flow is read out of the e-mail received."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from models.account import AccountHolder
from models.identity import IdentityToken, PasswordResetRequest, TokenPurpose
from models.outbox import EmailDelivery
from models.partner import PartnerMember
from resolvers import password_reset
from resolvers.demo import UNVERIFIED_ACCOUNT, demo_logins, seed_demo_data
from tests.mail_sink import MailSink, sink, sink_settings, text_of, token_in  # noqa: F401
from tests.support import GraphQLClient, register_account, register_partner
from tests.ws_client import closed_with, session, subscribe

ERRORS = "errors { code message field }"
VERIFY = f"mutation($token: String!) {{ verifyEmail(input: {{token: $token}}) {{ ok {ERRORS} }} }}"
RESEND = f"mutation {{ resendVerificationEmail {{ ok {ERRORS} }} }}"
RESEND_WITH_RETRY = "mutation { resendVerificationEmail { ok errors { code retryAfter } } }"
REQUEST_RESET = f"mutation($realm: Realm!, $email: String!) {{ requestPasswordReset(input: {{realm: $realm, email: $email}}) {{ ok {ERRORS} }} }}"
RESET = f"mutation($token: String!, $password: String!) {{ resetPassword(input: {{token: $token, newPassword: $password}}) {{ token viewer {{ realm }} {ERRORS} }} }}"
CHANGE = f"mutation($current: String!, $new: String!) {{ changePassword(input: {{currentPassword: $current, newPassword: $new}}) {{ token {ERRORS} }} }}"
EVERYWHERE = f"mutation {{ logoutEverywhere {{ ok {ERRORS} }} }}"
LOGIN = f"mutation($realm: Realm!, $email: String!, $password: String!) {{ login(input: {{realm: $realm, email: $email, password: $password}}) {{ token {ERRORS} }} }}"
SEND = f"mutation($slug: String!) {{ sendAccessInvitation(input: {{partnerSlug: $slug, scope: FULL}}) {{ invitation {{ id requester {{ emailVerified }} }} {ERRORS} }} }}"
REGISTER_ACCOUNT = f"mutation($input: RegisterAccountInput!) {{ registerAccount(input: $input) {{ token {ERRORS} }} }}"
VIEWER = "{ viewer { account { email emailVerified } member { emailVerified } } }"
VIEWER_VERIFIED = "{ viewer { account { emailVerified } member { emailVerified } } }"
NEW_PASSWORD = "a brand new passphrase 7"


@pytest.fixture(scope="module")
def settings(base_settings: Settings, sink: MailSink) -> Settings:  # noqa: F811
    # Two a login / address an hour: low enough for a test to reach, and no other test here
    # asks more than once.
    return sink_settings(
        base_settings,
        sink,
        rate_limit_verification_email="2/hour",
        rate_limit_password_reset="2/hour",
    )


def codes(payload: dict) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def test_register_verify_then_send_an_authorization(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    # given a public partner and a newly registered account holder
    partner = await register_partner(client, public=True)
    account = await register_account(client, verified=False)
    # then the unverified account cannot send an authorization yet
    refused = (await client.gql(SEND, {"slug": partner.slug}, account.token))[
        "sendAccessInvitation"
    ]
    assert codes(refused) == ["EMAIL_NOT_VERIFIED"]
    # when they open the link of the e-mail they received
    (mail,) = await sink.wait_for(account.email, "Confirm your e-mail address")
    assert "https://app.partnerdesk.test/verify-email?token=" in text_of(mail)
    token = token_in(mail, "verify-email")
    assert len(token) >= 43
    await client.mutate(VERIFY, {"token": token})
    # then they are verified, the authorization goes out, and the partner sees it so
    assert (await client.gql(VIEWER, token=account.token))["viewer"]["account"]["emailVerified"]
    sent = await client.mutate(SEND, {"slug": partner.slug}, account.token)
    assert sent["invitation"]["requester"]["emailVerified"] is True
    # and the link is refused the second time
    again = (await client.gql(VERIFY, {"token": token}))["verifyEmail"]
    assert codes(again) == ["INVALID_TOKEN"] and again["errors"][0]["field"] == ["token"]
    # and only the hash of the token is stored
    assert not await IdentityToken.filter(token_hash=token).exists()


async def test_resend_makes_earlier_links_invalid(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    account = await register_account(client, verified=False, language="de")
    (first,) = await sink.wait_for(account.email, "Bestätigen Sie Ihre E-Mail-Adresse")
    await client.mutate(RESEND, token=account.token)
    mails = await sink.wait_for(account.email, "Bestätigen", count=2)
    old, new = token_in(first, "verify-email"), token_in(mails[1], "verify-email")
    assert codes((await client.gql(VERIFY, {"token": old}))["verifyEmail"]) == ["INVALID_TOKEN"]
    await client.mutate(VERIFY, {"token": new})
    done = (await client.gql(RESEND, token=account.token))["resendVerificationEmail"]
    assert codes(done) == ["ALREADY_PROCESSED"]


async def test_resending_the_verification_link_is_rate_limited_and_the_last_link_still_works(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    # given an unverified account that asked for a fresh link as often as allowed (2 an hour)
    account = await register_account(client, verified=False)
    for _ in range(2):
        await client.mutate(RESEND, token=account.token)
    mails = await sink.wait_for(account.email, "Confirm your e-mail address", count=3)
    # when it asks once more
    refused = (await client.gql(RESEND_WITH_RETRY, token=account.token))["resendVerificationEmail"]
    # then it is refused with a retry hint within the hour
    (error,) = refused["errors"]
    assert (refused["ok"], error["code"]) == (False, "RATE_LIMITED")
    assert 1 <= error["retryAfter"] <= 3600
    # and nothing was queued or revoked: the last link sent still verifies the address
    assert await EmailDelivery.filter(to_address=account.email).count() == 3
    await client.mutate(VERIFY, {"token": token_in(mails[-1], "verify-email")})
    assert (await client.gql(VIEWER, token=account.token))["viewer"]["account"]["emailVerified"]


async def test_a_rate_limited_reset_request_still_answers_ok_and_sends_nothing(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    settings: Settings,
) -> None:
    # given a known and an unknown address, each asked for as often as allowed (2 an hour)
    owner = await register_partner(client)
    addresses = (owner.email, "nobody-known@example.com")
    for email in addresses:
        for _ in range(2):
            await client.mutate(REQUEST_RESET, {"realm": "PARTNER", "email": email})
    await sink.wait_for(owner.email, "Reset your PartnerDesk password", count=2)
    # when each is asked for once more
    answers = [
        (await client.gql(REQUEST_RESET, {"realm": "PARTNER", "email": email}))[
            "requestPasswordReset"
        ]
        for email in addresses
    ]
    # then both answers are the plain ok of any request: nothing tells the limit or the address
    assert answers == [{"ok": True, "errors": []}] * 2
    # and the refused requests were not recorded, so no third e-mail goes out
    for email in addresses:
        assert await PasswordResetRequest.filter(email=email).count() == 2
    assert await password_reset.dispatch_password_resets(settings) == 0
    resets = await EmailDelivery.filter(to_address=owner.email, template="password_reset")
    assert len(resets) == 2


@pytest.mark.parametrize(
    "token", ["", "x", "x" * 43, "ü" * 43, "a" * 5000, "\x00abc", "../../etc/passwd"]
)
async def test_malformed_and_unknown_tokens_are_invalid(client: GraphQLClient, token: str) -> None:
    verify = (await client.gql(VERIFY, {"token": token}))["verifyEmail"]
    reset = (await client.gql(RESET, {"token": token, "password": NEW_PASSWORD}))["resetPassword"]
    assert codes(verify) == codes(reset) == ["INVALID_TOKEN"]
    assert reset["token"] is None


async def test_expired_verification_link_is_invalid(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    account = await register_account(client, verified=False)
    (mail,) = await sink.wait_for(account.email, "Confirm")
    await IdentityToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    refused = (await client.gql(VERIFY, {"token": token_in(mail, "verify-email")}))["verifyEmail"]
    assert codes(refused) == ["INVALID_TOKEN"]
    assert not (await AccountHolder.get(email=account.email)).email_verified_at


async def test_an_expired_reset_link_is_invalid_and_changes_nothing(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    # given a reset link whose hour has passed
    account = await register_account(client)
    await client.mutate(REQUEST_RESET, {"realm": "ACCOUNT", "email": account.email})
    (mail,) = await sink.wait_for(account.email, "Reset your PartnerDesk password")
    await IdentityToken.filter(purpose=TokenPurpose.RESET_PASSWORD).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    # when it is used
    reset = await client.gql(
        RESET, {"token": token_in(mail, "reset-password"), "password": NEW_PASSWORD}
    )
    # then INVALID_TOKEN, no token, and the password and the sessions are as they were
    assert codes(reset["resetPassword"]) == ["INVALID_TOKEN"]
    assert reset["resetPassword"]["token"] is None
    assert (await client.gql(VIEWER, token=account.token))["viewer"]["account"]
    await client.mutate(
        LOGIN, {"realm": "ACCOUNT", "email": account.email, "password": "account password 1"}
    )
    new_login = await client.gql(
        LOGIN, {"realm": "ACCOUNT", "email": account.email, "password": NEW_PASSWORD}
    )
    assert codes(new_login["login"]) == ["UNAUTHENTICATED"]


async def test_password_reset_end_to_end(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    server_url: str,
) -> None:
    # given an owner signed in twice, one of them with an open dashboard socket
    owner = await register_partner(client)
    second = (
        await client.mutate(
            LOGIN, {"realm": "PARTNER", "email": owner.email, "password": owner.password}
        )
    )["token"]
    async with session(server_url, second) as socket:
        await subscribe(socket, "subscription { activity { verb } }", "feed")
        await asyncio.sleep(0.05)
        # when they ask for a reset and use the e-mail's link
        await client.mutate(REQUEST_RESET, {"realm": "PARTNER", "email": owner.email.upper()})
        (mail,) = await sink.wait_for(owner.email, "Reset your PartnerDesk password")
        token = token_in(mail, "reset-password")
        reset = await client.mutate(RESET, {"token": token, "password": NEW_PASSWORD})
        # then the open socket is closed at once
        code, _messages = await closed_with(socket)
    assert code == 4401
    # and every old token is dead, the old password refused, the new one and token work
    for old in (owner.token, second):
        assert (await client.raw(VIEWER, token=old))["data"]["viewer"] is None
    old_login = await client.gql(
        LOGIN, {"realm": "PARTNER", "email": owner.email, "password": owner.password}
    )
    assert codes(old_login["login"]) == ["UNAUTHENTICATED"]
    await client.mutate(LOGIN, {"realm": "PARTNER", "email": owner.email, "password": NEW_PASSWORD})
    assert (await client.gql(VIEWER, token=reset["token"]))["viewer"]["member"] is not None
    # and the reset token is refused the second time
    again = await client.gql(RESET, {"token": token, "password": "another new passphrase"})
    assert codes(again["resetPassword"]) == ["INVALID_TOKEN"]


async def test_reset_for_an_unknown_address_answers_ok_and_sends_nothing(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    settings: Settings,
) -> None:
    await client.mutate(REQUEST_RESET, {"realm": "ACCOUNT", "email": "nobody@example.org"})
    await client.mutate(REQUEST_RESET, {"realm": "ACCOUNT", "email": "not an address\x00"})
    await password_reset.dispatch_password_resets(settings)
    assert await IdentityToken.all().count() == 0
    assert not await PasswordResetRequest.filter(handled_at=None).exists()
    assert sink.received("nobody@example.org") == []


async def test_a_reset_request_runs_the_same_statements_for_known_and_unknown_addresses(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, count_queries
) -> None:
    # given: the e-mail is composed after the answer; here it is not composed at all
    monkeypatch.setattr(password_reset, "_dispatch_soon", lambda settings: None)
    owner = await register_partner(client)
    statements = {}
    for label, email in (("known", owner.email), ("unknown", "nobody-here@example.com")):
        count_queries.reset()
        # when
        await client.mutate(REQUEST_RESET, {"realm": "PARTNER", "email": email})
        # the statements, with their values left out (the mail worker's are its own)
        statements[label] = [
            re.sub(r"'[^']*'|\d+", "?", s)[:80]
            for s in count_queries.statements
            if "email_delivery" not in s
        ]
    # then
    assert statements["known"] == statements["unknown"]
    assert await PasswordResetRequest.filter(handled_at=None).count() == 2


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12"),
        ("x" * 129, "at most 128"),
        ("1q2w3e4r5t6y7u8i9o0p", "too common"),
        ("cookiemonster", "too common"),
    ],
)
async def test_password_rules_name_the_field(
    client: GraphQLClient, password: str, message: str
) -> None:
    # when an account registers with a bad password
    refused = await client.gql(
        REGISTER_ACCOUNT,
        {"input": {"name": "Ada", "email": "ada.rules@example.org", "password": password}},
    )
    # then the error names the field, and nothing was written
    (error,) = refused["registerAccount"]["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", ["password"])
    assert message in error["message"]
    assert not await AccountHolder.exists(email="ada.rules@example.org")


async def test_the_password_may_not_be_the_address(client: GraphQLClient) -> None:
    email = "Long.Address@Example.org"
    refused = await client.gql(
        REGISTER_ACCOUNT, {"input": {"name": "Ada", "email": email, "password": email.lower()}}
    )
    assert "e-mail address" in refused["registerAccount"]["errors"][0]["message"]


async def test_change_password_signs_every_session_out_and_keeps_the_caller_signed_in(
    client: GraphQLClient,
) -> None:
    account = await register_account(client)
    other = (
        await client.mutate(
            LOGIN,
            {"realm": "ACCOUNT", "email": account.email, "password": "account password 1"},
        )
    )["token"]
    wrong = await client.gql(CHANGE, {"current": "not it at all", "new": NEW_PASSWORD}, other)
    assert [(e["code"], e["field"]) for e in wrong["changePassword"]["errors"]] == [
        ("VALIDATION", ["currentPassword"])
    ]
    weak = await client.gql(CHANGE, {"current": "account password 1", "new": "short"}, other)
    assert weak["changePassword"]["errors"][0]["field"] == ["newPassword"]
    changed = await client.mutate(
        CHANGE, {"current": "account password 1", "new": NEW_PASSWORD}, other
    )
    for old in (account.token, other):
        assert (await client.raw(VIEWER, token=old))["data"]["viewer"] is None
    assert (await client.gql(VIEWER, token=changed["token"]))["viewer"]["account"]


async def test_logout_everywhere_revokes_every_token_and_closes_sockets(
    client: GraphQLClient, server_url: str
) -> None:
    owner = await register_partner(client)
    async with session(server_url, owner.token) as socket:
        await subscribe(socket, "subscription { activity { verb } }", "feed")
        await asyncio.sleep(0.05)
        await client.mutate(EVERYWHERE, token=owner.token)
        code, _ = await closed_with(socket)
    assert code == 4401
    assert (await client.raw(VIEWER, token=owner.token))["data"]["viewer"] is None


async def test_a_taken_address_is_a_conflict_and_its_owner_hears_once_a_day(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    account = await register_account(client)
    attempt = {"name": "Mallory", "email": account.email, "password": "mallory password 1"}
    for _ in range(3):
        refused = await client.gql(REGISTER_ACCOUNT, {"input": attempt})
        assert codes(refused["registerAccount"]) == ["CONFLICT"]
    await sink.wait_for(account.email, "Someone tried to register with your e-mail address")
    await asyncio.sleep(0.2)
    assert len(sink.received(account.email)) == 2  # the verification e-mail and one notice
    # a day later the owner hears of the next attempt
    await AccountHolder.filter(email=account.email).update(
        registration_notice_at=datetime.now(UTC) - timedelta(days=1, seconds=1)
    )
    await client.gql(REGISTER_ACCOUNT, {"input": attempt})
    await sink.wait_for(account.email, "Someone tried", count=2)


async def test_twenty_concurrent_resets_with_one_token_make_one_success(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a reset link
    account = await register_account(client)
    await client.mutate(REQUEST_RESET, {"realm": "ACCOUNT", "email": account.email})
    (mail,) = await sink.wait_for(account.email, "Reset your PartnerDesk password")
    token = token_in(mail, "reset-password")
    # when 20 clients use it at once, each with another password
    caplog.set_level(logging.WARNING)
    answers = await asyncio.gather(
        *(
            client.gql(RESET, {"token": token, "password": f"{NEW_PASSWORD} number {n}"})
            for n in range(20)
        )
    )
    # then exactly one succeeds, the others learn INVALID_TOKEN, and its password is set
    payloads = [answer["resetPassword"] for answer in answers]
    winners = [n for n, payload in enumerate(payloads) if payload["token"]]
    assert len(winners) == 1
    assert sorted(codes(p) for p in payloads if not p["token"]) == [["INVALID_TOKEN"]] * 19
    await client.mutate(
        LOGIN,
        {
            "realm": "ACCOUNT",
            "email": account.email,
            "password": f"{NEW_PASSWORD} number {winners[0]}",
        },
    )


async def test_a_removed_member_cannot_reset_their_password(
    client: GraphQLClient, settings: Settings
) -> None:
    owner = await register_partner(client)
    await PartnerMember.filter(email=owner.email).update(removed_at=datetime.now(UTC))
    await client.mutate(REQUEST_RESET, {"realm": "PARTNER", "email": owner.email})
    assert await password_reset.dispatch_password_resets(settings) == 0


async def test_the_demo_logins_are_verified_and_one_demo_account_is_not(
    client: GraphQLClient, settings: Settings
) -> None:
    # given the demo data
    assert await seed_demo_data(settings=settings)
    # when each demo login signs in with the password printed for it
    verified = {}
    for realm, email, password in demo_logins():
        login = await client.mutate(LOGIN, {"realm": realm, "email": email, "password": password})
        viewer = (await client.gql(VIEWER_VERIFIED, token=login["token"]))["viewer"]
        verified[email] = (viewer["account"] or viewer["member"])["emailVerified"]
    # then every one is verified but the account kept to show the unverified state
    unverified = UNVERIFIED_ACCOUNT[1]
    assert verified.pop(unverified) is False
    assert len(verified) == 8 and all(verified.values())


async def test_the_demo_sends_a_verification_email_only_to_its_unverified_account(
    client: GraphQLClient, settings: Settings
) -> None:
    # when the demo data is seeded
    assert await seed_demo_data(settings=settings)
    # then the only verification e-mail is the unverified account's, as registration sends it
    (queued,) = await EmailDelivery.filter(template="verify_email")
    assert queued.to_address == UNVERIFIED_ACCOUNT[1]
    # and its link, at the public address, verifies that account
    found = re.search(r"https://app\.partnerdesk\.test/verify-email\?token=(\S+)", queued.text_body)
    assert found, queued.text_body
    await client.mutate(VERIFY, {"token": found.group(1)})
    assert (await AccountHolder.get(email=UNVERIFIED_ACCOUNT[1])).email_verified_at
