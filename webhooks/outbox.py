"""The webhook outbox: deliveries are rows written in the transaction of the change they report.

events/activity.py `record_activity` calls `queue_deliveries` for every change, inside the
change's events.transaction(): one QUEUED row per enabled endpoint of the partner whose
filter takes the event's type (an empty filter takes all). If the change rolls back, so do
its deliveries; once it commits, they are there, whatever happens to the process next. The
commit wakes this process's webhook workers. Ordering is not promised: each delivery is
retried on its own.

Working for the system, not for a signed-in actor, it looks endpoints up by the partner id of
the change; the reads made for actors go through resolvers/read_rules.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.functions import Count

import events
from events.polling import outbox_state, wake_workers
from models.activity import ActivityVerb
from models.customer import Customer
from models.webhook import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from telemetry.metrics import OutboxState
from webhooks.payloads import body, customer_event_data, event_data, ping_data

WORKER_KIND = "webhook worker"

# Activity verb name -> the event type of the same name. By name, so a verb added later with
# the name of an event type (CUSTOMER_ERASED) is delivered from the moment it exists.
EVENT_TYPE_OF_VERB: dict[str, WebhookEventType] = {
    verb.name: WebhookEventType[verb.name]
    for verb in ActivityVerb
    if verb.name in WebhookEventType.__members__ and verb.name != WebhookEventType.PING.name
}
SUBSCRIBABLE = tuple(
    event_type for event_type in WebhookEventType if event_type != WebhookEventType.PING
)


def has_endpoints_sql(table: str) -> str:
    """SQL true when the partner of a row of `table` (a partner_id column) has an enabled
    endpoint: added to the RETURNING of the activity INSERT, so that a change of a partner
    without webhooks costs no statement here."""
    return (
        f'EXISTS (SELECT 1 FROM "{WebhookEndpoint._meta.db_table}" AS endpoint'
        f' WHERE endpoint.partner_id = "{table}".partner_id AND endpoint.enabled)'
    )


def wake_webhook_workers() -> None:
    """Tell this process's webhook workers that deliveries were committed (call after commit)."""
    wake_workers(WORKER_KIND)


def takes(event_types: list[str], event_type: WebhookEventType) -> bool:
    """Whether an endpoint with filter `event_types` receives `event_type` (empty = all)."""
    return not event_types or event_type.value in event_types


async def queue_deliveries(
    partner_id: int,
    verb_name: str,
    *,
    at: datetime,
    subject: tuple[str, int] | None = None,
    customer_id: int | None = None,
    actor_name: str | None = None,
) -> int:
    """Queue the change `verb_name` for every matching endpoint (inside its transaction); how many."""
    event_type = EVENT_TYPE_OF_VERB.get(verb_name)
    if event_type is None:
        return 0
    targets = await _targets(partner_id, event_type)
    if not targets:
        return 0
    data = await event_data(
        event_type, subject=subject, customer_id=customer_id, actor_name=actor_name
    )
    await _insert(partner_id, targets, event_type, body(event_type, at, data), at)
    return len(targets)


async def queue_customer_deliveries(
    partner_id: int,
    verb_name: str,
    customer_ids: list[int],
    *,
    at: datetime,
    actor_name: str | None = None,
) -> int:
    """Queue one change per customer of a bulk change (a CSV import batch) for every matching
    endpoint: one read of the endpoints and one of the customers, whatever the batch size."""
    event_type = EVENT_TYPE_OF_VERB.get(verb_name)
    if event_type is None or not customer_ids:
        return 0
    targets = await _targets(partner_id, event_type)
    if not targets:
        return 0
    customers = await Customer.filter(id__in=customer_ids).order_by("id")
    events.after_commit(wake_webhook_workers)
    rows: list[WebhookDelivery] = []
    for customer in customers:
        payload = body(event_type, at, customer_event_data(customer, actor_name))
        rows.extend(
            _row(partner_id, endpoint_id, event_type, payload, at) for endpoint_id in targets
        )
    await WebhookDelivery.bulk_create(rows, batch_size=500)
    return len(rows)


async def _targets(partner_id: int, event_type: WebhookEventType) -> list[int]:
    """The partner's enabled endpoints whose filter takes `event_type`."""
    endpoints = await WebhookEndpoint.filter(partner_id=partner_id, enabled=True).values_list(
        "id", "event_types"
    )
    return [endpoint_id for endpoint_id, types in endpoints if takes(types, event_type)]


async def queue_ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A PING for one endpoint (sendTestWebhook), whatever its filter (inside a transaction)."""
    at = datetime.now(UTC)
    text = body(WebhookEventType.PING, at, ping_data(endpoint.id))
    [delivery] = await _insert(endpoint.partner_id, [endpoint.id], WebhookEventType.PING, text, at)
    return delivery


async def _insert(
    partner_id: int,
    endpoint_ids: list[int],
    event_type: WebhookEventType,
    payload: str,
    at: datetime,
) -> list[WebhookDelivery]:
    events.after_commit(wake_webhook_workers)
    rows = [_row(partner_id, endpoint_id, event_type, payload, at) for endpoint_id in endpoint_ids]
    if len(rows) == 1:
        await rows[0].save()  # sets the id, which bulk_create does not on every backend
        return rows
    await WebhookDelivery.bulk_create(rows)
    return rows


def _row(
    partner_id: int, endpoint_id: int, event_type: WebhookEventType, payload: str, at: datetime
) -> WebhookDelivery:
    return WebhookDelivery(
        partner_id=partner_id,
        endpoint_id=endpoint_id,
        event_type=event_type,
        payload=payload,
        status=WebhookDeliveryStatus.QUEUED,
        queued_at=at,
        next_attempt_at=at,
    )


async def redeliver(delivery: WebhookDelivery) -> bool:
    """Queue a delivery again, due now, with a fresh retry window; same id, same body.

    False when a worker is sending it right now (it was not changed).
    """
    now = datetime.now(UTC)
    changed = await WebhookDelivery.filter(
        id=delivery.id,
        status__in=[
            WebhookDeliveryStatus.QUEUED,
            WebhookDeliveryStatus.RETRYING,
            WebhookDeliveryStatus.DELIVERED,
            WebhookDeliveryStatus.FAILED,
        ],
    ).update(
        status=WebhookDeliveryStatus.QUEUED,
        queued_at=now,
        next_attempt_at=now,
        delivered_at=None,
        claimed_by=None,
    )
    if changed:
        events.after_commit(wake_webhook_workers)
    return bool(changed)


# ---------------------------------------------------------------- `partnerdesk webhooks status`


async def delivery_counts() -> dict[str, int]:
    """How many deliveries are in each status (every status listed, zeros included)."""
    counts = {status.value: 0 for status in WebhookDeliveryStatus}
    rows = (
        await WebhookDelivery.annotate(count=Count("id"))
        .group_by("status")
        .values("status", "count")
    )
    for row in rows:
        counts[str(row["status"])] = row["count"]
    return counts


async def webhook_outbox_state() -> OutboxState:
    """How many deliveries wait (QUEUED or RETRYING) and the age of the oldest, for /metrics."""
    waiting = (WebhookDeliveryStatus.QUEUED, WebhookDeliveryStatus.RETRYING)
    return await outbox_state("webhook_delivery", waiting)


async def recent_failures(limit: int = 10) -> list[WebhookDelivery]:
    """The last FAILED deliveries, newest first, with their endpoints."""
    return (
        await WebhookDelivery.filter(status=WebhookDeliveryStatus.FAILED)
        .order_by("-id")
        .limit(limit)
        .prefetch_related("endpoint")
    )
