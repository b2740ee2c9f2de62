"""What an attempt's outcome changes: the delivery row, its endpoint's health, maybe the endpoint.

Outcomes are committed in groups while the next deliveries are being sent (`OutcomeLog`), so a
commit costs a fraction of a send instead of one each; sending pauses while `limit` sent
deliveries wait for their commit, which bounds what a crash can send twice (with the same
`webhook-id`, so receivers recognise it).

Every update is conditional on the worker's claim (`claimed_by` = its batch token and status
SENDING): a worker whose lease ran out and whose rows another worker took changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.connection import get_connection

import events
from config import Settings
from events.polling import backoff_seconds, now
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from telemetry import metrics
from webhooks.endpoints import DISABLED, disable_failing_endpoint, failing_for, span
from webhooks.failures import AttemptFailure

log = logging.getLogger("partnerdesk.webhooks")

ERROR_DETAIL_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed delivery: what sending it and recording the outcome need (read as plain
    values: building model objects was a measurable part of the worker's time)."""

    id: int
    endpoint_id: int
    payload: str
    attempts: int
    queued_at: datetime


@dataclass(frozen=True)
class Outcome:
    """How one claimed delivery ended this time: delivered (`failure` None), failed, or not
    attempted because its endpoint is disabled (`attempted` False)."""

    delivery: Claimed
    endpoint: WebhookEndpoint
    status_code: int | None = None
    failure: AttemptFailure | None = None
    attempted: bool = True


