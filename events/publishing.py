"""The process's broker, and publishing after commit.

Resolvers never publish from inside a transaction: an event about a change that is
later rolled back would make dashboards show what never happened, and an event sent
before commit makes subscribers re-read the old data. Instead:

    async with events.transaction() as tx:
        inquiry = await Inquiry.create(...)
        tx.publish(Event(EventKind.INQUIRY_RECEIVED, partner.id, subject_id=inquiry.id))
    # committed here; the events are published now

`events.publish_later(event)` does the same from code that does not hold `tx` (a helper
called inside the transaction), and `events.after_commit(callback)` runs a callback once
the change is committed (the e-mail outbox wakes its workers this way). An exception that
leaves the block rolls the transaction back and drops its events and callbacks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from tortoise.backends.base.client import BaseDBAsyncClient, NestedTransactionContext
from tortoise.transactions import in_transaction

from events.broker import Broker, InProcessBroker
from events.event import Event

log = logging.getLogger("partnerdesk.events")

_broker: Broker = InProcessBroker()
_open_transaction: ContextVar[EventTransaction | None] = ContextVar(
    "partnerdesk_event_transaction", default=None
)


def get_broker() -> Broker:
    """The broker of this process: the app's (see `use_broker`), else an in-process one."""
    return _broker


def set_broker(broker: Broker) -> Broker:
    """Make `broker` the process's broker; returns the one it replaces."""
    global _broker
    previous, _broker = _broker, broker
    return previous


@contextlib.asynccontextmanager
async def use_broker(broker: Broker) -> AsyncIterator[Broker]:
    """Start `broker` and make it the process's broker; on exit close it and restore the previous."""
    await broker.start()
    previous = set_broker(broker)
    try:
        yield broker
    finally:
        set_broker(previous)
        await broker.close()


async def publish(event: Event) -> None:
    """Publish now, for changes that are already committed (or not in a database at all)."""
    try:
        await get_broker().publish(event)
    except Exception:  # the change stands; a lost event must not turn it into an error
        log.exception("could not publish %s for partner %s", event.kind, event.partner_id)


@dataclass(eq=False)
class EventTransaction:
    """A database transaction that publishes its events after it commits."""

    connection: BaseDBAsyncClient
    events: list[Event] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        """Publish `event` once the outermost events.transaction() has committed."""
        self.events.append(event)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once the outermost events.transaction() has committed."""
        if callback not in self.callbacks:
            self.callbacks.append(callback)


@contextlib.asynccontextmanager
async def transaction(connection_name: str | None = None) -> AsyncIterator[EventTransaction]:
    """`in_transaction()` that publishes the events queued in it after commit, never after rollback.

    Nested in another events.transaction() it is a savepoint: its events join the outer
    one's (if the savepoint commits) and go out when the outer transaction commits.
    """
    outer = _open_transaction.get()
    context = in_transaction(connection_name)
    if outer is None and isinstance(context, NestedTransactionContext):
        # Our commit would only release a savepoint; the real commit is out of our sight.
        raise RuntimeError(
            "events.transaction() inside a plain in_transaction(): "
            "open the outer transaction with events.transaction() instead"
        )
    async with context as connection:
        current = EventTransaction(connection)
        token = _open_transaction.set(current)
        try:
            yield current
        finally:
            _open_transaction.reset(token)
    # Only reached when the block left without an exception and the commit succeeded.
    if outer is not None:
        outer.events.extend(current.events)
        for callback in current.callbacks:
            outer.after_commit(callback)
        return
    for event in current.events:
        await publish(event)
    for callback in current.callbacks:
        try:
            callback()
        except Exception:  # the change stands; a failed notification must not undo it
            log.exception("after-commit callback %r failed", callback)


def publish_later(event: Event) -> None:
    """Queue `event` on the innermost open events.transaction(); it goes out after commit.

    A savepoint that may roll back on its own must be an events.transaction() too (not a
    plain in_transaction()), or its events would survive its rollback.
    """
    current = _open_transaction.get()
    if current is None:
        raise RuntimeError(
            "events.publish_later() outside events.transaction(): "
            "wrap the change in `async with events.transaction()`, or `await events.publish()` "
            "once it is committed"
        )
    current.publish(event)


def after_commit(callback: Callable[[], None]) -> bool:
    """Run `callback()` after the innermost open events.transaction() commits (never after a
    rollback); False, and nothing scheduled, when no events.transaction() is open."""
    current = _open_transaction.get()
    if current is None:
        return False
    current.after_commit(callback)
    return True
