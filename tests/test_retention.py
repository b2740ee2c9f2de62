"""Retention (issue "customer data", part 3): once a day, whichever process claims the day,
dismissed inquiries go after 90 days and sent e-mails lose their bodies after 30; and the
sweep marks imports whose process died as FAILED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import events
from mailers.outbox import queue_email
from mailers.templates import INVITATION_DECLINED
from models.activity import ActivityEvent
from models.customer_data import CustomerImport, ImportStatus
from models.housekeeping import HousekeepingRun
from models.inquiry import Inquiry
from models.outbox import EmailDelivery, EmailStatus
from resolvers.housekeeping import sweep_once
from resolvers.retention import RETENTION, claim_daily_run
from tests.factories import DISMISS_INQUIRY, SUBMIT_INQUIRY, pk_of
from tests.support import GraphQLClient, PartnerLogin, register_partner, rendered_at


def ago(**delta: float) -> datetime:
    # Taken when the test runs, not at import: a long or parallel run reaches this module
    # minutes after collecting it, and the sweep compares with its own clock.
    return datetime.now(UTC) - timedelta(**delta)


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client, public=True)


async def inquiry(client: GraphQLClient, partner: PartnerLogin, name: str, dismiss: bool) -> int:
    await client.mutate(
        SUBMIT_INQUIRY,
        {
            "input": {
                "partnerSlug": partner.slug,
                "name": name,
                "email": "sender@example.net",
                "message": "Hello",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
            }
        },
    )
    found = await client.gql(
        "{ inquiries(first: 1) { edges { node { id } } } }", token=partner.token
    )
    inquiry_id = found["inquiries"]["edges"][0]["node"]["id"]
    if dismiss:
        await client.mutate(DISMISS_INQUIRY, {"input": {"inquiryId": inquiry_id}}, partner.token)
    return pk_of(inquiry_id)


async def sent_email(partner: PartnerLogin, days_ago: float, status: EmailStatus) -> int:
    async with events.transaction():
        email = await queue_email(
            template=INVITATION_DECLINED,
            language="en",
            to_address="someone@example.org",
            to_name="Someone",
            values={"recipient": "Someone", "partner": "Agency"},
            partner_id=pk_of(partner.partner_id),
        )
    sent_at = ago(days=days_ago) if status == EmailStatus.SENT else None
    await EmailDelivery.filter(id=email.id).update(status=status, sent_at=sent_at)
    return email.id


async def test_dismissed_inquiries_are_deleted_after_the_retention_period(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a dismissal 91 days ago, one 89 days ago, and a NEW inquiry as old
    old = await inquiry(client, partner, "Old Spammer", dismiss=True)
    recent = await inquiry(client, partner, "Recent Spammer", dismiss=True)
    waiting = await inquiry(client, partner, "Patient Sender", dismiss=False)
    await Inquiry.filter(id=old).update(dismissed_at=ago(days=91))
    await Inquiry.filter(id=recent).update(dismissed_at=ago(days=89))
    await Inquiry.filter(id=waiting).update(received_at=ago(days=200))
    # when
    changed = await sweep_once()
    # then
    assert changed["dismissed inquiries deleted"] == 1
    assert set(await Inquiry.all().values_list("id", flat=True)) == {recent, waiting}
    summaries = await ActivityEvent.filter(subject_type="Inquiry", subject_id=old).values_list(
        "summary", flat=True
    )
    assert sorted(summaries) == [
        "Inquiry dismissed (deleted after the retention period)",
        "Inquiry received (deleted after the retention period)",
    ]


async def test_sent_emails_lose_their_bodies_after_the_retention_period(
    partner: PartnerLogin,
) -> None:
    # given
    old = await sent_email(partner, days_ago=31, status=EmailStatus.SENT)
    recent = await sent_email(partner, days_ago=29, status=EmailStatus.SENT)
    queued = await sent_email(partner, days_ago=0, status=EmailStatus.QUEUED)
    # when
    changed = await sweep_once()
    # then
    assert changed["e-mail bodies cleared"] == 1
    cleared = await EmailDelivery.get(id=old)
    assert (cleared.text_body, cleared.html_body) == ("", "")
    assert (cleared.status, cleared.to_address, cleared.subject) == (
        EmailStatus.SENT,
        "someone@example.org",
        "Agency has declined your access authorization",
    )
    assert cleared.sent_at is not None
    for kept in (recent, queued):
        assert (await EmailDelivery.get(id=kept)).text_body != ""


async def test_retention_runs_once_a_day_whichever_process_sweeps(partner: PartnerLogin) -> None:
    # given: retention ran (the first sweep claims the day)
    await sweep_once()
    old = await sent_email(partner, days_ago=31, status=EmailStatus.SENT)
    # when: another process sweeps the same day, then one a day later
    same_day = await sweep_once()
    await HousekeepingRun.filter(name=RETENTION).update(last_run_at=ago(days=1, seconds=1))
    next_day = await sweep_once()
    # then
    assert "e-mail bodies cleared" not in same_day
    assert next_day["e-mail bodies cleared"] == 1
    assert (await EmailDelivery.get(id=old)).text_body == ""


async def test_of_two_claims_of_the_same_day_one_wins(partner: PartnerLogin) -> None:
    # when
    first = await claim_daily_run("test-job")
    second = await claim_daily_run("test-job")
    # then
    assert first is not None and second is None


async def test_an_import_whose_process_died_is_marked_failed(partner: PartnerLogin) -> None:
    # given: a RUNNING import without a heartbeat for 11 minutes, and a live one
    stalled, live = [
        await CustomerImport.create(
            partner_id=pk_of(partner.partner_id),
            status=ImportStatus.RUNNING,
            dry_run=False,
            rows=10,
            heartbeat_at=ago(minutes=minutes),
        )
        for minutes in (11, 1)
    ]
    # when
    changed = await sweep_once()
    # then
    assert changed["stalled imports failed"] == 1
    assert (await CustomerImport.get(id=stalled.id)).status == ImportStatus.FAILED
    assert (await CustomerImport.get(id=live.id)).status == ImportStatus.RUNNING
