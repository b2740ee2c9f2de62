"""The webhook worker: POSTs due deliveries, signed, at least once, one worker per delivery.

Like the e-mail worker (mailers/worker.py, whose loop it shares: events/polling.py) it claims
a batch of due rows with a lease, by a conditional UPDATE (on PostgreSQL, candidates picked
with FOR UPDATE SKIP LOCKED), so two workers never hold one delivery. While it holds them a
row is SENDING and its next_attempt_at is the end of the lease: a worker killed mid-send
leaves them to be claimed again once the lease has run out, and the deliveries it had sent
but not yet recorded go out again, with the same `webhook-id` (the delivery's global id), so
receivers can de-duplicate. A batch is sent by `concurrency` senders over one connection pool.

Each attempt: sign anew (webhooks/signing.py), resolve and check the host (webhooks/addresses.py,
no private networks), POST with a deadline of PARTNERDESK_WEBHOOK_TIMEOUT_SECONDS for the
whole attempt, never follow a redirect, read at most 64 KiB of the answer. 2xx: DELIVERED.
410: the endpoint is disabled. Anything else, a timeout or a connection error: RETRYING, with
full-jitter exponential backoff (PARTNERDESK_WEBHOOK_RETRY_BASE_SECONDS), until the delivery
has been retried for PARTNERDESK_WEBHOOK_MAX_AGE_HOURS, then FAILED (webhooks/outcomes.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpcore
import httpx
from tortoise.connection import get_connection

from config import Settings
from events.polling import PollingWorker, now
from models.global_ids import global_id
from models.webhook import (
    CLAIMABLE_STATUSES,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from webhooks.addresses import (
    AddressGuard,
    BlockedAddress,
    GuardedTransport,
    Resolver,
    UrlPolicy,
    host_and_port,
    pinned,
)
from webhooks.failures import AttemptFailure, answered, classify
from webhooks.outbox import WORKER_KIND
from webhooks.outcomes import Outcome, OutcomeLog, OutcomeRecorder
from webhooks.signing import signature_headers

log = logging.getLogger("partnerdesk.webhooks")
# httpx logs every request's URL at INFO: one line per delivery, and a URL may carry the
# receiver's own token in its query string. Our log lines name the delivery and endpoint ids.
logging.getLogger("httpx").setLevel(logging.WARNING)

BATCH_SIZE = 100
POLL_SECONDS = 1.0
MAX_RESPONSE_BYTES = 64 * 1024
# Sent deliveries that may wait for their commit, per sender: what a crash can send twice.
UNRECORDED_PER_SENDER = 2
USER_AGENT = "PartnerDesk-Webhooks/1.0"


def signing_secrets(endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The endpoint's secret, and the one it rotated out while that still signs."""
    secrets = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > at:
        secrets.append(endpoint.previous_secret)
    return secrets


