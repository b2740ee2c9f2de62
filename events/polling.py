"""The loop every outbox worker runs: e-mails (mailers/worker.py) and webhooks (webhooks/worker.py).

A worker handles due rows in batches (`run_once`: claim with a lease, send, record). Between
batches it waits until the next row is due, until a commit wakes it (`wake_workers(kind)`,
called after commit by whoever queues rows), or until the poll interval has passed, because rows
queued by another process only show up on the poll. An error in a batch (the database is
away, a bug) is logged and backed off, never fatal. `stop()` lets the batch finish what it
is sending and release the rest for any worker.

It lives here, below mailers/ and webhooks/, because both run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import weakref
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.connection import get_connection

from telemetry.metrics import OutboxState

MAX_BACKOFF_SECONDS = 3600.0


def backoff_seconds(attempts: int, base: float) -> float:
    """Full jitter: uniform in [0, base * 2^(attempts-1)], capped at an hour."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2 ** min(attempts - 1, 40))
    return random.uniform(0, ceiling)


async def outbox_state(table: str, waiting: Sequence[str]) -> OutboxState:
    """How many rows of an outbox wait (statuses `waiting`) and the age of the oldest, for /metrics."""
    # One aggregate over the (status, next_attempt_at) index: cheap at every scrape. The table
    # and statuses are our constants, never input.
    statuses = ", ".join(f"'{status}'" for status in waiting)
    _count, rows = await get_connection("default").execute_query(
        f"SELECT COUNT(*) AS queued, MIN(queued_at) AS oldest FROM {table}"
        f" WHERE status IN ({statuses})"
    )
    queued, oldest = rows[0]["queued"], rows[0]["oldest"]
    if not queued or oldest is None:
        return OutboxState(0, 0.0)
    if isinstance(oldest, str):  # SQLite hands aggregates back as text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return OutboxState(queued, max(0.0, (datetime.now(UTC) - oldest).total_seconds()))


def new_worker_id() -> str:
    """host-pid-random: unique among live workers, and says where a lease holder runs."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"


def now() -> datetime:
    return datetime.now(UTC)


# kind -> this process's live workers of that kind (see wake_workers).
_workers_by_kind: dict[str, weakref.WeakSet[PollingWorker]] = defaultdict(weakref.WeakSet)


def wake_workers(kind: str) -> None:
    """Wake this process's workers of `kind`: rows were committed for them (call after commit).

    By name rather than by class, so the code that queues rows needs no import of its worker.
    """
    for worker in list(_workers_by_kind[kind]):
        worker.notify()


class PollingWorker:
    """Runs `run_once()` until stopped; subclasses claim, send and record one batch there."""

    kind = "worker"  # "mail worker", "webhook worker": wake_workers(kind), logs, the task's name
    log = logging.getLogger("partnerdesk.worker")

    def __init__(
        self, *, batch_size: int, poll_seconds: float, worker_id: str | None, stop_grace: float
    ) -> None:
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or new_worker_id()
        self.stop_grace = stop_grace
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._batches = 0
        self._next_due: datetime | None = None
        _workers_by_kind[self.kind].add(self)

    # ------------------------------------------------------------ what subclasses provide

    async def run_once(self) -> int:
        """Claim and handle one batch of due rows; the number of rows claimed."""
        raise NotImplementedError

    async def release(self) -> None:
        """Let go of what an idle worker should not hold (an open connection)."""

    # ------------------------------------------------------------ lifecycle

    @property
    def stopping(self) -> bool:
        return self._stopping

    def next_batch_token(self) -> str:
        """The lease holder's name for the next batch: this worker and the batch number."""
        self._batches += 1
        return f"{self.worker_id}/{self._batches}"[:64]

    def note_next_due(self, when: datetime) -> None:
        """A row of ours becomes due at `when`: wake up then rather than at the next poll."""
        if self._next_due is None or when < self._next_due:
            self._next_due = when

    def notify(self) -> None:
        """Wake the worker now instead of at its next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the worker to stop after what it is sending (signal-handler safe)."""
        self._stopping = True
        self._wake.set()

    def start(self) -> asyncio.Task[None]:
        """Run the worker as a task of the running loop (inherits the Tortoise context)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"{self.kind}-{self.worker_id}")
        return self._task

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Finish the current sends, release unsent claimed rows, close connections."""
        self.request_stop()
        task, self._task = self._task, None
        if task is None:  # driven by run_once() alone
            await self.release()
            return
        done, _ = await asyncio.wait({task}, timeout=grace_seconds or self.stop_grace)
        if not done:
            self.log.warning("%s %s did not stop in time; cancelling it", self.kind, self.worker_id)
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> None:
        """Handle batches until stopped: at once while rows are due, else wait for a wake-up or poll."""
        self.log.debug("%s %s started", self.kind, self.worker_id)
        failures_in_a_row = 0
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    handled = await self.run_once()
                    failures_in_a_row = 0
                except Exception:  # the database or a bug; keep the worker alive and back off
                    failures_in_a_row += 1
                    self.log.exception("%s %s: batch failed", self.kind, self.worker_id)
                    await self.release()
                    await self._idle(min(30.0, self.poll_seconds * 2**failures_in_a_row))
                    continue
                if handled < self.batch_size:
                    await self.release()
                    await self._idle(self._seconds_until_next_due())
        finally:
            await self.release()
            self.log.debug("%s %s stopped", self.kind, self.worker_id)

    async def _idle(self, seconds: float) -> None:
        if self._stopping or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _seconds_until_next_due(self) -> float:
        seconds = self.poll_seconds
        if self._next_due is not None:
            seconds = min(seconds, (self._next_due - now()).total_seconds())
            self._next_due = None
        return seconds


async def run_until_signalled(workers: Sequence[PollingWorker]) -> None:
    """`partnerdesk worker`: run `workers` until SIGTERM or SIGINT, then stop each cleanly."""
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for worker in workers:
            worker.request_stop()

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop_all)
    try:
        await asyncio.gather(*(worker.run() for worker in workers))
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signal_number)
