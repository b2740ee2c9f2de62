"""Subscriptions: live counts, new inquiries and authorizations, and the activity feed.

Each follows the partner's event stream (events/) and answers every event with a fresh
read: a new set of DataLoaders per event (the websocket context lives as long as the
connection, and loaders kept that long would serve stale rows).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import replace
from functools import lru_cache, partial
from typing import Any, TypeVar

import strawberry
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from strawberry.schema import BaseSchema
from strawberry.types.execution import PreExecutionError

from events import DEFAULT_MAX_QUEUED, Event, EventKind, get_broker
from resolvers import activity, inquiries, invitations
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
        EventKind.INVITATION_REVOKED,
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
    invitations: int
    inquiries: int


async def _events(info: Info) -> AsyncGenerator[Event, None]:
    """The signed-in member's partner's events, each with fresh loaders in the context."""
    partner_id = info.context.actor.require_partner_id()
    async with get_broker().subscribe(partner_id) as stream:
        async for event in stream:
            info.context.loaders = Loaders(partner_id)
            yield event


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
        partner_id = info.context.actor.require_partner_id()
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
        async for found in _subjects(
            info, EventKind.INVITATION_RECEIVED, invitations.get_invitation
        ):
            yield AccessInvitation.from_model(found)

    @strawberry.subscription(description="Each inquiry sent to the partner, once.")
    async def inquiry_received(self, info: Info) -> AsyncGenerator[Inquiry, None]:
        async for found in _subjects(info, EventKind.INQUIRY_RECEIVED, inquiries.get_inquiry):
            yield Inquiry.from_model(found)

    @strawberry.subscription(description="The partner's live activity feed, one event per change.")
    async def activity(self, info: Info) -> AsyncGenerator[ActivityEvent, None]:
        async for found in _subjects(
            info, EventKind.ACTIVITY_RECORDED, activity.get_activity_event
        ):
            yield ActivityEvent.from_model(found)


async def _subjects(
    info: Info, kind: EventKind, read: Callable[[Actor, int], Awaitable[T | None]]
) -> AsyncGenerator[T, None]:
    """The rows that events of `kind` name, each read once per event and still visible."""
    async for event in _events(info):
        if event.kind == kind and event.subject_id is not None:
            found = await shared_reads.get(
                (event.id, kind), partial(read, info.context.actor, event.subject_id)
            )
            if found is not None:
                yield found


# ---------------------------------------------------------------- one execution per event
# (Performance, issue 5: fan-out to 1,000 subscribers within 100 ms of server time.)

# Root fields whose results depend on the partner and the member's role only, never on which
# member asks: their subscribers share one execution per event (SharedStreams). Those that
# send state (the current value, then every change) give a newcomer the latest result first.
SHARED_STATE_FIELDS = frozenset({"pendingCounts"})
SHARED_EVENT_FIELDS = frozenset({"invitationReceived", "inquiryReceived", "activity"})


@lru_cache(maxsize=128)
def shared_field(query: str, operation_name: str | None) -> str | None:
    """The root field of a one-field subscription document that may be shared, else None."""
    try:
        document = parse(query)
    except (GraphQLError, RecursionError):
        return None  # the schema reports it to this subscriber alone
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        )
    ]
    if len(operations) != 1 or operations[0].operation != OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
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

    Strawberry executes a subscription once per subscriber: a thousand dashboards of one
    partner cost a thousand executions per event, and each holds its own chain of
    generators, extensions and broker queue. Subscribers with the same key (partner, member
    role, document, variables, operation name) follow one upstream `schema.stream(...)`
    instead, started by the first of them (with its own copy of the context) and stopped
    when the last one leaves; every result object goes to each of them as it is.
    """

    def __init__(self) -> None:
        self.streams: dict[tuple[Any, ...], _SharedStream] = {}

    async def stream(
        self,
        schema: BaseSchema,
        query: str,
        *,
        variable_values: dict[str, Any] | None = None,
        context_value: Any = None,
        root_value: Any = None,
        operation_name: str | None = None,
    ) -> AsyncIterator[Any]:
        """What `schema.stream(...)` returns; shared with every subscriber of the same key."""
        field = shared_field(query, operation_name)
        member = getattr(getattr(context_value, "actor", None), "member", None)
        if field is None or member is None:
            return await schema.stream(
                query,
                variable_values=variable_values,
                context_value=context_value,
                root_value=root_value,
                operation_name=operation_name,
            )
        variables = json.dumps(variable_values, sort_keys=True, separators=(",", ":"))
        key = (member.partner_id, str(member.role), query, variables, operation_name)

        def start() -> Awaitable[AsyncIterator[Any]]:
            # Called for the first subscriber only. The upstream gets its own context, as
            # `_events` swaps the loaders in it on every event.
            context = replace(context_value, loaders=Loaders(member.partner_id))
            return schema.stream(
                query,
                variable_values=variable_values,
                context_value=context,
                root_value=root_value,
                operation_name=operation_name,
            )

        return self._follow(key, field in SHARED_STATE_FIELDS, start)

    def _follow(
        self,
        key: tuple[Any, ...],
        replay_latest: bool,
        start: Callable[[], Awaitable[AsyncIterator[Any]]],
    ) -> AsyncGenerator[Any, None]:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _SharedStream(key)
            stream.task = asyncio.create_task(self._run(stream, start))
        return self._listen(stream, replay_latest)

    async def _listen(
        self, stream: _SharedStream, replay_latest: bool
    ) -> AsyncGenerator[Any, None]:
        mailbox = _Mailbox()
        latest = stream.latest
        if latest is not None and (replay_latest or isinstance(latest, PreExecutionError)):
            mailbox.put(latest)
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

    async def _run(
        self,
        stream: _SharedStream,
        start: Callable[[], Awaitable[AsyncIterator[Any]]],
    ) -> None:
        try:
            source = await start()
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
