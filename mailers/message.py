"""Turning an outbox row into the MIME message the worker sends.

The message is a pure function of the row: a retry sends the same instance, with the
same Message-ID and Date, so a receiver can recognise a duplicate (RFC 5322 §3.6.4).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from models.outbox import EmailDelivery

FALLBACK_DOMAIN = "partnerdesk.invalid"


def one_line(value: str | None) -> str:
    """`value` safe for a header: every line break and control character becomes a space."""
    # email.message rejects any header that str.splitlines() would split (CR, LF, \x0b,
    # \x0c, \x1c-\x1e, \x85, U+2028, U+2029); rows written outside the outbox API (or
    # before its checks existed) must not crash the worker or add a header line.
    cleaned = "".join(
        " " if len(f"a{char}b".splitlines()) > 1 or unicodedata.category(char) == "Cc" else char
        for char in value or ""
    )
    return " ".join(cleaned.split())


def sender_address(mail_from: str) -> str:
    """The bare address of PARTNERDESK_MAIL_FROM, for the SMTP envelope."""
    return parseaddr(one_line(mail_from))[1]


def message_id_domain(mail_from: str) -> str:
    _, _, domain = sender_address(mail_from).rpartition("@")
    return domain or FALLBACK_DOMAIN


def message_id(delivery: EmailDelivery, domain: str) -> str:
    """The row's stable Message-ID: its id plus its queue time, unique across databases."""
    queued_at: datetime = delivery.queued_at
    if queued_at.tzinfo is not None:
        queued_at = queued_at.astimezone(UTC)
    return f"<outbox-{delivery.id}.{queued_at:%Y%m%d%H%M%S%f}@{domain}>"


def build_message(delivery: EmailDelivery, mail_from: str) -> EmailMessage:
    """The text + HTML message for one outbox row (raises ValueError on an unusable address)."""
    message = EmailMessage()
    message["From"] = one_line(mail_from)
    message["To"] = Address(
        display_name=one_line(delivery.to_name), addr_spec=one_line(delivery.to_address)
    )
    message["Subject"] = one_line(delivery.subject)
    message["Date"] = format_datetime(delivery.queued_at)
    message["Message-ID"] = message_id(delivery, message_id_domain(mail_from))
    message.set_content(delivery.text_body)
    message.add_alternative(delivery.html_body, subtype="html")
    if delivery.language:  # after the content: set_content() clears Content-* headers
        message["Content-Language"] = one_line(delivery.language)
    return message
