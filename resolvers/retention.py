"""Retention: personal data PartnerDesk stops keeping after a while, once a day.

- Dismissed inquiries are deleted PARTNERDESK_RETENTION_DISMISSED_INQUIRY_DAYS (90) after
  their dismissal; their activity rows lose the sender's name.
- Sent e-mails lose their bodies PARTNERDESK_RETENTION_EMAIL_BODY_DAYS (30) after sending;
  status, recipient, subject and timestamps stay.
- Download links are deleted a day after they expired.

Every process runs the housekeeping sweep each minute, but retention runs once a day in
all: the process whose conditional UPDATE of housekeeping_run moves the day on runs it
(`claim_daily_run`), the others find the day taken. Each step is idempotent as well, so a
run that failed half-way is simply done again the next day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.connection import get_connection

import events
from models.activity import ActivityEvent, ActivityVerb
from models.customer_data import DataExport
from models.housekeeping import HousekeepingRun
from models.inquiry import Inquiry, InquiryStatus
from models.outbox import EmailDelivery, EmailStatus

RETENTION = "retention"
DAY = timedelta(days=1)
BATCH_ROWS = 500
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


async def claim_daily_run(name: str, now: datetime | None = None) -> datetime | None:
    """Take today's run of job `name` for this process: when it last ran (to give it back
    with `release_run` if the run fails), or None when it ran within the last day."""
    now = now or datetime.now(UTC)
    connection = get_connection("default")
    marks = ("$1", "$2") if connection.capabilities.dialect == "postgres" else ("?", "?")
    await connection.execute_query(
        "INSERT INTO housekeeping_run (name, last_run_at)"
        f" VALUES ({marks[0]}, {marks[1]}) ON CONFLICT (name) DO NOTHING",
        [name, NEVER],
    )
    run = await HousekeepingRun.get(name=name)
    # Conditional: of several processes claiming at once, one changes the row.
    claimed = await HousekeepingRun.filter(name=name, last_run_at__lte=now - DAY).update(
        last_run_at=now
    )
    return run.last_run_at if claimed else None


async def release_run(name: str, previous: datetime) -> None:
    """Give a claimed run back (it failed): the next sweep tries again."""
    await HousekeepingRun.filter(name=name).update(last_run_at=previous)


async def delete_dismissed_inquiries(older_than_days: int, now: datetime | None = None) -> int:
    """Delete inquiries dismissed more than `older_than_days` ago; how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            await Inquiry.filter(status=InquiryStatus.DISMISSED, dismissed_at__lt=cutoff)
            .limit(BATCH_ROWS)
            .values_list("id", flat=True)
        )
        if not ids:
            return deleted
        async with events.transaction():
            about_them = ActivityEvent.filter(subject_type="Inquiry", subject_id__in=ids)
            await about_them.filter(verb=ActivityVerb.INQUIRY_RECEIVED).update(
                summary="Inquiry received (deleted after the retention period)"
            )
            await about_them.filter(verb=ActivityVerb.INQUIRY_DISMISSED).update(
                summary="Inquiry dismissed (deleted after the retention period)"
            )
            deleted += await Inquiry.filter(id__in=ids, status=InquiryStatus.DISMISSED).delete()


async def clear_sent_email_bodies(older_than_days: int, now: datetime | None = None) -> int:
    """Clear the bodies of e-mails sent more than `older_than_days` ago; how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    return (
        await EmailDelivery.filter(status=EmailStatus.SENT, sent_at__lt=cutoff)
        .exclude(text_body="", html_body="")
        .update(text_body="", html_body="")
    )


async def delete_old_download_links(now: datetime | None = None) -> int:
    """Delete download links that expired more than a day ago; how many."""
    return await DataExport.filter(expires_at__lt=(now or datetime.now(UTC)) - DAY).delete()


async def apply_retention(dismissed_inquiry_days: int, email_body_days: int) -> dict[str, int]:
    """Every retention step once (idempotent); what each changed."""
    return {
        "dismissed inquiries deleted": await delete_dismissed_inquiries(dismissed_inquiry_days),
        "e-mail bodies cleared": await clear_sent_email_bodies(email_body_days),
        "download links deleted": await delete_old_download_links(),
    }


async def daily_retention(dismissed_inquiry_days: int, email_body_days: int) -> dict[str, int]:
    """Apply retention if no process did today; what it changed (nothing if not its turn)."""
    previous = await claim_daily_run(RETENTION)
    if previous is None:
        return {}
    try:
        return await apply_retention(dismissed_inquiry_days, email_body_days)
    except BaseException:
        await release_run(RETENTION, previous)
        raise
