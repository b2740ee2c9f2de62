"""The activity log: recorded inside each change's transaction, read as a timeline."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from models.activity import ActivityEvent, ActivityVerb
from models.customer import Customer
from resolvers.actor import Actor
from resolvers.errors import NotFound
from resolvers.pagination import Page, PageRequest, SortKey, keyset_page

NEWEST_FIRST = (SortKey("id", descending=True),)


async def record_activity(
    partner_id: int,
    verb: ActivityVerb,
    summary: str,
    *,
    actor: Actor | None = None,
    customer_id: int | None = None,
    subject: tuple[str, int] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> ActivityEvent:
    """Write one activity row; call it inside the transaction of the change it describes."""
    return await ActivityEvent.create(
        partner_id=partner_id,
        verb=verb,
        summary=summary[:500],
        actor_name=actor.display_name if actor else None,
        customer_id=customer_id,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        using_db=using_db,
    )


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
