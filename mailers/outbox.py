"""The transactional outbox: an e-mail is a row written in the business transaction.

A delivery worker sends QUEUED rows later; if the business change rolls back, so does
the e-mail, and a committed change always has its e-mail. The commit wakes this process's
workers, so an e-mail goes out at once rather than at their next poll. `partnerdesk mail`
counts, lists and re-queues rows with the functions at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from tortoise.functions import Count

import events
from events.polling import outbox_state
from mailers.templates import header_text, render
from mailers.worker import wake_delivery_workers
from models.outbox import EmailDelivery, EmailStatus
from models.statements import insert_model
from telemetry.metrics import OutboxState


async def queue_email(
    *,
    template: str,
    language: str | None,
    to_address: str,
    to_name: str | None,
    values: Mapping[str, str | None],
    partner_id: int | None = None,
) -> EmailDelivery:
    """Render `template` and write it to the outbox as QUEUED (call inside the transaction)."""
    events.after_commit(wake_delivery_workers)
    address = to_address.strip()
    if header_text(address, 254) != address or "@" not in address:
        raise ValueError("to_address must be one validated e-mail address")
    rendered = render(template, language, values)
    # The outbox row in one plain INSERT ... RETURNING (it is written on every decision).
    return await insert_model(
        EmailDelivery,
        dict(
            partner_id=partner_id,
            template=rendered.template,
            language=rendered.language,
            to_address=address,
            to_name=header_text(to_name) or None,
            subject=rendered.subject,
            text_body=rendered.text_body,
            html_body=rendered.html_body,
            status=EmailStatus.QUEUED,
            attempts=0,
            next_attempt_at=datetime.now(UTC),
        ),
    )


# ---------------------------------------------------------------- `partnerdesk mail`


async def delivery_counts() -> dict[str, int]:
    """How many outbox rows are in each status (every status listed, zeros included)."""
    counts = {status.value: 0 for status in EmailStatus}
    rows = (
        await EmailDelivery.annotate(count=Count("id")).group_by("status").values("status", "count")
    )
    for row in rows:
        counts[str(row["status"])] = row["count"]
    return counts


async def email_outbox_state() -> OutboxState:
    """How many e-mails wait (QUEUED) and the age of the oldest, for /metrics."""
    return await outbox_state("email_delivery", (EmailStatus.QUEUED,))


async def recent_failures(limit: int = 10) -> list[EmailDelivery]:
    """The last FAILED rows, newest first (the dead letters)."""
    return await EmailDelivery.filter(status=EmailStatus.FAILED).order_by("-id").limit(limit)


async def requeue_failed(delivery_id: int) -> bool:
    """Put a FAILED row back in the queue with a fresh attempt budget; False if not FAILED."""
    updated = await EmailDelivery.filter(id=delivery_id, status=EmailStatus.FAILED).update(
        status=EmailStatus.QUEUED,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        claimed_until=None,
        claimed_by=None,
    )
    if updated:
        wake_delivery_workers()
    return bool(updated)
