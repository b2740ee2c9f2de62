"""The delivery worker: sends QUEUED outbox rows, at least once, one worker per row.

Over SMTP, or, in development without PARTNERDESK_SMTP_HOST, into the development mailbox
shown at /dev/mail (mailers/smtp.py `mail_transport`).

A worker claims a batch of due rows with a lease (claimed_by / claimed_until) by a
conditional UPDATE, so two workers never hold the same row; on PostgreSQL the candidates
are picked with FOR UPDATE SKIP LOCKED so workers do not queue behind each other. A
worker killed mid-send leaves its lease to expire, and the rows are sent again: the
e-mails it had sent but not yet recorded as SENT (at most MAX_UNRECORDED + 1) arrive
twice, with the same stable Message-ID, so the receiver can recognise them.

Transient failures (connection errors, timeouts, 4xx) are retried with exponential
backoff and full jitter, up to PARTNERDESK_MAIL_MAX_ATTEMPTS attempts and
PARTNERDESK_MAIL_MAX_AGE_HOURS; permanent ones (5xx) are FAILED at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import aiosmtplib
from tortoise.connection import get_connection
from tortoise.expressions import F, Q

import events
from config import Settings
from events.activity import record_activity
from events.polling import PollingWorker, backoff_seconds, wake_workers
from events.polling import now as _now
from mailers.failures import ConnectionFailed, SendFailure, classify_failure, unbuildable
from mailers.message import build_message, one_line, sender_address
from mailers.smtp import mail_transport
from models.activity import ActivityVerb
from models.outbox import EmailDelivery, EmailStatus
from telemetry import metrics, tracing

log = logging.getLogger("partnerdesk.mail")

BATCH_SIZE = 50
POLL_SECONDS = 1.0
ERROR_LENGTH = 2000
# A reply can trickle in; bound a whole send at a few SMTP commands' worth of timeouts.
SEND_DEADLINE_FACTOR = 5
# Outcomes committed together, and sent e-mails that may await their commit (OutcomeLog).
GROUP_SIZE = 4
MAX_UNRECORDED = 8

__all__ = ["DeliveryWorker", "backoff_seconds", "wake_delivery_workers"]


def wake_delivery_workers() -> None:
    """Tell this process's delivery workers that QUEUED rows were committed (call after commit)."""
    wake_workers(DeliveryWorker.kind)


