"""The activity log: one row per change, written in the change's transaction, and its events.

Every change a partner can see writes one activity row inside the events.transaction() of
the change itself. The row's feed event (`activity.recorded`) and, for the changes that
subscriptions follow (inquiries, access authorizations), the change's own event go out when
that transaction commits, and never if it rolls back.

It lives here, below resolvers/ and mailers/, because both record changes: the resolvers
their flows, the mail worker the e-mails it sent or gave up on. Every change that is a
webhook event type also queues its deliveries here (webhooks/outbox.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from events.event import Event, EventKind
from events.publishing import publish_later
from models.activity import ActivityEvent, ActivityVerb
from models.statements import insert_rows
from webhooks.outbox import has_endpoints_sql, queue_customer_deliveries, queue_deliveries

# The event of each verb that names a change subscriptions follow (badges, new items): the
# kind of the same name, so a change has one name from its row to its event.
EVENT_OF_VERB: dict[ActivityVerb, EventKind] = {
    verb: EventKind[verb.name] for verb in ActivityVerb if verb.name in EventKind.__members__
}


class Doer(Protocol):
    """Whoever made the change; the row keeps their name (a later rename changes nothing)."""

    @property
    def display_name(self) -> str | None: ...


@dataclass(frozen=True)
class Entry:
    """One change for the activity log: its verb, summary, customer and subject."""

    verb: ActivityVerb
    summary: str
    customer_id: int | None = None
    subject: tuple[str, int] | None = None


async def record_activity(
    partner_id: int,
    verb: ActivityVerb,
    summary: str,
    *,
    actor: Doer | None = None,
    customer_id: int | None = None,
    subject: tuple[str, int] | None = None,
) -> int:
    """Write one activity row inside the events.transaction() of the change it describes; its id."""
    [row_id] = await record_entries(
        partner_id, [Entry(verb, summary, customer_id, subject)], actor=actor
    )
    return row_id


async def record_entries(
    partner_id: int, entries: Sequence[Entry], *, actor: Doer | None = None
) -> list[int]:
    """Write the activity rows of one change (a conversion writes two) inside its
    events.transaction(), in one INSERT; their ids, in order.

    Each row's events go out after commit, and each row that is a webhook event type
    queues its deliveries in the same transaction (webhooks/outbox.py). Whether the partner
    has any enabled endpoint comes back with the INSERT, so a partner without webhooks
    pays no extra statement.
    """
    at = datetime.now(UTC)
    actor_name = actor.display_name if actor else None
    rows = await insert_rows(
        ActivityEvent._meta.db_table,
        [
            {
                "partner_id": partner_id,
                "verb": entry.verb.value,
                "at": at,
                "actor_name": actor_name,
                "summary": entry.summary[:500],
                "customer_id": entry.customer_id,
                "subject_type": entry.subject[0] if entry.subject else None,
                "subject_id": entry.subject[1] if entry.subject else None,
            }
            for entry in entries
        ],
        returning=("id",),
        returning_sql=(has_endpoints_sql(ActivityEvent._meta.db_table) + " AS has_webhooks",),
    )
    # One statement hands out ascending ids in the order of its rows.
    row_ids = sorted(int(row["id"]) for row in rows)
    has_webhooks = any(row["has_webhooks"] for row in rows)
    for entry, row_id in zip(entries, row_ids, strict=True):
        publish_later(
            Event(
                EventKind.ACTIVITY_RECORDED,
                partner_id,
                subject_id=row_id,
                payload={"verb": entry.verb.value},
            )
        )
        kind = EVENT_OF_VERB.get(entry.verb)
        if kind is not None:
            subject_id = entry.subject[1] if entry.subject else None
            publish_later(Event(kind, partner_id, subject_id=subject_id))
        if has_webhooks:
            await queue_deliveries(
                partner_id,
                entry.verb.name,
                at=at,
                subject=entry.subject,
                customer_id=entry.customer_id,
                actor_name=actor_name,
            )
    return row_ids


# Rows per INSERT of `record_activities`: 8 columns each, under both databases' parameter limit.
_ACTIVITY_ROWS_PER_INSERT = 1000


async def record_activities(
    partner_id: int,
    verb: ActivityVerb,
    entries: list[tuple[str, int | None, tuple[str, int] | None]],
    *,
    actor: Doer | None = None,
) -> None:
    """Write many activity rows of one bulk change (a CSV import) without an event each:
    (summary, customer id, subject) per row. The change's own summary row, written with
    `record_activity`, carries the one event subscribers get; webhook endpoints get one
    delivery per customer changed, as they would from one change at a time."""
    now = datetime.now(UTC)
    rows = [
        {
            "partner_id": partner_id,
            "verb": verb.value,
            "at": now,
            "actor_name": actor.display_name if actor else None,
            "summary": summary[:500],
            "customer_id": customer_id,
            "subject_type": subject[0] if subject else None,
            "subject_id": subject[1] if subject else None,
        }
        for summary, customer_id, subject in entries
    ]
    for start in range(0, len(rows), _ACTIVITY_ROWS_PER_INSERT):
        await insert_rows(
            ActivityEvent._meta.db_table, rows[start : start + _ACTIVITY_ROWS_PER_INSERT]
        )
    # Webhook endpoints get each customer's change, as they would from one change at a time.
    customer_ids = [subject[1] for _, _, subject in entries if subject and subject[0] == "Customer"]
    await queue_customer_deliveries(
        partner_id,
        verb.name,
        customer_ids,
        at=now,
        actor_name=actor.display_name if actor else None,
    )