class WebhookWorker(PollingWorker):
    """Claims due deliveries in batches and sends each batch with `concurrency` senders."""

    kind = WORKER_KIND
    log = log

    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
        worker_id: str | None = None,
        concurrency: int | None = None,
        resolver: Resolver | None = None,
        sockets: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """`resolver` and `sockets` replace the system's resolver and socket layer (in tests)."""
        super().__init__(
            batch_size=batch_size,
            poll_seconds=poll_seconds,
            worker_id=worker_id,
            stop_grace=settings.webhook_timeout_seconds + 10,
        )
        self.settings = settings
        self.timeout = settings.webhook_timeout_seconds
        self.concurrency = concurrency or settings.webhook_concurrency
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        self.guard = AddressGuard(settings.webhook_allow_private, resolver)
        self.policy = UrlPolicy.of(settings)
        self._sockets = sockets
        self._targets: dict[str, httpx.URL] = {}
        self._client: httpx.AsyncClient | None = None
        self._lease_until = now()
        self._renewing = asyncio.Lock()

    # ------------------------------------------------------------ the HTTP client

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            )
            self._client = httpx.AsyncClient(
                transport=GuardedTransport(self.guard, limits, self._sockets),
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def release(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------ one batch

    async def run_once(self) -> int:
        """Claim and send one batch of due deliveries; the number claimed."""
        token = self.next_batch_token()
        rows = await self._claim(token)
        if not rows:
            return 0
        try:
            await self._deliver(rows, token)
        finally:
            await self._release_unsent(token)
        return len(rows)

    async def _claim(self, token: str) -> list[WebhookDelivery]:
        at = now()
        until = at + self.lease
        statuses = [status.value for status in CLAIMABLE_STATUSES]
        connection = get_connection("default")
        if connection.capabilities.dialect == "postgres":
            # SKIP LOCKED: concurrent workers pick disjoint candidates instead of waiting.
            await connection.execute_query(
                """
                WITH picked AS MATERIALIZED (
                    SELECT id FROM webhook_delivery
                    WHERE status = ANY($1::varchar[]) AND next_attempt_at <= $2
                    ORDER BY id
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE webhook_delivery AS d
                SET status = 'SENDING', next_attempt_at = $4, claimed_by = $5
                FROM picked
                WHERE d.id = picked.id
                  AND d.status = ANY($1::varchar[]) AND d.next_attempt_at <= $2
                """,
                [statuses, at, self.batch_size, until, token],
            )
        else:
            candidates = (
                await WebhookDelivery.filter(status__in=statuses, next_attempt_at__lte=at)
                .order_by("id")
                .limit(self.batch_size)
                .values_list("id", flat=True)
            )
            if not candidates:
                return []
            # Conditional: a row another worker claimed since the SELECT is left alone.
            await WebhookDelivery.filter(
                id__in=list(candidates), status__in=statuses, next_attempt_at__lte=at
            ).update(status=WebhookDeliveryStatus.SENDING, next_attempt_at=until, claimed_by=token)
        self._lease_until = until
        return await WebhookDelivery.filter(
            claimed_by=token, status=WebhookDeliveryStatus.SENDING
        ).order_by("id")

    async def _release_unsent(self, token: str) -> None:
        """Rows not sent (we are stopping, or the batch failed): let any worker take them now."""
        held = WebhookDelivery.filter(claimed_by=token, status=WebhookDeliveryStatus.SENDING)
        at = now()
        await held.filter(attempts=0).update(
            status=WebhookDeliveryStatus.QUEUED, next_attempt_at=at, claimed_by=None
        )
        await held.filter(attempts__gt=0).update(
            status=WebhookDeliveryStatus.RETRYING, next_attempt_at=at, claimed_by=None
        )

    async def _deliver(self, rows: Sequence[WebhookDelivery], token: str) -> None:
        endpoint_ids = {row.endpoint_id for row in rows}
        endpoints = {
            endpoint.id: endpoint
            for endpoint in await WebhookEndpoint.filter(id__in=list(endpoint_ids))
        }
        recorder = OutcomeRecorder(self.settings, token, self.note_next_due)
        recorder.failing = {e.id for e in endpoints.values() if e.failing_since is not None}
        outcomes = OutcomeLog(
            recorder.record,
            group_size=self.concurrency,
            limit=UNRECORDED_PER_SENDER * self.concurrency,
        )
        pending = deque(rows)
        held = {row.id for row in rows}
        # Endpoints that could not be reached in this batch: their other deliveries share the
        # failure rather than each waiting out a timeout of its own.
        unreachable: dict[int, AttemptFailure] = {}

        async def sender() -> None:
            while pending and not self.stopping:
                await outcomes.wait_for_room()
                if now() >= self._lease_until - self.lease / 2:
                    await self._renew_lease(token, held)
                if not pending:
                    return
                delivery = pending.popleft()
                endpoint = endpoints.get(delivery.endpoint_id)
                if delivery.id not in held or endpoint is None:
                    continue  # lost to another worker, or the endpoint (and row) was deleted
                if not endpoint.enabled:
                    outcomes.add(Outcome(delivery, endpoint, attempted=False))
                elif endpoint.id in unreachable:
                    outcomes.add(Outcome(delivery, endpoint, failure=unreachable[endpoint.id]))
                else:
                    outcome = await self.attempt(endpoint, delivery)
                    if outcome.failure is not None and outcome.failure.gone:
                        endpoint.enabled = False  # as recording the outcome will make it
                    elif outcome.failure is not None and outcome.failure.endpoint_wide:
                        unreachable[endpoint.id] = outcome.failure
                    outcomes.add(outcome)

        try:
            async with asyncio.TaskGroup() as senders:
                for _ in range(min(self.concurrency, len(rows))):
                    senders.create_task(sender())
        finally:
            await outcomes.close()

    async def _renew_lease(self, token: str, held: set[int]) -> None:
        async with self._renewing:
            if now() < self._lease_until - self.lease / 2:
                return  # another sender renewed it while we waited
            until = now() + self.lease
            claimed = WebhookDelivery.filter(claimed_by=token, status=WebhookDeliveryStatus.SENDING)
            await claimed.update(next_attempt_at=until)
            self._lease_until = until
            # Rows whose lease ran out before this renewal may have gone to another worker.
            still_held = set(await claimed.values_list("id", flat=True))
            held.intersection_update(still_held)

    # ------------------------------------------------------------ one attempt

    async def attempt(self, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Outcome:
        """POST one delivery to its endpoint once; never raises for what the network does."""
        at = now()
        headers = signature_headers(
            global_id("WebhookDelivery", delivery.id),
            at,
            delivery.payload,
            signing_secrets(endpoint, at),
        )
        headers["content-type"] = "application/json"
        headers["user-agent"] = USER_AGENT
        try:
            async with asyncio.timeout(self.timeout):
                status_code, reason = await self._post(endpoint.url, delivery.payload, headers)
        except Exception as error:
            failure = classify(error, self.timeout)
            if not isinstance(
                error, httpx.TransportError | OSError | TimeoutError | BlockedAddress
            ):
                log.exception("webhook delivery %s: unexpected error", delivery.id)
            return Outcome(delivery, endpoint, failure=failure)
        if 200 <= status_code < 300:
            return Outcome(delivery, endpoint, status_code=status_code)
        return Outcome(delivery, endpoint, failure=answered(status_code, reason))

    def _target(self, url: str) -> httpx.URL:
        """The parsed URL, if the policy still allows it (it was allowed when saved, but the
        settings may have changed since). Kept per URL: a batch posts to few of them."""
        target = self._targets.get(url)
        if target is None:
            if self.policy.problem(url) is not None:
                raise BlockedAddress("the URL", "not allowed any more")
            if len(self._targets) >= 1024:
                self._targets.clear()
            target = self._targets[url] = httpx.URL(url)
        return target

    async def _post(self, url: str, payload: str, headers: dict[str, str]) -> tuple[int, str]:
        target = self._target(url)
        host, port = host_and_port(target)
        addresses = await self.guard.checked_addresses(host, port)
        with pinned(host, port, addresses):
            async with self._http().stream(
                "POST", target, content=payload.encode(), headers=headers
            ) as response:
                await _read_at_most(response, MAX_RESPONSE_BYTES)
                return response.status_code, response.reason_phrase


async def _read_at_most(response: httpx.Response, limit: int) -> None:
    """Read (and drop) the answer, up to `limit` bytes as they come over the wire."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received >= limit:
            return
