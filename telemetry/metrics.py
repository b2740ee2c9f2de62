"""The Prometheus metrics (prometheus-client), in one registry, and what fills them at scrape time.

Counters and histograms are updated as things happen, per process. The outbox and the
database pool are read when /metrics is scraped (`collect_at_scrape`), with a cheap query
per outbox kind, so every instance reports the same queue whichever process delivers it.
Label values are bounded: operation names through `OperationNames`, error codes and limits
are the server's own.

Under `partnerdesk serve --workers N` (server_processes.py sets PROMETHEUS_MULTIPROC_DIR
before the workers import this) every metric is written to that directory, and a scrape,
whichever worker answers it, reports the sum over the workers: counters and histograms
added up, gauges of live processes added up (the outbox ones: the latest reading), and no
process_* metrics (they would describe only the worker that answered).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

# Decided once, as prometheus_client decides where values live when it is imported.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# How often each of several server processes records its pool in the shared gauges.
POOL_GAUGE_SECONDS = 5.0

REGISTRY = CollectorRegistry(auto_describe=True)
if not MULTIPROCESS:
    ProcessCollector(registry=REGISTRY)  # CPU, memory, open files of this process

# Compiled reads answer in about a millisecond: the buckets start below that.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OPERATIONS = Counter(
    "partnerdesk_graphql_operations",
    "GraphQL operations by operation name (bounded, see README) and outcome: ok, error "
    "(top-level errors such as UNAUTHENTICATED), refused (parse, validation, limits, unknown "
    "persisted document), fault (an internal server error).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "partnerdesk_graphql_operation_duration_seconds",
    "Time from receiving a query or mutation to its result, by operation type.",
    ["type"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter(
    "partnerdesk_graphql_errors",
    "Top-level GraphQL errors by extensions.code.",
    ["code"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "partnerdesk_rate_limit_refusals",
    "Calls refused by a rate limit, by limit.",
    ["limit"],
    registry=REGISTRY,
)
WEBSOCKETS = Gauge(
    "partnerdesk_websockets_open",
    "Open graphql-transport-ws connections.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "partnerdesk_subscriptions_active",
    "Running subscription operations.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
OUTBOX_DEPTH = Gauge(
    "partnerdesk_outbox_queued",
    "Items waiting in an outbox (QUEUED), by kind; read from the database at scrape time.",
    ["kind"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
OUTBOX_AGE = Gauge(
    "partnerdesk_outbox_oldest_age_seconds",
    "Age of the oldest queued item of an outbox, by kind (0 when empty); at scrape time.",
    ["kind"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
DELIVERIES = Counter(
    "partnerdesk_email_deliveries",
    "E-mails that reached a final status in this process: SENT or FAILED.",
    ["status"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "partnerdesk_webhook_deliveries",
    "Webhook deliveries that reached a final status in this process: DELIVERED or FAILED.",
    ["status"],
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "partnerdesk_db_pool_connections_in_use",
    "Database connections handed out right now (SQLite: its one connection, busy or not).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "partnerdesk_db_pool_connections",
    "Database connections open in the pool.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


@dataclass(frozen=True)
class OutboxState:
    queued: int
    oldest_age_seconds: float


# kind -> how to read that outbox's state (endpoints.py registers "email"; webhooks add theirs).
OutboxProbe = Callable[[], Awaitable[OutboxState]]


async def collect_at_scrape(
    outboxes: dict[str, OutboxProbe], pool_usage: Callable[[], tuple[int, int]]
) -> None:
    """Read the gauges that live in the database (outboxes) and the pool, just before a scrape."""
    for kind, probe in outboxes.items():
        state = await probe()
        OUTBOX_DEPTH.labels(kind).set(state.queued)
        OUTBOX_AGE.labels(kind).set(state.oldest_age_seconds)
    _record_pool(pool_usage)


def _record_pool(pool_usage: Callable[[], tuple[int, int]]) -> None:
    in_use, size = pool_usage()
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_SIZE.set(size)


async def record_pool_periodically(pool_usage: Callable[[], tuple[int, int]]) -> None:
    """With several server processes, this one's pool in the shared gauges every few seconds
    (a scrape reads the pool of the process that answers it only); until cancelled."""
    while True:
        _record_pool(pool_usage)
        await asyncio.sleep(POOL_GAUGE_SECONDS)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every metric (summed over the server processes when
    there are several), and its content type."""
    if MULTIPROCESS:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class OperationNames:
    """The `operation` label: the first `capacity` distinct operation names seen in valid
    documents keep their own; later ones are "other", unnamed operations "anonymous".

    A client can send any number of names, but never more than `capacity` label values.
    Trusted documents' names (PARTNERDESK_TRUSTED_DOCUMENTS) are registered first.
    """

    ANONYMOUS = "anonymous"
    OTHER = "other"

    def __init__(self, capacity: int = 200) -> None:
        self.capacity = capacity
        self.known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if not name:
            return self.ANONYMOUS
        if name in self.known:
            return name
        with self._lock:
            if len(self.known) < self.capacity:
                self.known.add(name)
                return name
        return self.OTHER
