"""The development mailbox: the worker's transport when no SMTP host is configured.

It stores the MIME message the worker built, the very bytes SMTP would have carried, in
`dev_mail_message`; /dev/mail (app.py, static/devmail.*) lists and shows them. It exists
only in development: production without PARTNERDESK_SMTP_HOST refuses to start.
"""

from __future__ import annotations

import logging
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

from models.dev_mail import DevMailMessage
from models.outbox import EmailDelivery

log = logging.getLogger("partnerdesk.mail")

LIST_LENGTH = 200


class DevMailbox:
    """A MailTransport that keeps each message in the development mailbox table."""

    async def send(
        self, message: EmailMessage, sender: str, recipient: str, delivery: EmailDelivery
    ) -> None:
        kept = await DevMailMessage.create(
            delivery_id=delivery.id,
            to_address=recipient,
            subject=str(message["Subject"] or ""),
            language=delivery.language,
            template=delivery.template,
            message=message.as_string(policy=policy.SMTP),
        )
        log.info(
            "e-mail %s (%s, %s) is in the development mailbox: /dev/mail#%s",
            delivery.id,
            delivery.template,
            delivery.language,
            kept.id,
        )

    async def close(self) -> None:
        return None


async def mailbox_listing() -> list[dict[str, Any]]:
    """The newest messages first: what /dev/mail lists (to, subject, time, language)."""
    rows = await DevMailMessage.all().order_by("-id").limit(LIST_LENGTH)
    return [
        {
            "id": row.id,
            "to": row.to_address,
            "subject": row.subject,
            "language": row.language,
            "template": row.template,
            "receivedAt": row.received_at.isoformat(),
        }
        for row in rows
    ]


async def mailbox_message(message_id: int) -> dict[str, Any] | None:
    """One message with its headers and its text and HTML parts, as the worker built them."""
    row = await DevMailMessage.get_or_none(id=message_id)
    if row is None:
        return None
    parsed = message_from_string(row.message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return {
        "id": row.id,
        "to": str(parsed["To"] or row.to_address),
        "from": str(parsed["From"] or ""),
        "subject": str(parsed["Subject"] or row.subject),
        "date": str(parsed["Date"] or ""),
        "messageId": str(parsed["Message-ID"] or ""),
        "language": row.language,
        "template": row.template,
        "receivedAt": row.received_at.isoformat(),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
    }
