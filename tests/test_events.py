"""The event broker: per-partner fan-out, clean-up, slow subscribers, publish after commit, Redis.

Redis tests run when PARTNERDESK_TEST_REDIS_URL is set (CI: redis://127.0.0.1:6379/0);
each test uses its own channel prefix, so parallel runs on one Redis never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

import events
from events import Event, EventKind, InProcessBroker, RedisBroker, Subscription
from models.partner import Partner

REDIS_URL = os.environ.get("PARTNERDESK_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="needs Redis: set PARTNERDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0",
)
QUIET = 0.15  # how long "nothing arrives" is watched for


def inquiry_received(partner_id: int, inquiry_id: int = 1) -> Event:
    return Event(EventKind.INQUIRY_RECEIVED, partner_id, subject_id=inquiry_id)


async def next_event(stream: Subscription, within: float = 3.0) -> Event:
    return await asyncio.wait_for(anext(stream), within)


async def assert_nothing_arrives(stream: Subscription, within: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        event = await asyncio.wait_for(anext(stream), within)
        pytest.fail(f"unexpected event {event}")


async def eventually(condition: Callable[[], Any], within: float = 5.0) -> None:
    """Wait until `condition()` (a plain or async function) is true."""
    async with asyncio.timeout(within):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------- events themselves


def test_event_round_trips_through_json() -> None:
    # given
    event = Event(
        EventKind.INVITATION_RECEIVED, 7, subject_id=42, payload={"scope": "FULL", "ids": [1, 2]}
    )

    # when
    decoded = Event.from_json(event.to_json())

    # then
    assert decoded == event
    assert decoded.id == event.id
    assert not decoded.is_notice


@pytest.mark.parametrize(
    "payload",
    [{"customer": object()}, {"at": __import__("datetime").datetime(2025, 1, 1)}, {1: "x"}],
    ids=["object", "datetime", "non-string key"],
)
def test_event_refuses_payloads_that_are_not_plain_json(payload: dict[Any, Any]) -> None:
    with pytest.raises(TypeError):
        Event(EventKind.ACTIVITY_RECORDED, 1, payload=payload)


def test_event_refuses_global_ids_for_partner() -> None:
    with pytest.raises(TypeError):
        Event(EventKind.ACTIVITY_RECORDED, "UGFydG5lcjox")  # type: ignore[arg-type]


# ---------------------------------------------------------------- in-process fan-out


async def test_subscribers_receive_their_partners_events_only() -> None:
    # given
    broker = InProcessBroker()
    async with (
        broker.subscribe(1) as first,
        broker.subscribe(1) as second,
        broker.subscribe(2) as other_partner,
    ):
        # when
        event = inquiry_received(1)
        await broker.publish(event)

        # then
        assert await next_event(first) is event
        assert await next_event(second) is event
        await assert_nothing_arrives(other_partner)


async def test_leaving_a_subscription_leaves_no_queue_and_no_task() -> None:
    # given
    broker = InProcessBroker()
    tasks_before = len(asyncio.all_tasks())

    # when: subscribers come and go, some while waiting for an event, some mid-iteration
    async def listen_until_cancelled(partner_id: int) -> None:
        async with broker.subscribe(partner_id) as stream:
            async for _event in stream:
                pass

    async def take_one_and_leave(partner_id: int) -> None:
        async with broker.subscribe(partner_id) as stream:
            async for _event in stream:
                break

    waiting = [asyncio.create_task(listen_until_cancelled(n % 5)) for n in range(100)]
    leaving = [asyncio.create_task(take_one_and_leave(n % 5)) for n in range(100)]
    await eventually(lambda: broker.subscriber_count() == 200)
    for partner_id in range(5):
        await broker.publish(inquiry_received(partner_id))
    await asyncio.gather(*leaving)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)

    # then
    assert broker.subscriber_count() == 0
    assert broker.partners_subscribed() == set()
    assert len(asyncio.all_tasks()) == tasks_before


async def test_slow_subscriber_loses_its_oldest_events_and_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: one subscriber that keeps up, one that does not read at all
    broker = InProcessBroker(max_queued=3)
    received: list[Event] = []

    async with broker.subscribe(1) as fast, broker.subscribe(1) as slow:

        async def keep_up() -> None:
            async for event in fast:
                received.append(event)

        reader = asyncio.create_task(keep_up())

        # when
        with caplog.at_level(logging.WARNING, logger="partnerdesk.events"):
            published = [inquiry_received(1, n) for n in range(1, 6)]
            for event in published:
                await broker.publish(event)
                await asyncio.sleep(0)  # publishing never waits for the slow one

        # then: the fast one got everything; the slow one hears it missed two, then the newest three
        await eventually(lambda: len(received) == 5)
        assert received == published
        notice = await next_event(slow)
        assert notice.kind == EventKind.EVENTS_DROPPED
        assert notice.is_notice
        assert notice.payload == {"dropped": 2}
        assert [await next_event(slow) for _ in range(3)] == published[2:]
        await assert_nothing_arrives(slow)
        assert (
            len([record for record in caplog.records if "dropping the oldest" in record.message])
            == 1
        )
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_closing_the_broker_ends_every_subscription() -> None:
    # given
    broker = InProcessBroker()
    async with broker.subscribe(1) as stream:
        collected = asyncio.create_task(_collect(stream))
        await broker.publish(inquiry_received(1))
        await asyncio.sleep(0)

        # when
        await broker.close()

        # then
        assert await asyncio.wait_for(collected, 1) == [EventKind.INQUIRY_RECEIVED]
    assert broker.subscriber_count() == 0


async def _collect(stream: Subscription) -> list[str]:
    return [event.kind async for event in stream]


# ---------------------------------------------------------------- publish after commit


@pytest.fixture
async def broker(app: Starlette) -> InProcessBroker:
    """The app's broker (the lifespan installed it as the process's broker)."""
    assert events.get_broker() is app.state.broker
    assert isinstance(app.state.broker, InProcessBroker)
    return app.state.broker


async def create_partner(slug: str) -> Partner:
    return await Partner.create(slug=slug, name=slug, display_name=slug)


async def test_events_go_out_after_commit(broker: InProcessBroker) -> None:
    # given
    slug = f"after-commit-{uuid.uuid4().hex[:8]}"
    async with broker.subscribe(1) as stream:
        # when
        async with events.transaction() as tx:
            partner = await create_partner(slug)
            tx.publish(inquiry_received(1, partner.id))
            events.publish_later(Event(EventKind.ACTIVITY_RECORDED, 1, subject_id=9))
            # then: nothing before commit
            assert stream.queued == 0

        # then: both, in order, after commit
        first, second = await next_event(stream), await next_event(stream)
        assert (first.kind, first.subject_id) == (EventKind.INQUIRY_RECEIVED, partner.id)
        assert (second.kind, second.subject_id) == (EventKind.ACTIVITY_RECORDED, 9)
        assert await Partner.filter(slug=slug).exists()


async def test_rolled_back_transaction_publishes_nothing(broker: InProcessBroker) -> None:
    # given
    slug = f"rolled-back-{uuid.uuid4().hex[:8]}"
    async with broker.subscribe(1) as stream:
        # when
        with pytest.raises(LookupError):
            async with events.transaction() as tx:
                partner = await create_partner(slug)
                tx.publish(inquiry_received(1, partner.id))
                raise LookupError("the change fails half-way")

        # then
        await assert_nothing_arrives(stream)
        assert not await Partner.filter(slug=slug).exists()


async def test_rolled_back_savepoint_drops_only_its_own_events(broker: InProcessBroker) -> None:
    # given
    async with broker.subscribe(1) as stream:
        # when
        async with events.transaction() as outer:
            outer.publish(inquiry_received(1, 1))
            with contextlib.suppress(LookupError):
                async with events.transaction() as inner:
                    inner.publish(inquiry_received(1, 2))
                    raise LookupError("inner change fails")
            async with events.transaction() as kept:
                kept.publish(inquiry_received(1, 3))
                # then: a committed savepoint does not publish before the outer commit
            assert stream.queued == 0

        # then
        assert [(await next_event(stream)).subject_id for _ in range(2)] == [1, 3]
        await assert_nothing_arrives(stream)


async def test_publishing_later_needs_an_events_transaction(broker: InProcessBroker) -> None:
    with pytest.raises(RuntimeError, match=r"outside events\.transaction"):
        events.publish_later(inquiry_received(1))
    with pytest.raises(RuntimeError, match=r"inside a plain in_transaction"):
        async with in_transaction(), events.transaction():
            pass


async def test_a_failing_broker_does_not_fail_the_committed_change(
    broker: InProcessBroker, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    class BrokenBroker(InProcessBroker):
        async def publish(self, event: Event) -> None:
            raise RuntimeError("broker exploded")

    previous = events.set_broker(BrokenBroker())
    slug = f"broken-broker-{uuid.uuid4().hex[:8]}"
    try:
        # when
        with caplog.at_level(logging.ERROR, logger="partnerdesk.events"):
            async with events.transaction() as tx:
                await create_partner(slug)
                tx.publish(inquiry_received(1))
    finally:
        events.set_broker(previous)

    # then
    assert await Partner.filter(slug=slug).exists()
    assert "could not publish inquiry.received" in caplog.text


# ---------------------------------------------------------------- Redis


@contextlib.asynccontextmanager
async def running(broker: RedisBroker) -> AsyncIterator[RedisBroker]:
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()


def redis_broker(prefix: str, url: str | None = None, **options: Any) -> RedisBroker:
    options = {"backoff_base": 0.05, "backoff_max": 0.5, **options}
    return RedisBroker(url or REDIS_URL or "", channel_prefix=prefix, **options)


@pytest.fixture
def prefix() -> str:
    return f"partnerdesk-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_admin() -> AsyncIterator[redis.Redis]:
    assert REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@needs_redis
async def test_event_published_in_one_process_reaches_subscribers_in_another(prefix: str) -> None:
    # given: two brokers, as in two server processes
    async with (
        running(redis_broker(prefix)) as one,
        running(redis_broker(prefix)) as other,
        other.subscribe(1) as remote,
        one.subscribe(1) as local,
        other.subscribe(2) as other_partner,
    ):
        # when
        event = Event(EventKind.INVITATION_RECEIVED, 1, subject_id=5, payload={"n": 1})
        await one.publish(event)

        # then
        assert await next_event(remote) == event
        assert await next_event(local) == event
        await assert_nothing_arrives(other_partner)


@needs_redis
async def test_local_subscribers_share_one_redis_subscription(
    prefix: str, redis_admin: redis.Redis
) -> None:
    # given
    async with running(redis_broker(prefix)) as broker:
        channel = broker.channel(1)

        async def redis_subscribers() -> int:
            ((_name, count),) = await redis_admin.pubsub_numsub(channel)
            return count

        async def nobody_subscribed() -> bool:
            return await redis_subscribers() == 0

        # when: five local subscribers
        async with contextlib.AsyncExitStack() as stack:
            streams = [await stack.enter_async_context(broker.subscribe(1)) for _ in range(5)]

            # then: one Redis subscription, and every local subscriber gets the event
            assert await redis_subscribers() == 1
            await broker.publish(inquiry_received(1))
            for stream in streams:
                assert (await next_event(stream)).kind == EventKind.INQUIRY_RECEIVED

        # then: the last one leaving unsubscribes
        await eventually(nobody_subscribed)
        assert broker.subscriber_count() == 0


@needs_redis
async def test_killed_redis_connection_is_logged_rebuilt_and_subscribers_told(
    prefix: str, redis_admin: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    async with (
        running(redis_broker(prefix)) as subscriber_side,
        running(redis_broker(prefix)) as publisher_side,
    ):
        async with subscriber_side.subscribe(1) as stream:
            await publisher_side.publish(inquiry_received(1, 1))
            assert (await next_event(stream)).subject_id == 1

            # when: Redis drops the broker's pub/sub connection
            with caplog.at_level(logging.INFO, logger="partnerdesk.events"):
                ours = [
                    client["id"]
                    for client in await redis_admin.client_list(_type="pubsub")
                    if client["name"] == subscriber_side.client_name
                ]
                assert len(ours) == 2  # both brokers name their connection alike
                for client_id in ours:
                    await redis_admin.client_kill_filter(_id=client_id)

                # then: the subscriber is told, and later events arrive again
                notice = await next_event(stream, within=5)
                assert notice.kind == EventKind.BROKER_RECONNECTED
                assert notice.is_notice
                await publisher_side.publish(inquiry_received(1, 2))
                assert (await next_event(stream)).subject_id == 2

        assert subscriber_side.reconnects == 1
        assert "lost the Redis pub/sub connection" in caplog.text
        assert "re-established" in caplog.text


class ToggledProxy:
    """A TCP proxy to Redis that can be taken down and brought back, as Redis restarting would."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self._writers -= {writer, upstream_writer}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@needs_redis
