"""Subscriptions: live counts, new inquiries and authorizations, and the activity feed.

Each follows the partner's event stream (events/) and answers every event with a fresh
read: a new set of DataLoaders per event (the websocket context lives as long as the
connection, and loaders kept that long would serve stale rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import partial
from typing import Any, Generic, TypeVar

import strawberry

from events import EventKind, get_broker
from models.activity import ActivityEvent as ActivityEventModel
from models.inquiry import Inquiry as InquiryModel
from models.invitation import AccessInvitation as AccessInvitationModel
from resolvers import activity, inquiries, invitations, partners, read_rules
from resolvers.actor import Actor
from schema.activity import ActivityEvent
from schema.context import Info, Loaders
from schema.inquiries import Inquiry
from schema.invitations import AccessInvitation

log = logging.getLogger("partnerdesk.subscriptions")

# Every change of either count is one of these (resolvers publish them after commit).
COUNT_EVENTS = frozenset(
    {
        EventKind.INQUIRY_RECEIVED,
        EventKind.INQUIRY_CONVERTED,
        EventKind.INQUIRY_DISMISSED,
        EventKind.INVITATION_RECEIVED,
        EventKind.INVITATION_CONNECTED,
        EventKind.INVITATION_DECLINED,
        EventKind.INVITATION_WITHDRAWN,
        EventKind.ACCESS_REVOKED,
        EventKind.INVITATION_EXPIRED,
    }
)


T = TypeVar("T")


class SharedReads:
    """One database read per (event, what is read), however many subscribers need it.

    Every subscriber of a partner receives the same event and would otherwise repeat the
    same read: a thousand dashboards would mean a thousand identical queries per change.
    Reads are partner-scoped and subscribers of one event belong to one partner, so the
    result is the same for all of them.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.reads: OrderedDict[tuple[Any, ...], asyncio.Future[Any]] = OrderedDict()

    async def get(self, key: tuple[Any, ...], read: Callable[[], Awaitable[T]]) -> T:
        future = self.reads.get(key)
        if future is None:
            future = asyncio.ensure_future(read())
            self.reads[key] = future
            while len(self.reads) > self.size:
                self.reads.popitem(last=False)
        return await asyncio.shield(future)


shared_reads = SharedReads()


@strawberry.type(description="The badges: pending access authorizations and NEW inquiries.")
class PendingCounts:
    invitations: int = strawberry.field(
        description="Pending, unexpired access authorizations, as pendingInvitationCount."
    )
    inquiries: int = strawberry.field(description="NEW inquiries, as Partner.newInquiryCount.")


async def _counts(info: Info) -> PendingCounts:
    actor = info.context.actor
    return PendingCounts(
        invitations=await invitations.pending_invitation_count(actor),
        inquiries=await inquiries.new_inquiry_count(actor),
    )


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(
        description="The current counts at once, then again whenever either changes (partner scoped)."
    )
    async def pending_counts(self, info: Info) -> AsyncGenerator[PendingCounts, None]:
        partner_id = partners.own_partner_id(info.context.actor)
        # Subscribe before the first read, so no change can fall between the two.
        async with get_broker().subscribe(partner_id) as stream:
            last = await _counts(info)
            yield last
            async for event in stream:
                if event.is_notice or event.kind in COUNT_EVENTS:
                    current = await shared_reads.get((event.id, "counts"), lambda: _counts(info))
                    if current != last:
                        last = current
                        yield current

    @strawberry.subscription(description="Each access authorization sent to the partner, once.")
    async def invitation_received(self, info: Info) -> AsyncGenerator[AccessInvitation, None]:
        feed = _Feed(
            EventKind.INVITATION_RECEIVED, AccessInvitationModel, invitations.get_invitation
        )
        async for found in feed.follow(info):
            yield AccessInvitation.from_model(found)

    @strawberry.subscription(description="Each inquiry sent to the partner, once.")
    async def inquiry_received(self, info: Info) -> AsyncGenerator[Inquiry, None]:
        feed = _Feed(EventKind.INQUIRY_RECEIVED, InquiryModel, inquiries.get_inquiry)
        async for found in feed.follow(info):
            yield Inquiry.from_model(found)

    @strawberry.subscription(description="The partner's live activity feed, one event per change.")
    async def activity(self, info: Info) -> AsyncGenerator[ActivityEvent, None]:
        feed = _Feed(EventKind.ACTIVITY_RECORDED, ActivityEventModel, activity.get_activity_event)
        async for found in feed.follow(info):
            yield ActivityEvent.from_model(found)


class _Feed(Generic[T]):
    """The rows that events of `kind` name, each read once per event and still visible.

    Events can be lost (a slow subscriber, a Redis outage); the broker then sends a notice,
    and the feed sends the rows newer than the last one it sent instead, so a dashboard
    misses nothing (up to read_rules.CATCH_UP_ROWS at a time).
    """

    def __init__(
        self, kind: EventKind, model: type[Any], read: Callable[[Actor, int], Awaitable[T | None]]
    ) -> None:
        self.kind = kind
        self.model = model
        self.read = read

    async def follow(self, info: Info) -> AsyncGenerator[T, None]:
        actor = info.context.actor
        async with get_broker().subscribe(partners.own_partner_id(actor)) as stream:
            # Read after subscribing, so that no row can fall between the two.
            last_sent = await read_rules.newest_id(self.model, actor)
            async for event in stream:
                info.context.loaders = Loaders(actor)
                if event.is_notice:
                    for row in await read_rules.rows_after(self.model, actor, last_sent):
                        last_sent = row.id
                        yield row
                elif event.kind == self.kind and event.subject_id is not None:
                    if event.subject_id <= last_sent:
                        continue  # sent already, while catching up
                    found = await shared_reads.get(
                        (event.id, self.kind), partial(self.read, actor, event.subject_id)
                    )
                    last_sent = event.subject_id
                    if found is not None:
                        yield found