class DeliveryWorker(PollingWorker):
    """Claims due outbox rows in batches and sends each batch over one connection."""

    kind = "mail worker"
    log = logging.getLogger("partnerdesk.mail")

    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
        worker_id: str | None = None,
    ) -> None:
        # The lease is renewed once less than half of it is left, before each send; a send
        # that ends within half a lease can therefore never outlive the claim on its row.
        send_deadline = min(
            settings.smtp_timeout_seconds * SEND_DEADLINE_FACTOR, settings.mail_lease_seconds / 2
        )
        super().__init__(
            batch_size=batch_size,
            poll_seconds=poll_seconds,
            worker_id=worker_id,
            stop_grace=send_deadline + 10,
        )
        self.settings = settings
        self.lease = timedelta(seconds=settings.mail_lease_seconds)
        self.max_age = timedelta(hours=settings.mail_max_age_hours)
        self.send_deadline = send_deadline
        self._sender = sender_address(settings.mail_from)
        self.transport = mail_transport(settings, self.send_deadline)
        self._lease_until = _now()

    async def release(self) -> None:
        await self.transport.close()

    # ------------------------------------------------------------ one batch

    async def run_once(self) -> int:
        """Claim and send one batch of due rows; the number of rows claimed."""
        token = self.next_batch_token()
        rows = await self._claim(token)
        if not rows:
            return 0
        try:
            await self._deliver(rows, token)
        finally:
            # Rows not sent because we are stopping (or an error): let anyone take them now.
            await EmailDelivery.filter(claimed_by=token, status=EmailStatus.QUEUED).update(
                claimed_until=None, claimed_by=None
            )
        return len(rows)

    async def _claim(self, token: str) -> list[EmailDelivery]:
        now = _now()
        until = now + self.lease
        connection = get_connection("default")
        if connection.capabilities.dialect == "postgres":
            # SKIP LOCKED: concurrent workers pick disjoint candidates instead of waiting.
            await connection.execute_query(
                """
                WITH picked AS MATERIALIZED (
                    SELECT id FROM email_delivery
                    WHERE status = 'QUEUED'
                      AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
                      AND (claimed_until IS NULL OR claimed_until < $1)
                    ORDER BY id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE email_delivery AS d SET claimed_until = $3, claimed_by = $4
                FROM picked
                WHERE d.id = picked.id
                  AND d.status = 'QUEUED'
                  AND (d.claimed_until IS NULL OR d.claimed_until < $1)
                """,
                [now, self.batch_size, until, token],
            )
        else:
            unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
            due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
            candidates = (
                await EmailDelivery.filter(unclaimed, due, status=EmailStatus.QUEUED)
                .order_by("id")
                .limit(self.batch_size)
                .values_list("id", flat=True)
            )
            if not candidates:
                return []
            # Conditional: a row another worker claimed since the SELECT is left alone.
            await EmailDelivery.filter(
                unclaimed, id__in=list(candidates), status=EmailStatus.QUEUED
            ).update(claimed_until=until, claimed_by=token)
        self._lease_until = until
        return await EmailDelivery.filter(claimed_by=token, status=EmailStatus.QUEUED).order_by(
            "id"
        )

    async def _deliver(self, rows: Sequence[EmailDelivery], token: str) -> None:
        pending = list(rows)
        outcomes = OutcomeLog(self, token)
        try:
            while pending and not self.stopping:
                if _now() >= self._lease_until - self.lease / 2:
                    pending = await self._renew_lease(pending, token)
                    if not pending:
                        return
                delivery = pending.pop(0)
                try:
                    failure = await self._send(delivery)
                except ConnectionFailed as error:
                    # The server is unreachable: every row still held shares this attempt's fate.
                    for held in [delivery, *pending]:
                        await outcomes.add(held, error.failure)
                    return
                await outcomes.add(delivery, failure)
        finally:
            await outcomes.close()

    async def _renew_lease(self, pending: list[EmailDelivery], token: str) -> list[EmailDelivery]:
        until = _now() + self.lease
        await EmailDelivery.filter(claimed_by=token, status=EmailStatus.QUEUED).update(
            claimed_until=until
        )
        self._lease_until = until
        # Rows whose lease expired before this renewal may have gone to another worker.
        held = set(
            await EmailDelivery.filter(claimed_by=token, status=EmailStatus.QUEUED).values_list(
                "id", flat=True
            )
        )
        return [delivery for delivery in pending if delivery.id in held]

    # ------------------------------------------------------------ sending

    async def _send(self, delivery: EmailDelivery) -> SendFailure | None:
        """Send one row; None on success, else why not (ConnectionFailed if no session)."""
        try:
            message = build_message(delivery, self.settings.mail_from)
        except Exception as error:  # an address the email package cannot express
            return unbuildable(error)
        try:
            with tracing.span(
                "email delivery",
                **{
                    "partnerdesk.email.id": delivery.id,
                    "partnerdesk.email.template": delivery.template,
                },
            ):
                await self.transport.send(
                    message, self._sender, one_line(delivery.to_address), delivery
                )
        except ConnectionFailed:
            raise
        except Exception as error:
            failure = classify_failure(error)
            if failure.connection_broken:
                await self.transport.close()
            if not isinstance(error, aiosmtplib.SMTPException | OSError):
                log.exception("mail worker: unexpected error sending e-mail %s", delivery.id)
            return failure
        return None

    # ------------------------------------------------------------ outcomes

    async def record_outcomes(
        self, outcomes: Sequence[tuple[EmailDelivery, SendFailure | None]], token: str
    ) -> None:
        """Commit the outcomes of several sends in one transaction (with their activity rows)."""
        now = _now()
        sent = [delivery for delivery, failure in outcomes if failure is None]
        failed = [(delivery, failure) for delivery, failure in outcomes if failure is not None]
        if not failed and all(delivery.partner_id is None for delivery in sent):
            await self._mark_sent(sent, now)  # one statement: atomic by itself
            return
        # events.transaction(): the activity rows' feed events go out after the commit.
        async with events.transaction():
            if sent:
                await self._mark_sent(sent, now)
            for delivery, failure in failed:
                await self._record_failure(delivery, failure, token, now)

    async def _mark_sent(self, sent: Sequence[EmailDelivery], now: datetime) -> None:
        with_activity = {delivery.id: delivery for delivery in sent if delivery.partner_id}
        first_to_record: list[int] = []
        if with_activity:
            # Activity only for rows this commit records, not for one another worker
            # recorded first (possible only if our lease had expired).
            first_to_record = cast(
                list[int],
                await EmailDelivery.filter(id__in=list(with_activity), status=EmailStatus.QUEUED)
                .select_for_update()
                .values_list("id", flat=True),
            )
        recorded = await EmailDelivery.filter(
            id__in=[delivery.id for delivery in sent], status=EmailStatus.QUEUED
        ).update(
            status=EmailStatus.SENT,
            sent_at=now,
            attempts=F("attempts") + 1,
            claimed_until=None,
            claimed_by=None,
        )
        metrics.DELIVERIES.labels("SENT").inc(recorded)
        for delivery_id in first_to_record:
            delivery = with_activity[delivery_id]
            await record_activity(
                cast(int, delivery.partner_id),
                ActivityVerb.EMAIL_SENT,
                f"E-mail sent to {delivery.to_address}: {one_line(delivery.subject)}",
                subject=("EmailDelivery", delivery.id),
            )

    async def _record_failure(
        self, delivery: EmailDelivery, failure: SendFailure, token: str, now: datetime
    ) -> None:
        """Store the safe reason for partners and the detail for operators (mailers/failures.py)."""
        attempts = delivery.attempts + 1
        detail = failure.detail[:ERROR_LENGTH]
        too_old = now - delivery.queued_at > self.max_age
        if not failure.permanent and attempts < self.settings.mail_max_attempts and not too_old:
            next_attempt = now + timedelta(
                seconds=backoff_seconds(attempts, self.settings.mail_retry_base_seconds)
            )
            await EmailDelivery.filter(
                id=delivery.id, status=EmailStatus.QUEUED, claimed_by=token
            ).update(
                attempts=attempts,
                last_error=failure.public_text("retrying"),
                last_error_detail=detail,
                next_attempt_at=next_attempt,
                claimed_until=None,
                claimed_by=None,
            )
            self.note_next_due(next_attempt)
            log.info("e-mail %s: attempt %s failed, retrying: %s", delivery.id, attempts, detail)
            return
        reason = failure.public_text()
        if not failure.permanent:  # transient, but out of attempts or of time
            if too_old:
                reason = failure.public_text("gave up: queued too long")
                detail = f"gave up (too old): {detail}"
            else:
                reason = failure.public_text(f"gave up after {attempts} attempts")
                detail = f"gave up ({attempts} attempts): {detail}"
        log.warning("e-mail %s FAILED: %s", delivery.id, detail)
        updated = await EmailDelivery.filter(id=delivery.id, status=EmailStatus.QUEUED).update(
            status=EmailStatus.FAILED,
            attempts=attempts,
            last_error=reason,
            last_error_detail=detail[:ERROR_LENGTH],
            claimed_until=None,
            claimed_by=None,
        )
        if updated:
            metrics.DELIVERIES.labels("FAILED").inc()
        if updated and delivery.partner_id is not None:
            await record_activity(
                delivery.partner_id,
                ActivityVerb.EMAIL_FAILED,
                f"E-mail to {delivery.to_address} failed: {reason}",
                subject=("EmailDelivery", delivery.id),
            )


