"""Rate limits and spam traps on public operations: refused with RATE_LIMITED, nothing stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from limits import parse_many

from app import create_app
from config import Settings
from models.inquiry import Inquiry
from models.partner import Partner
from resolvers.rate_limits import LocalWindows
from tests.conftest import _empty_all_tables
from tests.support import (
    REGISTER_PARTNER,
    GraphQLClient,
    register_account,
    register_partner,
    rendered_at,
)

LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token errors { code message retryAfter } } }"
SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted errors { code message retryAfter } } }"
SEND = "mutation($input: SendAccessInvitationInput!) { sendAccessInvitation(input: $input) { invitation { id } errors { code retryAfter } } }"


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return replace(
        base_settings,
        rate_limit_login_ip="4/minute",
        rate_limit_login_email="2/minute",
        rate_limit_login_email_ceiling="5/minute",
        rate_limit_register_ip="3/minute",
        rate_limit_inquiry_ip="2/minute",
        rate_limit_inquiry_partner="3/day",
        rate_limit_invitation_account="1/hour",
        trusted_proxies=("127.0.0.1",),  # the test client's peer address
    )


@asynccontextmanager
async def client_with(settings: Settings) -> AsyncIterator[GraphQLClient]:
    """A client of an app with other settings than the module's, on the same empty database."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await _empty_all_tables()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


def inquiry(slug: str, **extra: object) -> dict:
    return {
        "input": {
            "partnerSlug": slug,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "message": "Hello",
            "privacyConsent": True,
            "renderedAt": rendered_at(),
            **extra,
        }
    }


async def test_login_is_limited_per_email_with_a_retry_hint(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    attempt = {"input": {"realm": "PARTNER", "email": partner.email, "password": "wrong password!"}}
    codes = [(await client.gql(LOGIN, attempt))["login"]["errors"][0]["code"] for _ in range(3)]
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
    limited = (await client.gql(LOGIN, attempt))["login"]["errors"][0]
    assert 1 <= limited["retryAfter"] <= 60
    assert f"{limited['retryAfter']} seconds" in limited["message"]
    # the right password is refused too while the limit holds: no guessing through it
    right = await client.gql(LOGIN, {"input": {**attempt["input"], "password": partner.password}})
    assert right["login"]["token"] is None


async def test_a_stranger_guessing_from_one_ip_does_not_lock_the_owner_out(
    client: GraphQLClient,
) -> None:
    # given: someone guesses the owner's password from their address until refused
    partner = await register_partner(client)
    guess = {"input": {"realm": "PARTNER", "email": partner.email, "password": "wrong password!"}}
    stranger = {"x-forwarded-for": "203.0.113.66"}
    codes = [
        (await client.post(LOGIN, guess, headers=stranger)).json()["data"]["login"]["errors"][0][
            "code"
        ]
        for _ in range(3)
    ]
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
    # when: the owner signs in from their own address
    right = {"input": {**guess["input"], "password": partner.password}}
    response = await client.post(LOGIN, right, headers={"x-forwarded-for": "198.51.100.20"})
    # then
    assert response.json()["data"]["login"]["errors"] == []
    assert response.json()["data"]["login"]["token"]


async def test_the_per_email_ceiling_holds_across_many_ips(client: GraphQLClient) -> None:
    # given: guesses at one address, each from a fresh IP (the ceiling is 5 per minute)
    partner = await register_partner(client)
    guess = {"input": {"realm": "PARTNER", "email": partner.email, "password": "wrong password!"}}

    async def login_from(ip: str, attempt: dict) -> dict:
        response = await client.post(LOGIN, attempt, headers={"x-forwarded-for": ip})
        return response.json()["data"]["login"]

    # when
    codes = [(await login_from(f"203.0.113.{n}", guess))["errors"][0]["code"] for n in range(6)]
    # then: the sixth is refused, and so is the right password from yet another IP
    assert codes == ["UNAUTHENTICATED"] * 5 + ["RATE_LIMITED"]
    right = {"input": {**guess["input"], "password": partner.password}}
    assert (await login_from("198.51.100.99", right))["token"] is None


async def test_login_is_limited_per_ip_across_emails(client: GraphQLClient) -> None:
    results = [
        (
            await client.gql(
                LOGIN,
                {"input": {"realm": "PARTNER", "email": f"nobody{n}@example.com", "password": "x"}},
            )
        )["login"]["errors"][0]["code"]
        for n in range(5)
    ]
    assert results == ["UNAUTHENTICATED"] * 4 + ["RATE_LIMITED"]


async def test_an_unreadable_forwarded_for_from_a_trusted_proxy_keeps_the_ip_limit(
    client: GraphQLClient,
) -> None:
    # given: our proxy forwards headers we cannot read (the per-IP limit is 4 per minute)
    unreadable = ["garbage", "unknown", "1.2.3.4:99999", "[2001:db8::1", "_hidden"]
    # when
    codes = []
    for n, forwarded_for in enumerate(unreadable):
        attempt = {
            "input": {"realm": "PARTNER", "email": f"nobody{n}@example.com", "password": "x"}
        }
        response = await client.post(LOGIN, attempt, headers={"x-forwarded-for": forwarded_for})
        codes.append(response.json()["data"]["login"]["errors"][0]["code"])
    # then: all counted against the proxy's own address, not let through unlimited
    assert codes == ["UNAUTHENTICATED"] * 4 + ["RATE_LIMITED"]


async def test_registration_is_limited_per_ip_and_stores_nothing_when_refused(
    client: GraphQLClient,
) -> None:
    for _ in range(3):
        await register_partner(client)
    body = await client.gql(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Late",
                "slug": "late-one",
                "name": "L",
                "email": "late@example.com",
                "password": "long enough pw",
            }
        },
    )
    assert body["registerPartner"]["errors"][0]["code"] == "RATE_LIMITED"
    assert not await Partner.exists(slug="late-one")


