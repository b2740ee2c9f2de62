"""The broker interface, the per-partner fan-out shared by both brokers, and the in-process broker.

A subscriber gets its own bounded queue. Publishing never waits for a subscriber: when a
queue is full the oldest event in it is dropped, a warning is logged once per overflow,
and the subscriber's next event is an `EventKind.EVENTS_DROPPED` notice, so it knows to
re-send current state instead of silently missing changes. (Disconnecting a slow
subscriber would make every dashboard on a briefly stalled connection reconnect and
re-authenticate; a notice costs nothing and every consumer already handles it for
`BROKER_RECONNECTED`.)
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Protocol

from events.event import Event, EventKind, broker_notice

log = logging.getLogger("partnerdesk.events")

# Events a subscriber may fall behind by before the oldest are dropped. Events are
# mutation-driven and small, so a healthy websocket never comes near it.
DEFAULT_MAX_QUEUED = 256


class Broker(Protocol):
    """What resolvers publish to and subscriptions consume from (see events/__init__.py)."""

    async def start(self) -> None:
        """Connect (if there is anything to connect to); returns without waiting for a server."""

    async def close(self) -> None:
        """Stop: every open subscription's iteration ends; later publishes are dropped."""

    async def publish(self, event: Event) -> None:
        """Send `event` to every subscriber of `event.partner_id`, in this process and others.

        Never raises for a transport failure: the caller has committed already, and the
        loss is logged (subscribers hear about outages through BROKER_RECONNECTED).
        """

    def subscribe(self, partner_id: int) -> Subscription:
        """A subscription to one partner's events; enter it before reading the current state."""


class Subscription:
    """One subscriber's stream of one partner's events.

        async with broker.subscribe(partner_id) as events:
            ...read and send the current state...
            async for event in events:
                ...

    Entering registers the subscriber (and, with Redis, waits until the server confirms),
    so nothing published after `__aenter__` returns is missed. Leaving unregisters it;
    nothing else (no task, no queue) outlives the `async with`.
    """

    __slots__ = ("_dropped", "_fanout", "_queue", "_state", "partner_id")

    def __init__(self, fanout: LocalFanOut, partner_id: int, max_queued: int) -> None:
        self.partner_id = partner_id
        self._fanout = fanout
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=max_queued)
        self._dropped = 0
        self._state = "new"  # -> "open" -> "ended" (broker closed) / "left"

    async def __aenter__(self) -> Subscription:
        if self._state != "new":
            raise RuntimeError("a Subscription can be entered once")
        self._state = "open"
        await self._fanout._attach(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._state = "left"
        self._fanout._detach(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("enter the subscription (`async with`) before iterating it")
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return broker_notice(EventKind.EVENTS_DROPPED, self.partner_id, dropped=dropped)
        if self._state == "left" or (self._state == "ended" and self._queue.empty()):
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            self._state = "ended"
            raise StopAsyncIteration
        return event

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _deliver(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            if not self._dropped:
                log.warning(
                    "subscriber of partner %s is %d events behind; dropping the oldest "
                    "(it will be told to re-send current state)",
                    self.partner_id,
                    self._queue.maxsize,
                )
            self._dropped += 1
        self._queue.put_nowait(event)

    def _end(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class LocalFanOut:
    """Per-partner registry of this process's subscribers; `dispatch` hands an event to each."""

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.max_queued = max_queued
        self._subscribers: dict[int, set[Subscription]] = {}
        self._closed = False

    def subscribe(self, partner_id: int) -> Subscription:
        if not isinstance(partner_id, int) or isinstance(partner_id, bool):
            raise TypeError(f"partner_id must be a database id (int), not {partner_id!r}")
        return Subscription(self, partner_id, self.max_queued)

    def subscriber_count(self, partner_id: int | None = None) -> int:
        """Open subscriptions in this process: of one partner, or of all."""
        if partner_id is not None:
            return len(self._subscribers.get(partner_id, ()))
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    def partners_subscribed(self) -> set[int]:
        return set(self._subscribers)

    def dispatch(self, event: Event) -> int:
        """Queue `event` for this process's subscribers of its partner; returns how many."""
        subscribers = self._subscribers.get(event.partner_id)
        if not subscribers:
            return 0
        for subscription in subscribers:
            subscription._deliver(event)
        return len(subscribers)

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            subscription._end()
            return
        partner_id = subscription.partner_id
        self._subscribers.setdefault(partner_id, set()).add(subscription)
        try:
            await self._after_attach(partner_id)
        except BaseException:
            # Cancelled while waiting (the client went away): __aexit__ will not run.
            self._detach(subscription)
            raise

    def _detach(self, subscription: Subscription) -> None:
        partner_id = subscription.partner_id
        subscribers = self._subscribers.get(partner_id)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[partner_id]
        self._after_detach(partner_id, last=not subscribers)

    def _end_all_subscriptions(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription._end()

    async def _after_attach(self, partner_id: int) -> None:
        """Hook: the subscriber is registered; return once events for it are flowing."""

    def _after_detach(self, partner_id: int, *, last: bool) -> None:
        """Hook: a subscriber left; `last` when it was the partner's last one here."""


class InProcessBroker(LocalFanOut):
    """Events reach the subscribers of this process only: the default, for one server process."""

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        self._end_all_subscriptions()

    async def publish(self, event: Event) -> None:
        if self._closed:
            log.debug("broker closed; dropped %s for partner %s", event.kind, event.partner_id)
            return
        self.dispatch(event)
