"""The development mailbox: without PARTNERDESK_SMTP_HOST, development delivers to /dev/mail.

The e-mail still goes the whole way: queued in the business transaction, claimed and
built by the worker, and kept as the MIME message SMTP would have carried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from email import message_from_string, policy

import httpx
import pytest
from starlette.applications import Starlette

from app import create_app
from config import ConfigError, Settings
from mailers.message import build_message
from mailers.worker import DeliveryWorker
from models.dev_mail import DevMailMessage
from models.outbox import EmailDelivery, EmailStatus
from tests.factories import DECLINE, SEND_INVITATION
from tests.support import GraphQLClient, register_account, register_partner

PERSONAL_MESSAGE = "Thank you for thinking of us!\nWe are <fully> booked this year."


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return replace(base_settings, smtp_host=None, mail_retry_base_seconds=0.01)


async def declined_invitation(client: GraphQLClient) -> str:
    """A partner declines an account holder's authorization with a personal message."""
    partner = await register_partner(client, public=True)
    holder = await register_account(client, email="paul.weiss@example.org")
    sent = await client.mutate(
        SEND_INVITATION,
        {"input": {"partnerSlug": partner.slug, "scope": "FULL", "message": "Hello"}},
        holder.token,
    )
    declined = await client.mutate(
        DECLINE,
        {"input": {"invitationId": sent["invitation"]["id"], "personalMessage": PERSONAL_MESSAGE}},
        partner.token,
    )
    return declined["email"]["id"]


async def test_without_an_smtp_host_the_worker_delivers_into_the_mailbox(
    client: GraphQLClient, settings: Settings
) -> None:
    # given: a decline e-mail in the outbox
    await declined_invitation(client)
    delivery = await EmailDelivery.get(template="invitation_declined")

    # when: the worker runs once
    await DeliveryWorker(settings).run_once()

    # then: the row is SENT and the mailbox holds the very message SMTP would have got
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT
    kept = await DevMailMessage.get(delivery_id=delivery.id)
    message = message_from_string(kept.message, policy=policy.default)
    built = build_message(delivery, settings.mail_from)
    assert message["Message-ID"] == built["Message-ID"]
    assert (kept.to_address, kept.language) == ("paul.weiss@example.org", delivery.language)
    text_part = message.get_body(("plain",))
    assert text_part is not None
    assert "We are <fully> booked this year." in text_part.get_content()


async def test_dev_mail_lists_the_messages_and_shows_both_parts(
    client: GraphQLClient, settings: Settings
) -> None:
    # given: a delivered decline e-mail
    await declined_invitation(client)
    await DeliveryWorker(settings).run_once()

    # when
    listing = (await client.http.get("/dev/mail/messages")).json()["messages"]
    shown = (await client.http.get(f"/dev/mail/messages/{listing[0]['id']}")).json()

    # then: the list says to whom, what, when and in which language; the message has its parts
    assert {key: listing[0][key] for key in ("to", "language")} == {
        "to": "paul.weiss@example.org",
        "language": "en",
    }
    assert listing[0]["subject"] and listing[0]["receivedAt"]
    assert "We are <fully> booked this year." in shown["text"]
    assert "We are &lt;fully&gt; booked this year." in shown["html"]  # the template escaped it


async def test_the_mailbox_page_forbids_scripts_and_remote_loads(client: GraphQLClient) -> None:
    page = await client.http.get("/dev/mail")
    assert page.status_code == 200
    policy_header = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy_header and "img-src 'self' data:" in policy_header
    assert "style-src 'self'" in policy_header  # the shared /static/partnerdesk.css
    assert 'sandbox=""' in page.text  # the HTML part's iframe: no scripts, opaque origin


async def test_an_unknown_message_is_not_found(client: GraphQLClient) -> None:
    assert (await client.http.get("/dev/mail/messages/999999")).status_code == 404
    assert (await client.http.get("/dev/mail/messages/x")).status_code == 404


@pytest.fixture
async def production_app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(replace(settings, env="production", smtp_host="mail.example"))
    async with application.router.lifespan_context(application):
        yield application


async def test_dev_mail_does_not_exist_in_production(production_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for path in ("/dev/mail", "/dev/mail/messages", "/dev/mail/messages/1"):
            assert (await http.get(path)).status_code == 404, path


def test_production_never_falls_back_to_the_mailbox(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="PARTNERDESK_SMTP_HOST is not set"):
        DeliveryWorker(replace(settings, env="production", smtp_host=None))
