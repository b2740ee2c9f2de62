"""The activity log: recorded inside each change's transaction, read as a timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import events
from events import Event, EventKind
from models.activity import ActivityEvent, ActivityVerb
from models.customer import Customer
from models.statements import insert_returning_id
from resolvers.actor import Actor
from resolvers.errors import NotFound
from resolvers.pagination import Page, PageRequest, SortKey, keyset_page

NEWEST_FIRST = (SortKey("id", descending=True),)
# Changes that subscriptions follow beyond the feed itself (new items, badge counts).
VERB_EVENTS = {
    ActivityVerb.INQUIRY_RECEIVED: EventKind.INQUIRY_RECEIVED,
    ActivityVerb.INQUIRY_CONVERTED: EventKind.INQUIRY_CONVERTED,
    ActivityVerb.INQUIRY_DISMISSED: EventKind.INQUIRY_DISMISSED,
    ActivityVerb.INVITATION_RECEIVED: EventKind.INVITATION_RECEIVED,
    ActivityVerb.INVITATION_CONNECTED: EventKind.INVITATION_CONNECTED,
    ActivityVerb.INVITATION_DECLINED: EventKind.INVITATION_DECLINED,
    ActivityVerb.INVITATION_WITHDRAWN: EventKind.INVITATION_WITHDRAWN,
    ActivityVerb.INVITATION_EXPIRED: EventKind.INVITATION_EXPIRED,
    ActivityVerb.ACCESS_REVOKED: EventKind.INVITATION_REVOKED,
}


async def record_activity(
    partner_id: int,
    verb: ActivityVerb,
    summary: str,
    *,
    actor: Actor | None = None,
    customer_id: int | None = None,
    subject: tuple[str, int] | None = None,
) -> int:
    """Write one activity row inside the events.transaction() of the change it describes;
    its id.

    Its events (the feed entry, and for inquiries and authorizations the change itself)
    go out when that transaction commits, and never if it rolls back. Every change writes
    one, so it is one plain INSERT (models/statements.py).
    """
    row_id = await insert_returning_id(
        ActivityEvent._meta.db_table,
        {
            "partner_id": partner_id,
            "verb": verb.value,
            "at": datetime.now(UTC),
            "actor_name": actor.display_name if actor else None,
            "summary": summary[:500],
            "customer_id": customer_id,
            "subject_type": subject[0] if subject else None,
            "subject_id": subject[1] if subject else None,
        },
    )
    events.publish_later(
        Event(
            EventKind.ACTIVITY_RECORDED, partner_id, subject_id=row_id, payload={"verb": verb.value}
        )
    )
    kind = VERB_EVENTS.get(verb)
    if kind is not None:
        events.publish_later(Event(kind, partner_id, subject_id=subject[1] if subject else None))
    return row_id


async def partner_activity(actor: Actor, page: PageRequest) -> Page[ActivityEvent]:
    """The signed-in partner's whole activity feed, newest first."""
    partner_id = actor.require_partner_id()
    return await keyset_page(ActivityEvent.filter(partner_id=partner_id), NEWEST_FIRST, page)


async def customer_activity(
    actor: Actor, customer: Customer, page: PageRequest
) -> Page[ActivityEvent]:
    """One (already loaded) customer's timeline, newest first."""
    partner_id = actor.require_partner_id()
    if customer.partner_id != partner_id:
        raise NotFound("Customer")
    query = ActivityEvent.filter(partner_id=partner_id, customer_id=customer.id)
    return await keyset_page(query, NEWEST_FIRST, page)


async def get_activity_event(actor: Actor, event_id: int) -> ActivityEvent | None:
    partner_id = actor.require_partner_id()
    return await ActivityEvent.get_or_none(id=event_id, partner_id=partner_id)