async def test_redis_outage_retries_with_backoff_then_resyncs(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the subscriber's process reaches Redis through a proxy we can take down
    assert REDIS_URL
    target = redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs
    proxy = ToggledProxy(target.get("host", "127.0.0.1"), target.get("port", 6379))
    await proxy.up()
    async with (
        running(redis_broker(prefix, proxy.url)) as subscriber_side,
        running(redis_broker(prefix)) as publisher_side,
        subscriber_side.subscribe(1) as stream,
    ):
        with caplog.at_level(logging.WARNING, logger="partnerdesk.events"):
            # when: Redis is unreachable for a while, and an event is published meanwhile
            await proxy.down()
            await eventually(lambda: not subscriber_side.connected)
            await publisher_side.publish(inquiry_received(1, 1))
            await eventually(lambda: "attempt 2" in caplog.text)
            async with subscriber_side.subscribe(2) as joined_during_outage:
                # then: joining during an outage does not hang
                await proxy.up()

                # then: both are told to re-send state, and events flow again
                assert (await next_event(stream, 5)).kind == EventKind.BROKER_RECONNECTED
                assert (
                    await next_event(joined_during_outage, 5)
                ).kind == EventKind.BROKER_RECONNECTED
                await publisher_side.publish(inquiry_received(1, 2))
                assert (await next_event(stream)).subject_id == 2
    await proxy.down()
    assert "cannot connect to Redis for events (attempt 2" in caplog.text


async def test_unreachable_redis_neither_blocks_subscribers_nor_fails_publishers(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: nothing listens on this port
    url = f"redis://127.0.0.1:{_free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="partnerdesk.events"):
        async with running(redis_broker(prefix, url, publish_timeout=1)) as broker:
            # when
            async with broker.subscribe(1) as stream:
                await broker.publish(inquiry_received(1))

                # then
                await assert_nothing_arrives(stream)
            await eventually(lambda: "cannot connect to Redis for events" in caplog.text)
    assert "could not publish inquiry.received for partner 1" in caplog.text
