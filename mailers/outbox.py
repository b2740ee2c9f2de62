"""The transactional outbox: an e-mail is a row written in the business transaction.

A delivery worker sends QUEUED rows later; if the business change rolls back, so does
the e-mail, and a committed change always has its e-mail. The commit wakes this process's
workers, so an e-mail goes out at once rather than at their next poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import events
from mailers.templates import header_text, render
from mailers.worker import wake_delivery_workers
from models.outbox import EmailDelivery, EmailStatus


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
    return await EmailDelivery.create(
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
    )
