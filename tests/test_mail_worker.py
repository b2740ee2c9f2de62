"""The delivery worker against a real SMTP server (aiosmtpd on a free loopback port).

The sink records every message it accepts, keyed by Message-ID, and injects faults
on request: a 4xx or 5xx reply to DATA or RCPT, a connection dropped mid-DATA, or a
reply stalled past the client's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from config import Settings
from mailers.message import message_id, message_id_domain
from mailers.outbox import queue_email
from mailers.worker import (
    MAX_UNRECORDED,
    DeliveryWorker,
    backoff_seconds,
    wake_delivery_workers,
)
from models.activity import ActivityEvent, ActivityVerb
from models.outbox import EmailDelivery, EmailStatus
from models.partner import Partner
from schema.ids import to_global_id
from tests.factories import pk_of
from tests.support import GraphQLClient, register_partner

ROOT = Path(__file__).resolve().parent.parent
MAIL_FROM = "PartnerDesk <no-reply@partnerdesk.test>"
SMTP_TIMEOUT = 0.5
# Runs `partnerdesk ARGS` in a fresh interpreter, configured by PARTNERDESK_* variables.
PARTNERDESK = "import sys, app; sys.exit(app.main(sys.argv[1:]))"


# ---------------------------------------------------------------- the SMTP sink


@dataclass
class SmtpSink:
    """An aiosmtpd handler: accepts and records messages, or misbehaves when told to."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    # One entry consumed per DATA: "451", "550", "drop" (close mid-DATA), "stall".
    data_faults: list[str] = field(default_factory=list)
    # recipient address -> reply to RCPT
    refused_recipients: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = SMTP_TIMEOUT * 4
    data_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.data_faults.clear()
            self.refused_recipients.clear()
            self.data_delay = 0.0

    @property
    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(message["Message-ID"]) for message in self.messages)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused_recipients:
            return self.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            fault = self.data_faults.pop(0) if self.data_faults else None
        if fault == "drop":
            server.transport.close()
            return "421 closing"
        if fault and fault[0] in "45":
            return f"{fault} {'try again later' if fault[0] == '4' else 'mailbox unavailable'}"
        if fault == "stall":
            # The server does accept it, after the client gave up: a real duplicate.
            await asyncio.sleep(self.stall_seconds)
        elif self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    handler = SmtpSink(port=_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def settings(base_settings: Settings, sink: SmtpSink, request: pytest.FixtureRequest) -> Settings:
    """Test settings pointed at the sink, with tiny backoff and timeouts."""
    sink.reset()
    overrides = getattr(request, "param", {})
    return replace(
        base_settings,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        mail_from=MAIL_FROM,
        mail_retry_base_seconds=0.01,
        smtp_timeout_seconds=SMTP_TIMEOUT,
        **overrides,
    )


# ---------------------------------------------------------------- helpers


async def queued_email(**overrides: Any) -> EmailDelivery:
    values: dict[str, Any] = {
        "template": "invitation_declined",
        "language": "de",
        "to_address": "ada@example.org",
        "to_name": "Ada Lovelace",
        "subject": "Ihre Anfrage an Studio Aurora",
        "text_body": "Hallo Ada,\n\nleider nein.\n\n> Danke <3 & viel Glück\n",
        "html_body": "<p>Hallo Ada,</p><blockquote>Danke &lt;3 &amp; viel Glück</blockquote>",
        "status": EmailStatus.QUEUED,
        "next_attempt_at": datetime.now(UTC),
    }
    return await EmailDelivery.create(**(values | overrides))


async def queued_count() -> int:
    return await EmailDelivery.filter(status=EmailStatus.QUEUED).count()


async def until_attempted(delivery_id: int, poll: float = 0.02) -> None:
    while not await EmailDelivery.filter(id=delivery_id, attempts__gte=1).exists():
        await asyncio.sleep(poll)


async def until_none_queued(poll: float = 0.02) -> None:
    while True:
        if not await queued_count():
            return
        await asyncio.sleep(poll)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **options: Any) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(settings, poll_seconds=options.pop("poll_seconds", 0.05), **options)
    worker.start()
    try:
        yield worker
    finally:
        await asyncio.wait_for(worker.stop(), timeout=10)


