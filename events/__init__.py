"""Events behind GraphQL subscriptions: in-process by default, Redis pub/sub with PARTNERDESK_REDIS_URL.

Publishing (resolvers), after commit and never after rollback:

    async with events.transaction() as tx:
        ...change rows...
        tx.publish(Event(EventKind.INQUIRY_RECEIVED, partner_id, subject_id=inquiry.id))

Most changes publish through their activity row instead (events/activity.py,
`record_activity`), which queues the feed event and the change's own event.

Consuming (a subscription): enter first, then send the current state, then follow events.

    async with events.get_broker().subscribe(partner_id) as stream:
        yield await current_counts(...)
        async for event in stream:
            if event.is_notice or event.kind in COUNT_KINDS:   # notices: events may be lost
                yield await current_counts(...)                # fresh read, fresh loaders

The app's lifespan runs `use_broker(create_broker(settings))`, which makes it the broker
returned by `get_broker()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.broker import DEFAULT_MAX_QUEUED, Broker, InProcessBroker, Subscription
from events.event import NOTICE_KINDS, Event, EventDecodeError, EventKind
from events.publishing import (
    EventTransaction,
    after_commit,
    get_broker,
    publish,
    publish_later,
    set_broker,
    transaction,
    use_broker,
)
from events.redis_broker import RedisBroker

if TYPE_CHECKING:
    from config import Settings


def create_broker(settings: Settings) -> Broker:
    """Redis pub/sub when PARTNERDESK_REDIS_URL is set (several server processes), else in-process."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url, channel_prefix=settings.redis_prefix)
    return InProcessBroker()


__all__ = [
    "DEFAULT_MAX_QUEUED",
    "NOTICE_KINDS",
    "Broker",
    "Event",
    "EventDecodeError",
    "EventKind",
    "EventTransaction",
    "InProcessBroker",
    "RedisBroker",
    "Subscription",
    "after_commit",
    "create_broker",
    "get_broker",
    "publish",
    "publish_later",
    "set_broker",
    "transaction",
    "use_broker",
]
