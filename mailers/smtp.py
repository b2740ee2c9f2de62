"""The worker's transports: an SMTP session (aiosmtplib), or the development mailbox.

`mail_transport(settings)` picks one: SMTP when PARTNERDESK_SMTP_HOST is set; without it,
in development, the development mailbox (mailers/dev_mailbox.py), so the demo's e-mails
go the whole way through the outbox and the worker and can be read at /dev/mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from config import Settings
from mailers.failures import ConnectionFailed, connection_failure
from models.outbox import EmailDelivery

log = logging.getLogger("partnerdesk.mail")


class MailTransport(Protocol):
    async def send(
        self, message: EmailMessage, sender: str, recipient: str, delivery: EmailDelivery
    ) -> None:
        """Hand one message over; raises as aiosmtplib does (ConnectionFailed: no session)."""

    async def close(self) -> None:
        """Let go of any connection (the next send opens a new one)."""


class SmtpTransport:
    """One SMTP session, opened on the first send and reused for the rest of a batch."""

    def __init__(self, settings: Settings, send_deadline: float) -> None:
        self.settings = settings
        self.send_deadline = send_deadline
        self._smtp: aiosmtplib.SMTP | None = None

    async def send(
        self, message: EmailMessage, sender: str, recipient: str, delivery: EmailDelivery
    ) -> None:
        smtp = await self._connection()
        await asyncio.wait_for(
            smtp.send_message(message, sender=sender, recipients=[recipient]),
            timeout=self.send_deadline,
        )

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        await self.close()
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        try:
            await asyncio.wait_for(smtp.connect(), timeout=self.send_deadline)
        except Exception as error:
            smtp.close()
            if isinstance(error, aiosmtplib.SMTPAuthenticationError):
                log.error("mail worker: SMTP login refused, check PARTNERDESK_SMTP_*: %s", error)
            raise ConnectionFailed(connection_failure(error)) from error
        self._smtp = smtp
        return smtp

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if smtp.is_connected:
            # QUIT is a courtesy; the transport is closed either way.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(smtp.quit(), timeout=self.settings.smtp_timeout_seconds)
        smtp.close()


def mail_transport(settings: Settings, send_deadline: float) -> MailTransport:
    """SMTP when a host is configured, else the development mailbox (development only)."""
    if settings.smtp_host is not None:
        return SmtpTransport(settings, send_deadline)
    settings.check_for_serving(delivers_mail=True)  # production: ConfigError, never a mailbox
    from mailers.dev_mailbox import DevMailbox

    return DevMailbox()
