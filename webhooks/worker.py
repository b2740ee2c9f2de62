"""The webhook worker: POSTs due deliveries, signed, at least once, one worker per delivery.

Like the e-mail worker (mailers/worker.py, whose loop it shares: events/polling.py) it claims
a batch of due rows with a lease, by a conditional UPDATE (on PostgreSQL, candidates picked
with FOR UPDATE SKIP LOCKED), so two workers never hold one delivery. While it holds them a
row is SENDING and its next_attempt_at is the end of the lease: a worker killed mid-send
leaves them to be claimed again once the lease has run out, and the deliveries it had sent
but not yet recorded go out again, with the same `webhook-id` (the delivery's global id), so
receivers can de-duplicate. `concurrency` senders send the claimed deliveries, each over its
own keep-alive connections, and the next batch is claimed before they run out.

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
import ssl
from collections import deque
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
from webhooks.outcomes import Claimed, Outcome, OutcomeLog, OutcomeRecorder
from webhooks.signing import signature_headers

log = logging.getLogger("partnerdesk.webhooks")
# httpx logs every request's URL at INFO: one line per delivery, and a URL may carry the
# receiver's own token in its query string. Our log lines name the delivery and endpoint ids.
logging.getLogger("httpx").setLevel(logging.WARNING)

BATCH_SIZE = 100
# run_once claims batch after batch while they come back full, then returns to the loop.
BATCHES_PER_RUN = 20
POLL_SECONDS = 1.0
MAX_RESPONSE_BYTES = 64 * 1024
# Sent deliveries that may wait for their commit, per sender: what a crash can send twice.
UNRECORDED_PER_SENDER = 2
USER_AGENT = "PartnerDesk-Webhooks/1.0"
# A sender's keep-alive connections (to the few endpoints a batch goes to); one is in use at a time.
CONNECTIONS_PER_SENDER = httpx.Limits(max_connections=4, max_keepalive_connections=4)


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
        self._clients: list[httpx.AsyncClient] = []
        self._ssl_context: ssl.SSLContext | None = None

    # ------------------------------------------------------------ the HTTP clients

    def _http(self, sender: int) -> httpx.AsyncClient:
        """Sender `sender`'s client. One per sender, each with its own small pool: a sender
        has one request in flight, so it never waits for a connection, and httpcore's pool,
        which hands an idle connection to every request queued in the same instant and makes
        all but one try again, never sees two requests at once (bench/WEBHOOKS.md)."""
        while len(self._clients) <= sender:
            if self._ssl_context is None:  # loading the CA bundle takes a while: once
                self._ssl_context = httpx.create_ssl_context(trust_env=False)
            self._clients.append(
                httpx.AsyncClient(
                    transport=GuardedTransport(
                        self.guard, CONNECTIONS_PER_SENDER, self._ssl_context, self._sockets
                    ),
                    timeout=httpx.Timeout(self.timeout),
                    follow_redirects=False,
                    trust_env=False,
                )
            )
        return self._clients[sender]

    async def release(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    # ------------------------------------------------------------ batches

    async def run_once(self) -> int:
        """Claim due deliveries and send them, claiming more batches as the senders drain them
        (up to BATCHES_PER_RUN); the number claimed."""
        token = self.next_batch_token()
        rows, lease_until = await self._claim(token)
        if not rows:
            return 0
        run = _Run(self, token, lease_until)
        try:
            await run.deliver(rows)
        finally:
            await self._release_unsent(token)
        return run.claimed

    async def _claim(self, token: str) -> tuple[list[Claimed], datetime]:
        """Claim up to a batch of due deliveries for `token`: the rows, and when their lease ends."""
        at = now()
        until = at + self.lease
        statuses = [status.value for status in CLAIMABLE_STATUSES]
        connection = get_connection("default")
        if connection.capabilities.dialect == "postgres":
            # SKIP LOCKED: concurrent workers pick disjoint candidates instead of waiting.
            claimed = await connection.execute_query_dict(
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
                RETURNING d.id
                """,
                [statuses, at, self.batch_size, until, token],
            )
            ids = [row["id"] for row in claimed]
        else:
            ids = list(
                await WebhookDelivery.filter(status__in=statuses, next_attempt_at__lte=at)
                .order_by("id")
                .limit(self.batch_size)
                .values_list("id", flat=True)
            )
            if ids:
                # Conditional: a row another worker claimed since the SELECT is left alone.
                await WebhookDelivery.filter(
                    id__in=ids, status__in=statuses, next_attempt_at__lte=at
                ).update(
                    status=WebhookDeliveryStatus.SENDING, next_attempt_at=until, claimed_by=token
                )
        if not ids:
            return [], until
        rows = (
            await WebhookDelivery.filter(
                id__in=ids, claimed_by=token, status=WebhookDeliveryStatus.SENDING
            )
            .order_by("id")
            .values_list("id", "endpoint_id", "payload", "attempts", "queued_at")
        )
        return [Claimed(*row) for row in rows], until

    async def _release_unsent(self, token: str) -> None:
        """Rows not sent (we are stopping, or the run failed): let any worker take them now."""
        held = WebhookDelivery.filter(claimed_by=token, status=WebhookDeliveryStatus.SENDING)
        at = now()
        await held.filter(attempts=0).update(
            status=WebhookDeliveryStatus.QUEUED, next_attempt_at=at, claimed_by=None
        )
        await held.filter(attempts__gt=0).update(
            status=WebhookDeliveryStatus.RETRYING, next_attempt_at=at, claimed_by=None
        )

    # ------------------------------------------------------------ one attempt

    async def attempt(
        self, endpoint: WebhookEndpoint, delivery: Claimed, sender: int = 0
    ) -> Outcome:
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
                status_code, reason = await self._post(
                    self._http(sender), endpoint.url, delivery.payload, headers
                )
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

    async def _post(
        self, client: httpx.AsyncClient, url: str, payload: str, headers: dict[str, str]
    ) -> tuple[int, str]:
        target = self._target(url)
        host, port = host_and_port(target)
        addresses = await self.guard.checked_addresses(host, port)
        with pinned(host, port, addresses):
            async with client.stream(
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


class _Run:
    """One run_once: `concurrency` senders drain the claimed deliveries; when no more than one
    per sender is left, one of them claims the next batch (same token), so the senders never
    wait for a batch to end or for the next claim."""

    def __init__(self, worker: WebhookWorker, token: str, lease_until: datetime) -> None:
        self.worker = worker
        self.token = token
        self.lease_until = lease_until  # the earliest lease end among the rows held
        self.claimed = 0
        self.batches = 0
        self.more = False
        self.pending: deque[Claimed] = deque()
        self.held: set[int] = set()
        self.endpoints: dict[int, WebhookEndpoint] = {}
        # Endpoints that could not be reached in this run: their other deliveries share the
        # failure rather than each waiting out a timeout of its own.
        self.unreachable: dict[int, AttemptFailure] = {}
        self.recorder = OutcomeRecorder(worker.settings, token, worker.note_next_due)
        self.outcomes = OutcomeLog(
            self.recorder.record,
            group_size=worker.concurrency,
            limit=UNRECORDED_PER_SENDER * worker.concurrency,
        )
        self.claiming = asyncio.Lock()
        self.renewing = asyncio.Lock()

    async def deliver(self, rows: list[Claimed]) -> None:
        await self._take(rows)
        try:
            async with asyncio.TaskGroup() as senders:
                for sender in range(self.worker.concurrency):
                    senders.create_task(self._sender(sender))
        finally:
            await self.outcomes.close()

    async def _take(self, rows: list[Claimed]) -> None:
        """Add claimed rows to the run, with the endpoints not loaded yet."""
        missing = {row.endpoint_id for row in rows} - set(self.endpoints)
        for endpoint in await WebhookEndpoint.filter(id__in=list(missing)) if missing else []:
            self.endpoints[endpoint.id] = endpoint
            if endpoint.failing_since is not None:
                self.recorder.failing.add(endpoint.id)
        self.pending.extend(rows)
        self.held.update(row.id for row in rows)
        self.claimed += len(rows)
        self.batches += 1
        self.more = len(rows) == self.worker.batch_size and self.batches < BATCHES_PER_RUN

    async def _next(self) -> Claimed | None:
        """The next delivery to send; None when the run is over."""
        concurrency = self.worker.concurrency
        while not self.worker.stopping:
            if self.more and len(self.pending) <= concurrency and not self.claiming.locked():
                async with self.claiming:
                    rows, lease_until = await self.worker._claim(self.token)
                    self.lease_until = min(self.lease_until, lease_until)
                    await self._take(rows)
            if self.pending:
                return self.pending.popleft()
            if not self.claiming.locked():
                return None
            async with self.claiming:  # another sender is claiming more: wait for it
                pass
        return None

    async def _sender(self, sender: int) -> None:
        worker, outcomes = self.worker, self.outcomes
        while True:
            await outcomes.wait_for_room()
            if now() >= self.lease_until - worker.lease / 2:
                await self._renew_lease()
            delivery = await self._next()
            if delivery is None:
                return
            endpoint = self.endpoints.get(delivery.endpoint_id)
            if delivery.id not in self.held or endpoint is None:
                continue  # lost to another worker, or the endpoint (and row) was deleted
            if not endpoint.enabled:
                outcomes.add(Outcome(delivery, endpoint, attempted=False))
            elif endpoint.id in self.unreachable:
                outcomes.add(Outcome(delivery, endpoint, failure=self.unreachable[endpoint.id]))
            else:
                outcome = await worker.attempt(endpoint, delivery, sender)
                if outcome.failure is not None and outcome.failure.gone:
                    endpoint.enabled = False  # as recording the outcome will make it
                elif outcome.failure is not None and outcome.failure.endpoint_wide:
                    self.unreachable[endpoint.id] = outcome.failure
                outcomes.add(outcome)

    async def _renew_lease(self) -> None:
        async with self.renewing:
            if now() < self.lease_until - self.worker.lease / 2:
                return  # another sender renewed it while we waited
            until = now() + self.worker.lease
            claimed = WebhookDelivery.filter(
                claimed_by=self.token, status=WebhookDeliveryStatus.SENDING
            )
            await claimed.update(next_attempt_at=until)
            self.lease_until = until
            # Rows whose lease ran out before this renewal may have gone to another worker.
            still_held = set(await claimed.values_list("id", flat=True))
            self.held.intersection_update(still_held)