class OutcomeLog:
    """Group commit of send outcomes, overlapped with the next sends.

    Outcomes are committed GROUP_SIZE at a time (and at the end of a batch) while the
    next e-mails are being sent, so a commit (an fsync on SQLite, a round trip on
    PostgreSQL) costs a fraction of a send instead of one per e-mail. Sending pauses
    while MAX_UNRECORDED sent e-mails wait for their commit: that bounds the duplicates
    a crash can cause (they are sent again, with the same Message-ID).
    """

    def __init__(self, worker: DeliveryWorker, token: str) -> None:
        self.worker = worker
        self.token = token
        self.waiting: list[tuple[EmailDelivery, SendFailure | None]] = []
        self.writing: asyncio.Task[None] | None = None
        self.writing_count = 0

    async def add(self, delivery: EmailDelivery, failure: SendFailure | None) -> None:
        self.waiting.append((delivery, failure))
        busy = self.writing is not None and not self.writing.done()
        if busy and len(self.waiting) + self.writing_count < MAX_UNRECORDED:
            return
        if not busy and len(self.waiting) < GROUP_SIZE:
            return
        await self._finish_writing()
        group, self.waiting = self.waiting, []
        self.writing_count = len(group)
        self.writing = asyncio.create_task(self.worker.record_outcomes(group, self.token))

    async def close(self) -> None:
        """Wait until every outcome added so far is committed."""
        await self._finish_writing()
        if self.waiting:
            group, self.waiting = self.waiting, []
            await self.worker.record_outcomes(group, self.token)

    async def _finish_writing(self) -> None:
        writing, self.writing, self.writing_count = self.writing, None, 0
        if writing is not None:
            await writing  # raises if that commit failed
