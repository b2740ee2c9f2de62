"""The activity log, read: the partner's feed and each customer's timeline (newest first).

Rows are written by events/activity.py `record_activity`, inside each change's transaction.
"""

from __future__ import annotations

from models.activity import ActivityEvent
from models.customer import Customer
from resolvers.actor import Actor
from resolvers.pagination import Page, PageRequest, keyset_page
from resolvers.read_rules import ACTIVITY, scoped, selected


async def partner_activity(actor: Actor, page: PageRequest) -> Page[ActivityEvent]:
    """The signed-in partner's whole activity feed, newest first."""
    return await keyset_page(scoped(ActivityEvent, actor), ACTIVITY.order(), page)


async def customer_activity(
    actor: Actor, customer: Customer, page: PageRequest
) -> Page[ActivityEvent]:
    """One (already loaded) customer's timeline, newest first; scoped like every read, so
    another partner's customer has an empty one."""
    query = selected(ActivityEvent, actor, ACTIVITY.conditions({"customer_id": customer.id}))
    return await keyset_page(query, ACTIVITY.order(), page)


async def get_activity_event(actor: Actor, event_id: int) -> ActivityEvent | None:
    return await scoped(ActivityEvent, actor).get_or_none(id=event_id)
