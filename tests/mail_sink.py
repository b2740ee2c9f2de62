"""A real SMTP server for the flows that go through e-mail (aiosmtpd on a free loopback port).

Modules use it with their own `settings` fixture (`sink_settings`): the app's delivery
worker then sends every queued e-mail to the sink, and a test reads the link's token out of
the message that arrived, as a person would click it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote

import pytest
from aiosmtpd.controller import Controller

from config import Settings


@dataclass
class MailSink:
    """An aiosmtpd handler that records every message it accepts."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def received(self, to: str | None = None) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if to is None or to in str(m["To"])]

    async def wait_for(
        self,
        to: str,
        subject: str = "",
        *,
        count: int = 1,
        within: float = 10.0,
        where: Callable[[EmailMessage], bool] = lambda message: True,
    ) -> list[EmailMessage]:
        """The first `count` messages to `to` whose subject contains `subject`."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = [
                message
                for message in self.received(to)
                if subject in str(message["Subject"]) and where(message)
            ]
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                subjects = [(str(m["To"]), str(m["Subject"])) for m in self.received()]
                raise AssertionError(f"no {count} e-mail(s) to {to} about {subject!r}: {subjects}")
            await asyncio.sleep(0.02)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def token_in(message: EmailMessage, page: str) -> str:
    """The token of the `/page?token=…` link in the message's text part."""
    found = re.search(rf"/{page}\?token=([^\s]+)", text_of(message))
    assert found, text_of(message)
    return unquote(found.group(1))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    handler = MailSink(port=_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def sink_settings(base_settings: Settings, sink: MailSink, **overrides: Any) -> Settings:
    """Settings whose mail worker (running in the app) delivers to `sink` at once."""
    with sink.lock:
        sink.messages.clear()
    return replace(
        base_settings,
        mail_worker=True,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        mail_retry_base_seconds=0.01,
        smtp_timeout_seconds=2,
        public_url="https://app.partnerdesk.test",
        **overrides,
    )