async def deliver_everything(settings: Settings, within: float = 15) -> None:
    """Run a worker until no row is QUEUED; fail (rather than hang) after `within` seconds."""
    async with running_worker(settings):
        await asyncio.wait_for(until_none_queued(), timeout=within)


def worker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PARTNERDESK_DATABASE_URL": settings.database_url,
        "PARTNERDESK_SMTP_HOST": str(settings.smtp_host),
        "PARTNERDESK_SMTP_PORT": str(settings.smtp_port),
        "PARTNERDESK_MAIL_FROM": settings.mail_from,
        "PARTNERDESK_MAIL_RETRY_BASE_SECONDS": "0.01",
        "PARTNERDESK_SMTP_TIMEOUT_SECONDS": "2",
        "PARTNERDESK_MAIL_LEASE_SECONDS": "2",
        "PARTNERDESK_PASSWORD_HASH_PROFILE": "fast",
        **extra,
    }


async def start_partnerdesk(
    env: dict[str, str], *args: str, log: Path | None = None
) -> asyncio.subprocess.Process:
    output = log.open("ab") if log else asyncio.subprocess.DEVNULL
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PARTNERDESK,
            *args,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    finally:
        if log and not isinstance(output, int):
            output.close()


async def run_partnerdesk(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARTNERDESK,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def wait_for_received(sink: SmtpSink, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(sink.message_ids) < count:
        assert time.monotonic() < deadline, f"only {len(sink.message_ids)} of {count} received"
        await asyncio.sleep(0.01)


async def queue_many(count: int) -> None:
    now = datetime.now(UTC)
    await EmailDelivery.bulk_create(
        [
            EmailDelivery(
                template="invitation_declined",
                language="en",
                to_address=f"person{number}@example.org",
                to_name=f"Person {number}",
                subject=f"Message {number}",
                text_body=f"Text {number}",
                html_body=f"<p>HTML {number}</p>",
                status=EmailStatus.QUEUED,
                queued_at=now,
                next_attempt_at=now,
            )
            for number in range(count)
        ],
        batch_size=500,
    )


# ---------------------------------------------------------------- happy path


async def test_queued_email_arrives_with_recipient_subject_and_both_parts(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    partner = await Partner.create(slug="aurora", name="Aurora", display_name="Studio Aurora")
    delivery = await queued_email(partner_id=partner.id)

    # when
    await deliver_everything(settings)

    # then
    [received] = sink.messages
    assert received["To"] == "Ada Lovelace <ada@example.org>"
    assert received["From"] == MAIL_FROM
    assert received["Subject"] == "Ihre Anfrage an Studio Aurora"
    assert received["Content-Language"] == "de"
    assert received["Message-ID"] == message_id(delivery, "partnerdesk.test")
    assert received["Message-ID"].startswith(f"<outbox-{delivery.id}.")
    assert received["Date"]
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and html is not None
    assert "> Danke <3 & viel Glück" in text.get_content()
    assert "Danke &lt;3 &amp; viel Glück" in html.get_content()
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.attempts == 1
    assert delivery.sent_at is not None and delivery.claimed_by is None
    [event] = await ActivityEvent.filter(partner_id=partner.id)
    assert event.verb == ActivityVerb.EMAIL_SENT
    assert (event.subject_type, event.subject_id) == ("EmailDelivery", delivery.id)


async def test_decline_email_from_the_outbox_arrives_in_the_recipients_language(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: what declineInvitation queues in its transaction
    delivery = await queue_email(
        template="invitation_declined",
        language="de-AT",
        to_address="ada@example.org",
        to_name="Ada Lovelace",
        values={
            "recipient": "Ada Lovelace",
            "partner": "Studio Aurora",
            "message": "Leider <b>kein</b> Platz & viel Erfolg!",
        },
    )

    # when
    await deliver_everything(settings)

    # then
    [received] = sink.messages
    assert received["To"] == "Ada Lovelace <ada@example.org>"
    assert received["Subject"] == "Studio Aurora hat Ihre Zugriffsberechtigung abgelehnt"
    assert received["Content-Language"] == "de"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and html is not None
    assert "Leider <b>kein</b> Platz & viel Erfolg!" in text.get_content()
    assert "Leider &lt;b&gt;kein&lt;/b&gt; Platz &amp; viel Erfolg!" in html.get_content()
    assert received["Message-ID"] == message_id(delivery, "partnerdesk.test")


async def test_message_id_is_the_same_on_every_attempt(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: the first attempt is refused for now
    delivery = await queued_email()
    sink.data_faults[:] = ["451"]

    # when
    await deliver_everything(settings)

    # then: the retry is the same message instance
    reloaded = await EmailDelivery.get(id=delivery.id)
    assert message_id(reloaded, message_id_domain(MAIL_FROM)) == message_id(
        delivery, message_id_domain(MAIL_FROM)
    )
    assert list(sink.message_ids) == [message_id(delivery, "partnerdesk.test")]


async def test_a_new_row_is_picked_up_on_wake_up_without_waiting_for_the_poll(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: a worker that would only poll every 30 s, idle on an empty outbox
    async with running_worker(settings, poll_seconds=30):
        await asyncio.sleep(0.1)

        # when
        await queued_email()
        wake_delivery_workers()

        # then
        await asyncio.wait_for(until_none_queued(), timeout=2)  # the poll would take 30 s
    assert len(sink.messages) == 1


@pytest.mark.parametrize("settings", [{"mail_worker": True}], indirect=True)
async def test_the_app_runs_the_worker_when_configured(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: the app's lifespan started a worker (PARTNERDESK_MAIL_WORKER=true)
    # when
    await queued_email()

    # then: the poll (1 s) picks it up
    await asyncio.wait_for(until_none_queued(), timeout=5)
    assert len(sink.messages) == 1


# ---------------------------------------------------------------- faults


async def test_4xx_is_retried_with_backoff_until_delivered(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    delivery = await queued_email()
    sink.data_faults[:] = ["451", "451", "451"]

    # when
    await deliver_everything(settings)

    # then
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT
    assert delivery.attempts == 4
    assert delivery.last_error == "The mail server is unavailable; retrying (451)"
    assert delivery.last_error_detail == "451 try again later"
    assert len(sink.messages) == 1


async def test_5xx_fails_at_once_with_the_reply_and_is_not_retried(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    partner = await Partner.create(slug="aurora", name="Aurora", display_name="Studio Aurora")
    delivery = await queued_email(partner_id=partner.id)
    sink.data_faults[:] = ["550"]

    # when: the worker keeps running well past any backoff
    async with running_worker(settings):
        await asyncio.wait_for(until_none_queued(), timeout=5)
        await asyncio.sleep(0.3)

    # then
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error == "The mail server refused the message (550)"
    assert delivery.last_error_detail == "550 mailbox unavailable"
    assert sink.messages == []
    [event] = await ActivityEvent.filter(partner_id=partner.id)
    assert event.verb == ActivityVerb.EMAIL_FAILED
    assert (
        event.summary
        == "E-mail to ada@example.org failed: The mail server refused the message (550)"
    )


async def test_refused_recipient_fails_on_5xx_and_is_retried_on_4xx(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    gone = await queued_email(to_address="gone@example.org")
    busy = await queued_email(to_address="busy@example.org")
    sink.refused_recipients.update(
        {"gone@example.org": "550 5.1.1 no such user", "busy@example.org": "452 4.2.2 mailbox full"}
    )

    # when
    async with running_worker(settings):
        # the mailbox stays full until the worker has met it once (however busy the machine)
        await asyncio.wait_for(until_attempted(busy.id), timeout=10)
        del sink.refused_recipients["busy@example.org"]
        await asyncio.wait_for(until_none_queued(), timeout=5)

    # then
    await gone.refresh_from_db()
    await busy.refresh_from_db()
    assert (gone.status, gone.attempts) == (EmailStatus.FAILED, 1)
    assert gone.last_error == "The recipient's server refused the message (550)"
    assert gone.last_error_detail == "recipient refused: 550 5.1.1 no such user"
    assert busy.status == EmailStatus.SENT and busy.attempts >= 2
    assert [message["To"] for message in sink.messages] == ["Ada Lovelace <busy@example.org>"]


async def test_connection_dropped_mid_data_is_retried(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    delivery = await queued_email()
    sink.data_faults[:] = ["drop"]

    # when
    await deliver_everything(settings)

    # then
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (EmailStatus.SENT, 2)
    assert delivery.last_error == "The mail server closed the connection; retrying"
    assert delivery.last_error_detail is not None
    assert "SMTPServerDisconnected" in delivery.last_error_detail
    assert len(sink.messages) == 1


async def test_stalled_reply_times_out_and_is_retried_without_hanging(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: the server answers DATA only after 4x the client timeout
    delivery = await queued_email()
    sink.data_faults[:] = ["stall"]

    # when
    started = time.monotonic()
    await deliver_everything(settings, within=5)

    # then: delivered by the second attempt, long before the stalled reply
    assert time.monotonic() - started < sink.stall_seconds
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (EmailStatus.SENT, 2)
    assert delivery.last_error == "The mail server did not answer in time; retrying"
    assert delivery.last_error_detail is not None and "Timeout" in delivery.last_error_detail
    await asyncio.sleep(sink.stall_seconds)
    # The late acceptance is a duplicate the receiver can recognise by its Message-ID.
    assert set(sink.message_ids) == {message_id(delivery, "partnerdesk.test")}


@pytest.mark.parametrize("settings", [{"mail_max_attempts": 3}], indirect=True)
async def test_transient_failures_fail_the_row_after_the_last_attempt(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    delivery = await queued_email()
    sink.data_faults[:] = ["421"] * 10

    # when
    await deliver_everything(settings)

    # then
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (EmailStatus.FAILED, 3)
    assert delivery.last_error == "The mail server is unavailable; gave up after 3 attempts (421)"
    assert delivery.last_error_detail == "gave up (3 attempts): 421 try again later"


async def test_a_row_older_than_the_maximum_age_fails_at_its_next_transient_failure(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    delivery = await queued_email()
    await EmailDelivery.filter(id=delivery.id).update(
        queued_at=datetime.now(UTC) - timedelta(hours=settings.mail_max_age_hours + 1)
    )
    sink.data_faults[:] = ["451"]

    # when
    await deliver_everything(settings)

    # then
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (EmailStatus.FAILED, 1)
    assert delivery.last_error == "The mail server is unavailable; gave up: queued too long (451)"
    assert delivery.last_error_detail == "gave up (too old): 451 try again later"


async def test_an_unreachable_server_is_a_transient_failure(
    app: Starlette, settings: Settings
) -> None:
    # given: nothing listens on the port
    delivery = await queued_email()
    worker = DeliveryWorker(replace(settings, smtp_port=_free_port()))

    # when
    claimed = await worker.run_once()

    # then
    await delivery.refresh_from_db()
    assert claimed == 1
    assert (delivery.status, delivery.attempts) == (EmailStatus.QUEUED, 1)
    assert delivery.last_error == "Could not reach the mail server; retrying"
    assert delivery.last_error_detail is not None
    assert delivery.last_error_detail.startswith("connecting: ")
    assert delivery.claimed_by is None and delivery.next_attempt_at is not None


async def test_a_row_leased_by_another_worker_waits_until_the_lease_expires(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: a row another (perhaps dead) worker holds for another minute
    delivery = await queued_email()
    await EmailDelivery.filter(id=delivery.id).update(
        claimed_by="other-worker/1", claimed_until=datetime.now(UTC) + timedelta(minutes=1)
    )
    worker = DeliveryWorker(settings)

    # when / then: it is not taken while the lease lasts
    assert await worker.run_once() == 0

    # when / then: it is taken once the lease has expired
    await EmailDelivery.filter(id=delivery.id).update(
        claimed_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await worker.run_once() == 1
    await worker.stop()
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT and delivery.claimed_by is None
    assert len(sink.messages) == 1


def test_backoff_is_full_jitter_doubling_and_capped() -> None:
    assert all(0 <= backoff_seconds(1, 30) <= 30 for _ in range(100))
    assert max(backoff_seconds(4, 30) for _ in range(500)) > 120
    assert all(backoff_seconds(4, 30) <= 240 for _ in range(100))
    assert all(backoff_seconds(40, 30) <= 3600 for _ in range(100))


# ---------------------------------------------------------------- header injection


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("Hello\r\nBcc: victim@example.org", "Eve\r\nX-Injected: yes"),
        ("Hello\u2028Bcc: victim@example.org", "Eve\u2029X-Injected: yes"),
        ("Hello\x0bBcc: victim@example.org\x85", "Eve\nX-Injected: yes\x1c"),
    ],
    ids=["crlf", "unicode-line-separators", "other-splitlines-breaks"],
)
async def test_line_breaks_in_header_values_never_create_headers(
    app: Starlette, settings: Settings, sink: SmtpSink, subject: str, name: str
) -> None:
    # given: a row written past the outbox's own checks
    delivery = await queued_email(subject=subject, to_name=name)

    # when
    await deliver_everything(settings)

    # then
    [received] = sink.messages
    assert sorted(received.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Content-Language",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert received["Subject"] == "Hello Bcc: victim@example.org"
    assert received["To"].addresses[0].display_name == "Eve X-Injected: yes"
    assert received["To"].addresses[0].addr_spec == "ada@example.org"
    await delivery.refresh_from_db()
    assert delivery.status == EmailStatus.SENT


async def test_a_line_break_in_the_address_fails_the_row_instead_of_the_worker(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given
    broken = await queued_email(to_address="ada@example.org\r\nBcc: victim@example.org")
    fine = await queued_email()

    # when
    await deliver_everything(settings)

    # then
    await broken.refresh_from_db()
    assert (broken.status, broken.attempts) == (EmailStatus.FAILED, 1)
    assert broken.last_error == "The recipient's address cannot be used in an e-mail"
    assert broken.last_error_detail is not None
    assert broken.last_error_detail.startswith("cannot build the message")
    assert [message["Message-ID"] for message in sink.messages] == [
        message_id(fine, "partnerdesk.test")
    ]


# ---------------------------------------------------------------- what partners read

EMAIL_NODE = "query($id: ID!) { node(id: $id) { ... on EmailDelivery { status lastError } } }"
# Fault -> what a partner member reads as lastError after the first attempt.
SAFE_REASONS = {
    "unreachable": "Could not reach the mail server; retrying",
    "451": "The mail server is unavailable; retrying (451)",
    "550": "The mail server refused the message (550)",
    "refused recipient": "The recipient's server refused the message (550)",
    "drop": "The mail server closed the connection; retrying",
    "stall": "The mail server did not answer in time; retrying",
}


def revealed(text: str, *ports: int) -> list[str]:
    """Socket and server details found in `text`: errno, addresses, ports, server words."""
    fragments = ["errno", "127.0.0.1", "localhost", "smtp", "timeout", "connect call"]
    fragments += ["try again later", "mailbox unavailable", "no such user", "5.1.1"]
    fragments += [str(port) for port in ports]
    return [fragment for fragment in fragments if fragment in text.lower()]


async def attempt_once_with(fault: str, settings: Settings, sink: SmtpSink, **email: Any) -> int:
    """Queue one e-mail and make one delivery attempt that meets `fault`; the row's id."""
    delivery = await queued_email(**email)
    if fault == "unreachable":
        settings = replace(settings, smtp_port=_free_port())
    elif fault == "refused recipient":
        sink.refused_recipients[delivery.to_address] = "550 5.1.1 no such user"
    else:
        sink.data_faults[:] = [fault]
    await DeliveryWorker(settings).run_once()
    return delivery.id


@pytest.mark.parametrize("fault", list(SAFE_REASONS))
async def test_partners_read_a_safe_reason_never_the_servers_words(
    client: GraphQLClient, settings: Settings, sink: SmtpSink, fault: str
) -> None:
    # given: a partner's e-mail whose first delivery attempt meets the fault
    partner = await register_partner(client)
    # (the owner's verification e-mail is not this test's: out of the way)
    await EmailDelivery.filter(status=EmailStatus.QUEUED).update(status=EmailStatus.SENT)
    delivery_id = await attempt_once_with(
        fault, settings, sink, partner_id=pk_of(partner.partner_id)
    )
    # when
    data = await client.gql(
        EMAIL_NODE, {"id": to_global_id("EmailDelivery", delivery_id)}, partner.token
    )
    # then: a short reason, no errno text, host names, ports or the server's own words
    last_error = data["node"]["lastError"]
    assert last_error == SAFE_REASONS[fault]
    assert revealed(last_error, settings.smtp_port) == []


@pytest.mark.parametrize(
    ("fault", "detail"),
    [("unreachable", "[Errno 111]"), ("550", "550 mailbox unavailable")],
)
async def test_the_log_keeps_the_detail_with_the_delivery_id(
    app: Starlette,
    settings: Settings,
    sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    detail: str,
) -> None:
    # given / when: one delivery attempt meets the fault
    with caplog.at_level(logging.INFO, logger="partnerdesk.mail"):
        delivery_id = await attempt_once_with(fault, settings, sink)
    # then: operators find what the server or the socket said, by e-mail id
    [line] = [record.getMessage() for record in caplog.records if "e-mail" in record.getMessage()]
    assert line.startswith(f"e-mail {delivery_id}") and detail in line


# ---------------------------------------------------------------- shutdown


async def test_stop_finishes_the_current_message_and_releases_the_rest(
    app: Starlette, settings: Settings, sink: SmtpSink
) -> None:
    # given: a batch of 20 being sent slowly
    for number in range(20):
        await queued_email(subject=f"Message {number}")
    sink.data_delay = 0.05
    worker = DeliveryWorker(settings, poll_seconds=0.05)
    worker.start()
    await wait_for_received(sink, 3, within=5)

    # when
    await asyncio.wait_for(worker.stop(), timeout=2)

    # then: what was received is SENT, the rest is QUEUED and free for any worker
    sent = await EmailDelivery.filter(status=EmailStatus.SENT).count()
    assert sent == len(sink.messages) and 3 <= sent < 20
    assert await queued_count() == 20 - sent
    assert await EmailDelivery.filter(claimed_by__isnull=False).count() == 0
    assert await EmailDelivery.filter(claimed_until__isnull=False).count() == 0


# ---------------------------------------------------------------- crash and concurrency


async def test_worker_killed_mid_delivery_loses_nothing_after_restart(
    app: Starlette, settings: Settings, sink: SmtpSink, tmp_path: Path
) -> None:
    # given: 1,000 e-mails queued and a worker process sending them
    await queue_many(1000)
    env = worker_environment(settings)
    log = tmp_path / "worker.log"
    first = await start_partnerdesk(env, "worker", log=log)
    try:
        await wait_for_received(sink, 325, within=60)
    finally:
        # when: it is killed mid-delivery, then a new worker starts
        first.send_signal(signal.SIGKILL)
        await first.wait()
    received_at_kill = len(sink.messages)
    held_at_kill = await EmailDelivery.filter(
        status=EmailStatus.QUEUED, claimed_by__isnull=False
    ).count()
    second = await start_partnerdesk(env, "worker", log=log)
    try:
        await asyncio.wait_for(until_none_queued(poll=0.1), timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(second.wait(), timeout=15)

    # then: every e-mail arrived; duplicates only for rows sent but not yet committed as SENT
    ids = sink.message_ids
    duplicates = sum(ids.values()) - len(ids)
    print(
        f"\ncrash test: {received_at_kill} received before SIGKILL, {held_at_kill} rows left "
        f"claimed by the killed worker; {sum(ids.values())} received in total, "
        f"{len(ids)} distinct Message-IDs, {duplicates} duplicate(s)"
    )
    assert exit_code == 0, log.read_text()
    assert held_at_kill > 0  # the restart really had to wait for the dead worker's lease
    assert len(ids) == 1000
    assert await EmailDelivery.filter(status=EmailStatus.SENT).count() == 1000
    # At most MAX_UNRECORDED sent e-mails await their commit, plus the one the sink was accepting.
    assert duplicates <= MAX_UNRECORDED + 1


@pytest.mark.postgres_only
async def test_two_workers_on_postgres_send_each_message_exactly_once(
    app: Starlette, settings: Settings, sink: SmtpSink, tmp_path: Path
) -> None:
    # given
    await queue_many(2000)
    env = worker_environment(settings, PARTNERDESK_MAIL_LEASE_SECONDS="60")
    log = tmp_path / "workers.log"

    # when: two worker processes drain the outbox together
    workers = [await start_partnerdesk(env, "worker", log=log) for _ in range(2)]
    claimants: set[str] = set()

    async def drained() -> None:
        while await queued_count():
            holders = await EmailDelivery.filter(claimed_by__isnull=False).values_list(
                "claimed_by", flat=True
            )
            claimants.update(str(holder).split("/")[0] for holder in holders)
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(drained(), timeout=120)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        exit_codes = [await asyncio.wait_for(worker.wait(), timeout=15) for worker in workers]

    # then
    ids = sink.message_ids
    assert exit_codes == [0, 0], log.read_text()
    assert len(claimants) == 2  # both workers took part
    assert len(ids) == 2000
    assert set(ids.values()) == {1}, [mid for mid, count in ids.items() if count > 1][:10]
    assert await EmailDelivery.filter(status=EmailStatus.SENT).count() == 2000


# ---------------------------------------------------------------- operator commands


async def test_mail_status_shows_counts_and_the_last_failures(
    app: Starlette, settings: Settings
) -> None:
    # given
    await queued_email()
    await queued_email(status=EmailStatus.SENT, attempts=1)
    failed = await queued_email(
        status=EmailStatus.FAILED,
        attempts=1,
        last_error="The recipient's server refused the message (550)",
        last_error_detail="recipient refused: 550 5.1.1 no such user",
    )

    # when
    code, stdout, _ = await run_partnerdesk(worker_environment(settings), "mail", "status")

    # then
    assert code == 0
    assert "QUEUED: 1  SENT: 1  FAILED: 1" in stdout
    assert f"#{failed.id} to ada@example.org" in stdout
    assert "The recipient's server refused the message (550)" in stdout
    assert "recipient refused: 550 5.1.1 no such user" in stdout  # the operator sees the detail


async def test_mail_retry_requeues_a_failed_row_only(app: Starlette, settings: Settings) -> None:
    # given
    failed = await queued_email(status=EmailStatus.FAILED, attempts=8, last_error="gave up")
    sent = await queued_email(status=EmailStatus.SENT, attempts=1)
    env = worker_environment(settings)

    # when
    code, stdout, _ = await run_partnerdesk(env, "mail", "retry", str(failed.id))
    sent_code, _, sent_error = await run_partnerdesk(env, "mail", "retry", str(sent.id))
    missing_code, _, missing_error = await run_partnerdesk(env, "mail", "retry", "999999")

    # then
    assert code == 0 and f"E-mail {failed.id} is queued again." in stdout
    await failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (EmailStatus.QUEUED, 0)
    assert failed.next_attempt_at is not None
    assert sent_code == 1 and f"no FAILED e-mail with id {sent.id}" in sent_error
    assert missing_code == 1 and "no FAILED e-mail with id 999999" in missing_error
    await sent.refresh_from_db()
    assert sent.status == EmailStatus.SENT