async def test_inquiries_are_limited_per_ip_and_nothing_is_stored(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    results = [await client.gql(SUBMIT, inquiry(partner.slug)) for _ in range(3)]
    assert [result["submitInquiry"]["accepted"] for result in results] == [True, True, False]
    assert results[2]["submitInquiry"]["errors"][0]["code"] == "RATE_LIMITED"
    assert await Inquiry.all().count() == 2


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings: Settings) -> None:
    async with client_with(replace(settings, trusted_proxies=())) as client:
        partner = await register_partner(client, public=True)
        accepted = []
        for n in range(3):  # different claimed addresses, one real peer: one bucket
            response = await client.post(
                SUBMIT, inquiry(partner.slug), headers={"x-forwarded-for": f"198.51.100.{n}"}
            )
            accepted.append(response.json()["data"]["submitInquiry"]["accepted"])
    assert accepted == [True, True, False]


async def test_forwarded_for_from_a_trusted_proxy_separates_clients(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    accepted = []
    for forwarded_for in ["203.0.113.1", "203.0.113.2", "203.0.113.1", "203.0.113.1"]:
        response = await client.post(
            SUBMIT, inquiry(partner.slug), headers={"x-forwarded-for": forwarded_for}
        )
        accepted.append(response.json()["data"]["submitInquiry"]["accepted"])
    assert accepted == [True, True, True, False]  # .1 twice allowed, its third is refused


async def test_daily_cap_per_partner(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    other = await register_partner(client, public=True)
    accepted = []
    for n in range(4):
        response = await client.post(
            SUBMIT, inquiry(partner.slug), headers={"x-forwarded-for": f"10.0.0.{n}"}
        )
        accepted.append(response.json()["data"]["submitInquiry"]["accepted"])
    assert accepted == [True, True, True, False]
    to_other = await client.post(
        SUBMIT, inquiry(other.slug), headers={"x-forwarded-for": "10.0.0.9"}
    )
    assert to_other.json()["data"]["submitInquiry"]["accepted"] is True


async def test_a_form_sent_back_too_fast_is_silently_dropped(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    fast = await client.gql(
        SUBMIT,
        inquiry(partner.slug, renderedAt=(datetime.now(UTC) - timedelta(seconds=1)).isoformat()),
    )
    assert fast["submitInquiry"] == {"accepted": True, "errors": []}
    assert await Inquiry.all().count() == 0
    human = await client.gql(
        SUBMIT,
        inquiry(partner.slug, renderedAt=(datetime.now(UTC) - timedelta(seconds=20)).isoformat()),
    )
    assert human["submitInquiry"]["accepted"] is True
    assert await Inquiry.all().count() == 1


async def test_invitations_are_limited_per_account(client: GraphQLClient) -> None:
    first = await register_partner(client, public=True)
    second = await register_partner(client, public=True)
    account = await register_account(client)
    sent = await client.gql(
        SEND, {"input": {"partnerSlug": first.slug, "scope": "FULL"}}, account.token
    )
    assert sent["sendAccessInvitation"]["errors"] == []
    limited = await client.gql(
        SEND, {"input": {"partnerSlug": second.slug, "scope": "FULL"}}, account.token
    )
    assert limited["sendAccessInvitation"]["errors"][0]["code"] == "RATE_LIMITED"
    assert limited["sendAccessInvitation"]["errors"][0]["retryAfter"] > 60


async def test_a_local_window_slides_and_says_when_a_place_frees() -> None:
    # given: at most 2 attempts per second, both used, 0.4 s apart
    windows = LocalWindows()
    (item,) = parse_many("2/second")
    assert await windows.hit(item, "login", "ada")
    await asyncio.sleep(0.4)
    assert await windows.hit(item, "login", "ada")
    # then: a third is refused, another key is not, and a place frees within the second
    assert not await windows.test(item, "login", "ada")
    assert not await windows.hit(item, "login", "ada")
    assert await windows.test(item, "login", "bob")
    wait = await windows.retry_after(item, "login", "ada")
    assert 0 < wait <= 0.6
    # when the oldest attempt leaves the window (the newer one is still in it)
    await asyncio.sleep(wait + 0.05)
    # then one attempt is allowed again, not two
    assert await windows.hit(item, "login", "ada")
    assert not await windows.test(item, "login", "ada")


async def test_local_windows_forget_keys_whose_attempts_have_expired() -> None:
    # given: attempts of many keys in a short window, swept every 10 attempts
    windows = LocalWindows()
    windows.SWEEP_EVERY = 10
    (short,) = parse_many("5/second")
    for number in range(9):
        await windows.hit(short, "inquiry-ip", f"203.0.113.{number}")
    assert len(windows.attempts) == 9
    # when their window has passed and the next sweep runs
    await asyncio.sleep(1.05)
    await windows.hit(short, "inquiry-ip", "198.51.100.1")
    # then only the fresh key is kept
    assert list(windows.attempts) == ["LIMITER/inquiry-ip/198.51.100.1/5/1/second"]