class OutcomeRecorder:
    """Commits groups of outcomes for one worker's batch (token)."""

    def __init__(self, settings: Settings, token: str, note_next_due: Callable[[datetime], None]):
        self.settings = settings
        self.token = token
        self.max_age = timedelta(hours=settings.webhook_max_age_hours)
        self.note_next_due = note_next_due
        # Endpoints known to be failing (failing_since set): a success must clear it.
        self.failing: set[int] = set()

    def held(self, *ids: int) -> dict[str, object]:
        """The filter that matches our claimed rows only."""
        return {
            "id__in": list(ids),
            "claimed_by": self.token,
            "status": WebhookDeliveryStatus.SENDING,
        }

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Commit the outcomes of several deliveries together."""
        at = now()
        delivered: list[Outcome] = []
        others: list[Outcome] = []
        for outcome in outcomes:
            (delivered if outcome.failure is None and outcome.attempted else others).append(outcome)
        recovered = {outcome.endpoint.id for outcome in delivered} & self.failing
        if not others and not recovered:
            marked = await self._mark_delivered(delivered, at)  # one statement: atomic by itself
            metrics.WEBHOOK_DELIVERIES.labels("DELIVERED").inc(marked)
            return
        # events.transaction(): a disabled endpoint's e-mail and feed event go out after commit.
        async with events.transaction():
            marked = await self._mark_delivered(delivered, at)
            if recovered:
                await WebhookEndpoint.filter(id__in=list(recovered)).update(failing_since=None)
                self.failing -= recovered
            failed = [await self._record_failure(outcome, at) for outcome in others]
            await self._check_endpoints(others, at)
        metrics.WEBHOOK_DELIVERIES.labels("DELIVERED").inc(marked)
        metrics.WEBHOOK_DELIVERIES.labels("FAILED").inc(sum(failed))

    async def _mark_delivered(self, delivered: Sequence[Outcome], at: datetime) -> int:
        """Mark the deliveries DELIVERED (those this worker still holds); how many."""
        # The hot path: one plain statement per group and status code (cf. models/statements.py);
        # building it with Tortoise costs five times the CPU.
        by_code: dict[int | None, list[int]] = {}
        for outcome in delivered:
            by_code.setdefault(outcome.status_code, []).append(outcome.delivery.id)
        connection = get_connection("default")
        postgres = connection.capabilities.dialect == "postgres"
        marked = 0
        for code, ids in by_code.items():
            values: list[object] = [code, at, self.token, *ids]
            marks = (
                [f"${n}" for n in range(1, len(values) + 1)] if postgres else ["?"] * len(values)
            )
            changed, _rows = await connection.execute_query(
                "UPDATE webhook_delivery SET status = 'DELIVERED', attempts = attempts + 1,"
                f" last_status_code = {marks[0]}, delivered_at = {marks[1]},"
                " next_attempt_at = NULL, claimed_by = NULL"
                f" WHERE claimed_by = {marks[2]} AND status = 'SENDING'"
                f" AND id IN ({', '.join(marks[3:])})",
                values,
            )
            marked += changed
        return marked

    async def _record_failure(self, outcome: Outcome, at: datetime) -> int:
        """Record a failed attempt: RETRYING, or FAILED for good; 1 if it became FAILED."""
        delivery = outcome.delivery
        if not outcome.attempted:
            return await WebhookDelivery.filter(**self.held(delivery.id)).update(
                status=WebhookDeliveryStatus.FAILED,
                last_error=DISABLED,
                next_attempt_at=None,
                claimed_by=None,
            )
        failure = outcome.failure
        assert failure is not None
        attempts = delivery.attempts + 1
        detail = failure.detail[:ERROR_DETAIL_LENGTH]
        too_old = at - delivery.queued_at >= self.max_age
        if not failure.gone and not too_old:
            next_attempt = at + timedelta(
                seconds=backoff_seconds(attempts, self.settings.webhook_retry_base_seconds)
            )
            await WebhookDelivery.filter(**self.held(delivery.id)).update(
                status=WebhookDeliveryStatus.RETRYING,
                attempts=attempts,
                last_status_code=failure.status_code,
                last_error=failure.public_text("retrying")[:200],
                last_error_detail=detail,
                next_attempt_at=next_attempt,
                claimed_by=None,
            )
            self.note_next_due(next_attempt)
            log.info(
                "webhook delivery %s (endpoint %s): attempt %s failed, retrying: %s",
                delivery.id,
                outcome.endpoint.id,
                attempts,
                detail,
            )
            return 0
        if failure.gone:
            reason = failure.public_text("endpoint disabled")
        else:
            reason = failure.public_text(f"gave up after {span(self.max_age_hours)}")
        failed = await WebhookDelivery.filter(**self.held(delivery.id)).update(
            status=WebhookDeliveryStatus.FAILED,
            attempts=attempts,
            last_status_code=failure.status_code,
            last_error=reason[:200],
            last_error_detail=detail,
            next_attempt_at=None,
            claimed_by=None,
        )
        log.warning(
            "webhook delivery %s (endpoint %s) FAILED after %s attempt(s): %s",
            delivery.id,
            outcome.endpoint.id,
            attempts,
            detail,
        )
        return failed

    @property
    def max_age_hours(self) -> float:
        return self.settings.webhook_max_age_hours

    async def _check_endpoints(self, failed: Sequence[Outcome], at: datetime) -> None:
        """Note which endpoints fail, and disable those that answered 410 or failed too long."""
        failures: dict[int, list[AttemptFailure]] = {}
        endpoints: dict[int, WebhookEndpoint] = {}
        for outcome in failed:
            if outcome.attempted and outcome.failure is not None:
                failures.setdefault(outcome.endpoint.id, []).append(outcome.failure)
                endpoints[outcome.endpoint.id] = outcome.endpoint
        for endpoint_id, endpoint_failures in failures.items():
            endpoint = endpoints[endpoint_id]
            gone = [failure for failure in endpoint_failures if failure.gone]
            if gone:
                await disable_failing_endpoint(endpoint, gone[0].reason)
                continue
            if endpoint_id not in self.failing:
                await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=True).update(
                    failing_since=at
                )
                self.failing.add(endpoint_id)
            if at - (endpoint.failing_since or at) >= self.max_age:
                await disable_failing_endpoint(endpoint, failing_for(self.max_age_hours))


class OutcomeLog:
    """Group commit of outcomes, overlapped with the next sends, for concurrent senders.

    Outcomes gather until `group_size` wait (or a sender needs room, or the batch closes); then
    a writer commits them in one transaction, and keeps committing while full groups are
    waiting, as the senders go on sending. Senders call `wait_for_room` before each send, which
    waits while `limit` outcomes await their commit: a crash sends at most that many (plus
    those in flight) twice. A failed commit is raised to the next caller (the batch then
    fails; its rows are retried after their lease).
    """

    def __init__(
        self, record: Callable[[list[Outcome]], Awaitable[None]], group_size: int, limit: int
    ) -> None:
        self._record = record
        self._group_size = group_size
        self._limit = max(limit, group_size)
        self._waiting: list[Outcome] = []
        self._writing = 0
        self._writer: asyncio.Task[None] | None = None
        self._committed = asyncio.Event()

    @property
    def unrecorded(self) -> int:
        return len(self._waiting) + self._writing

    def _raise_if_failed(self) -> None:
        writer = self._writer
        if writer is not None and writer.done() and not writer.cancelled():
            error = writer.exception()
            if error is not None:
                raise error

    def _start_writing(self) -> None:
        self._raise_if_failed()
        if self._waiting and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write())

    async def wait_for_room(self) -> None:
        while self.unrecorded >= self._limit:
            self._start_writing()  # a full log is committed, whatever its groups
            self._committed.clear()
            await self._committed.wait()
        self._raise_if_failed()

    def add(self, outcome: Outcome) -> None:
        self._raise_if_failed()
        self._waiting.append(outcome)
        if len(self._waiting) >= self._group_size:
            self._start_writing()

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                self._writing = len(group)
                await self._record(group)
                self._writing = 0
                self._committed.set()
                if len(self._waiting) < self._group_size:
                    return  # the rest waits for company, or for close()
        finally:
            self._writing = 0
            self._committed.set()  # waiters re-check, and see a failure

    async def close(self) -> None:
        """Wait until every outcome added so far is committed (raises if a commit failed)."""
        while True:
            if self._writer is not None:
                await self._writer
            if not self._waiting:
                return
            self._writer = asyncio.create_task(self._write())
