"""Redis pub/sub broker: every server process sees every partner's events.

One channel per partner (`{prefix}:partner:{id}`) rather than one channel for all: Redis
then sends a process only the events of partners that have subscribers there, instead
of every process decoding and discarding every other partner's traffic.

Each process holds ONE pub/sub connection. A supervisor task runs a "session" per
connection: a reader that dispatches messages to the local fan-out, a reconciler that
SUBSCRIBEs/UNSUBSCRIBEs so that Redis subscriptions follow the set of partners with local
subscribers (N local subscribers of a partner cost one Redis subscription), and a
watchdog that PINGs an idle connection and gives up on a silent one. When the session
fails it is logged, the supervisor reconnects with exponential backoff (with jitter),
and once a partner's channel is subscribed again its local subscribers receive an
`EventKind.BROKER_RECONNECTED` notice, so they re-send current state rather than hang
on whatever was published meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError

from events.broker import DEFAULT_MAX_QUEUED, LocalFanOut
from events.event import Event, EventDecodeError, EventKind, broker_notice

log = logging.getLogger("partnerdesk.events")

DEFAULT_CHANNEL_PREFIX = "partnerdesk"
T = TypeVar("T")


class RedisBroker(LocalFanOut):
    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
        max_queued: int = DEFAULT_MAX_QUEUED,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        ping_interval: float = 15.0,
        subscribe_timeout: float = 5.0,
        publish_timeout: float = 5.0,
    ) -> None:
        super().__init__(max_queued=max_queued)
        if not channel_prefix or any(character.isspace() for character in channel_prefix):
            raise ValueError("channel_prefix must be a non-empty word")
        self.url = url
        self.channel_prefix = channel_prefix
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.ping_interval = ping_interval
        self.subscribe_timeout = subscribe_timeout
        self.publish_timeout = publish_timeout
        # Shows in Redis's CLIENT LIST, so operators can tell our subscriber connection apart.
        self.client_name = f"{channel_prefix}-events"
        self._partner_channel_prefix = f"{channel_prefix}:partner:"
        self._control_channel = f"{channel_prefix}:broker"
        self._publisher: Redis | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Future[bool] | None = None  # done: connected or failed once
        self._dirty = asyncio.Event()  # the wanted Redis subscriptions changed
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}
        # Partners whose subscribers may have missed events; told once subscribed again.
        self._needs_resync: set[int] = set()
        self.reconnects = 0  # sessions established after the first; for tests and metrics
        self._connected_once = False
        # Per connection session (see _reset_session).
        self._connected = False
        self._sent: set[int] = set()  # SUBSCRIBE sent in this session, not since UNSUBSCRIBEd
        self._unconfirmed: Counter[int] = Counter()  # SUBSCRIBEs sent, not yet confirmed
        self._confirmed: set[int] = set()
        self._last_seen = 0.0  # loop time of the last thing read from Redis

    def channel(self, partner_id: int) -> str:
        return f"{self._partner_channel_prefix}{partner_id}"

    @property
    def connected(self) -> bool:
        """True while the pub/sub connection is up (its control channel confirmed)."""
        return self._connected

    # ---------------------------------------------------------------- Broker interface

    async def start(self) -> None:
        """Start the connection; returns once the first attempt connected or failed (logged).

        A Redis that is down does not stop the server from starting: the broker keeps
        retrying in the background, and subscribers hear BROKER_RECONNECTED once it is back.
        """
        if self._supervisor is not None:
            return
        self._closed = False
        self._publisher = Redis.from_url(
            self.url,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 2),
        )
        self._first_attempt = asyncio.get_running_loop().create_future()
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"partnerdesk events: redis pub/sub ({self.channel_prefix})"
        )
        await asyncio.wait([self._first_attempt])

    async def close(self) -> None:
        self._closed = True
        self._end_all_subscriptions()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.aclose()
        self._wake_waiters()

    async def publish(self, event: Event) -> None:
        if self._closed or self._publisher is None:
            log.warning(
                "event broker not running; dropped %s for partner %s", event.kind, event.partner_id
            )
            return
        try:
            async with asyncio.timeout(self.publish_timeout):
                await self._publisher.publish(self.channel(event.partner_id), event.to_json())
        except (RedisError, OSError, TimeoutError) as error:
            log.error(
                "could not publish %s for partner %s to Redis: %s",
                event.kind,
                event.partner_id,
                _describe(error),
            )

    # ---------------------------------------------------------------- local subscribers

    async def _after_attach(self, partner_id: int) -> None:
        if partner_id in self._confirmed:
            return
        self._dirty.set()
        if not self._connected:
            # Redis is down or not yet reached: the notice after (re)connecting covers the gap.
            self._needs_resync.add(partner_id)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(partner_id, []).append(waiter)
        try:
            async with asyncio.timeout(self.subscribe_timeout):
                await waiter
        except TimeoutError:
            log.warning(
                "Redis did not confirm the subscription to %s within %.1f s; "
                "its subscribers will be told to re-send state once it does",
                self.channel(partner_id),
                self.subscribe_timeout,
            )
            self._needs_resync.add(partner_id)
        finally:
            waiters = self._waiters.get(partner_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(partner_id, None)

    def _after_detach(self, partner_id: int, *, last: bool) -> None:
        if last:
            self._needs_resync.discard(partner_id)
            self._dirty.set()

    def _wake_waiters(self, partner_id: int | None = None) -> None:
        partners = list(self._waiters) if partner_id is None else [partner_id]
        for partner in partners:
            for waiter in self._waiters.pop(partner, []):
                if not waiter.done():
                    waiter.set_result(None)

    # ---------------------------------------------------------------- the connection

    def _reset_session(self) -> None:
        self._connected = False
        self._sent = set()
        self._unconfirmed = Counter()
        self._confirmed = set()
        self._last_seen = 0.0

    async def _supervise(self) -> None:
        failures = 0
        while True:
            try:
                await self._run_session()
                raise ConnectionError("pub/sub session ended")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                was_connected = self._connected
                self._end_session()
                self._settle_first_attempt(connected=False)
                failures = 1 if was_connected else failures + 1
                delay = self._backoff(failures)
                expected = _is_connection_problem(error)
                if was_connected:
                    log.warning(
                        "lost the Redis pub/sub connection (%s); reconnecting in %.2f s",
                        _describe(error),
                        delay,
                        exc_info=not expected,
                    )
                else:
                    log.warning(
                        "cannot connect to Redis for events (attempt %d: %s); retrying in %.2f s",
                        failures,
                        _describe(error),
                        delay,
                        exc_info=not expected,
                    )
                await asyncio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)

    def _settle_first_attempt(self, *, connected: bool) -> None:
        if self._first_attempt is not None and not self._first_attempt.done():
            self._first_attempt.set_result(connected)

    async def _run_session(self) -> None:
        client = Redis.from_url(
            self.url,
            socket_connect_timeout=5,
            socket_keepalive=True,
            client_name=self.client_name,
            # Failures must reach us: redis-py's own silent reconnect would lose the
            # events published meanwhile without anybody telling the subscribers.
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            self._reset_session()
            self._last_seen = asyncio.get_running_loop().time()
            await _uncancelled(pubsub.subscribe(self._control_channel))
            self._dirty.set()
            # Not a TaskGroup: on Python 3.11 a child failing while the group waits leaves
            # this task marked as cancelled, which would end the next session at once.
            session = [
                asyncio.create_task(self._read(pubsub)),
                asyncio.create_task(self._reconcile(pubsub)),
                asyncio.create_task(self._watch_liveness(pubsub)),
            ]
            try:
                done, _pending = await asyncio.wait(session, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # raises what ended the session
            finally:
                for task in session:
                    task.cancel()
                await asyncio.gather(*session, return_exceptions=True)
        finally:
            await pubsub.aclose()
            await client.aclose()

    def _end_session(self) -> None:
        self._needs_resync |= self.partners_subscribed()
        self._reset_session()
        self._wake_waiters()

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await _uncancelled(pubsub.get_message(timeout=None))
            self._last_seen = loop.time()
            if message is None:
                continue
            if message["type"] == "message":
                self._on_message(message["data"])
            elif message["type"] == "subscribe":
                self._on_subscribed(_text(message["channel"]))

    def _on_message(self, data: bytes) -> None:
        try:
            event = Event.from_json(data)
        except (EventDecodeError, TypeError) as error:
            log.warning("ignored a malformed event from Redis: %s", error)
            return
        self.dispatch(event)

    def _on_subscribed(self, channel: str) -> None:
        if channel == self._control_channel:
            self._connected = True
            if self._connected_once:
                self.reconnects += 1
                log.warning("Redis pub/sub connection re-established")
            else:
                log.info("Redis pub/sub connected (channels %s*)", self._partner_channel_prefix)
            self._connected_once = True
            self._settle_first_attempt(connected=True)
            return
        if not channel.startswith(self._partner_channel_prefix):
            return
        partner_id = int(channel.removeprefix(self._partner_channel_prefix))
        self._unconfirmed[partner_id] -= 1
        if self._unconfirmed[partner_id] > 0:
            return  # a later SUBSCRIBE of the same channel is still on its way
        del self._unconfirmed[partner_id]
        if partner_id not in self._sent:
            return
        self._confirmed.add(partner_id)
        self._wake_waiters(partner_id)
        if partner_id in self._needs_resync:
            self._needs_resync.discard(partner_id)
            self.dispatch(broker_notice(EventKind.BROKER_RECONNECTED, partner_id))

    async def _reconcile(self, pubsub: PubSub) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            wanted = self.partners_subscribed()
            added = wanted - self._sent
            removed = self._sent - wanted
            if added:
                self._sent |= added
                self._unconfirmed.update(added)
                channels = [self.channel(partner) for partner in sorted(added)]
                await _uncancelled(pubsub.subscribe(*channels))
            if removed:
                self._sent -= removed
                self._confirmed -= removed
                channels = [self.channel(partner) for partner in sorted(removed)]
                await _uncancelled(pubsub.unsubscribe(*channels))

    async def _watch_liveness(self, pubsub: PubSub) -> None:
        # A half-open TCP connection reports no error; only an unanswered PING reveals it.
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval / 2)
            idle = loop.time() - self._last_seen
            if idle >= 2 * self.ping_interval:
                raise ConnectionError(f"no reply from Redis for {idle:.0f} s")
            if idle >= self.ping_interval:
                await _uncancelled(pubsub.ping())


async def _uncancelled(operation: Awaitable[T]) -> T:
    """Await a redis-py call, and honour a cancellation that it swallowed.

    On Python 3.11, `asyncio.wait_for` (which redis-py uses for socket timeouts) returns
    the result when the operation finishes in the same loop turn as a cancellation, and
    the cancellation is lost: a session task would then never stop. The task's
    `cancelling()` count still records the request.
    """
    result = await operation
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _leaf_errors(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaf_errors(inner)]
    return [error]


def _is_connection_problem(error: BaseException) -> bool:
    return all(
        isinstance(leaf, RedisError | OSError | ConnectionError | TimeoutError)
        for leaf in _leaf_errors(error)
    )


def _describe(error: BaseException) -> str:
    leaf = _leaf_errors(error)[0]
    return f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
