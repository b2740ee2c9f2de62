"""One execution per event for all subscribers of the same shareable subscription.

(Performance, issue 5: fan-out to 1,000 subscribers within 100 ms of server time.)
Executing a subscription once per subscriber means a thousand dashboards of one partner
cost a thousand executions per event, each with its own chain of generators and broker
queue. Subscribers with the same key (partner, member role, document, variables, operation
name) follow one upstream `Pipeline.subscribe(...)` instead, started by the first of them
(with its own copy of the context) and stopped when the last one leaves; every result goes
to each of them as it is.

Only root fields whose results depend on the partner and the member's role, never on which
member asks, are shared. Those that send state (the current value, then every change) give
a newcomer the latest result first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from graphql import FieldNode, OperationType

from events import DEFAULT_MAX_QUEUED
from schema.context import Context, Loaders
from schema.pipeline import Plan, Prepared, Result, variables_key

log = logging.getLogger("partnerdesk.subscriptions")

SHARED_STATE_FIELDS = frozenset({"pendingCounts"})
SHARED_EVENT_FIELDS = frozenset({"invitationReceived", "inquiryReceived", "activity"})


def shared_field(plan: Plan) -> str | None:
    """The root field of a one-field subscription that may be shared, else None."""
    if plan.kind != OperationType.SUBSCRIPTION:
        return None
    selections = plan.operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    name = selections[0].name.value
    return name if name in SHARED_STATE_FIELDS or name in SHARED_EVENT_FIELDS else None


_END = object()


class _Mailbox:
    """One subscriber's results not yet sent; one that falls too far behind loses the oldest.

    (A list and a future, not an asyncio.Queue: every idle subscriber has one, almost always
    empty; a Queue costs 2.5 KiB, a deque 0.5 KiB up front.)
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        if len(self.items) >= DEFAULT_MAX_QUEUED:
            log.warning("a subscriber is %d results behind; dropping the oldest", len(self.items))
            del self.items[0]
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _SharedStream:
    __slots__ = ("key", "latest", "listeners", "task")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.listeners: set[_Mailbox] = set()
        self.latest: Any = None
        self.task: asyncio.Task[None] | None = None


class SharedStreams:
    """One execution per event for all subscribers of the same shareable subscription.

    Executing a subscription once per subscriber, a thousand dashboards of one
    partner would cost a thousand executions per event, each with its own chain of
    generators and broker queue. Subscribers with the same key (partner, member
    role, document, variables, operation name) follow one upstream `Pipeline.subscribe(...)`
    instead, started by the first of them (with its own copy of the context) and stopped
    when the last one leaves; every result object goes to each of them as it is.
    """

    def __init__(self) -> None:
        self.streams: dict[tuple[Any, ...], _SharedStream] = {}

    def stream(
        self,
        prepared: Prepared,
        context: Context,
        run: Callable[[Prepared, Context], AsyncIterator[Result]],
    ) -> AsyncIterator[Result]:
        """`run(prepared, context)`'s results, shared with every subscriber of the same key."""
        field = shared_field(prepared.plan)
        member = context.actor.member
        if field is None or member is None:
            return run(prepared, context)
        request = prepared.request
        variables = variables_key(request.variables)
        key = (
            member.partner_id,
            str(member.role),
            request.query,
            variables,
            request.operation_name,
        )

        def start() -> AsyncIterator[Result]:
            # Called for the first subscriber only. The upstream gets its own context, as
            # subscriptions swap the loaders in it on every event.
            return run(prepared, replace(context, loaders=Loaders(context.actor)))

        return self._follow(key, field in SHARED_STATE_FIELDS, start)

    def _follow(
        self,
        key: tuple[Any, ...],
        replay_latest: bool,
        start: Callable[[], AsyncIterator[Result]],
    ) -> AsyncGenerator[Result, None]:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _SharedStream(key)
            stream.task = asyncio.create_task(self._run(stream, start))
        return self._listen(stream, replay_latest)

    async def _listen(
        self, stream: _SharedStream, replay_latest: bool
    ) -> AsyncGenerator[Result, None]:
        mailbox = _Mailbox()
        latest = stream.latest
        if latest is not None and (replay_latest or latest.data is None):
            mailbox.put(latest)  # a state, or the error that ended the upstream at its start
        stream.listeners.add(mailbox)
        if stream.task is not None and stream.task.done():
            mailbox.put(_END)  # it ended before this subscriber got here
        try:
            while True:
                # Waits here rather than in a Mailbox.get() coroutine: one frame less per
                # idle subscriber.
                while not mailbox.items:
                    mailbox.waiter = asyncio.get_running_loop().create_future()
                    try:
                        await mailbox.waiter
                    finally:
                        mailbox.waiter = None
                result = mailbox.items.pop(0)
                if result is _END:
                    return
                yield result
        finally:
            stream.listeners.discard(mailbox)
            if not stream.listeners and self.streams.get(stream.key) is stream:
                del self.streams[stream.key]
                if stream.task is not None:
                    stream.task.cancel()

    async def _run(self, stream: _SharedStream, start: Callable[[], AsyncIterator[Result]]) -> None:
        try:
            source = start()
            async with aclosing(source):  # type: ignore[type-var]
                async for result in source:
                    stream.latest = result
                    for mailbox in stream.listeners:
                        mailbox.put(result)
        except Exception:
            log.exception("shared subscription stream failed")
        finally:
            if self.streams.get(stream.key) is stream:
                del self.streams[stream.key]
            for mailbox in stream.listeners:
                mailbox.put(_END)
