"""An open-loop load generator: requests at a fixed arrival rate, latency from the schedule.

A closed-loop tool (wrk) sends the next request when the last one is answered, so a
slow server is simply asked less and its queueing never shows. Here request k is due at
start + k / rate whatever happened before (wrk2's model; wrk2 is not in Debian): it is
sent when due, and its latency runs from when it was due to when its answer arrived, so
time spent waiting for a connection or in a queue counts. At most MAX_IN_FLIGHT
requests are outstanding; a request due while that many are is not sent and counts as
an error (the server has fallen a second behind).

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop): at 200
requests a second a general-purpose client (httpx) took most of a core on this 2-core
machine, which the servers under test then lacked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_IN_FLIGHT = 200
TIMEOUT = 10.0
# uvicorn closes a keep-alive connection idle for 5 s; reuse only younger ones.
IDLE_SECONDS = 4.0


@dataclass(frozen=True)
class Request:
    kind: str  # Q1..Q4, M1..M4
    server: int  # index into the server URLs
    body: bytes
    token: str | None
    ok_marker: bytes = b""  # must appear in the answer (e.g. an accepted form)


@dataclass(frozen=True)
class Outcome:
    due: float  # seconds after the start the request was due
    latency_ms: float
    kind: str
    server: int
    error: str | None  # None: a clean answer


def judged(request: Request, status: int, content: bytes) -> str | None:
    """Why an answer is not clean: not 200, a GraphQL error or a payload error, or no marker."""
    if status != 200:
        return f"HTTP {status}: {content[:200]!r}"
    if b'"message"' in content:
        return f"error in answer: {content[:300]!r}"
    if request.ok_marker and request.ok_marker not in content:
        return f"not accepted: {content[:300]!r}"
    return None


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, one request at a time on each."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.all: set[asyncio.StreamWriter] = set()

    async def post(self, content: bytes, token: str | None) -> tuple[int, bytes]:
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + f"Content-Length: {len(content)}\r\n\r\n"
        ).encode() + content
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < IDLE_SECONDS:
                try:
                    return await self._exchange(reader, writer, request)
                except asyncio.IncompleteReadError as failure:
                    if failure.partial:
                        raise
                    # Closed by the server while idle, before it read the request (a
                    # keep-alive timeout): nothing was done; send it on another connection.
            self._drop(writer)
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.all.add(writer)
        return await self._exchange(reader, writer, request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(request)
            status, answer, keep = await _response(reader)
        except BaseException:
            self._drop(writer)
            raise
        if keep:
            self.idle.append((reader, writer, time.monotonic()))
        else:
            self._drop(writer)
        return status, answer

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self.all.discard(writer)
        writer.close()

    def close(self) -> None:
        for writer in self.all:
            writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        content = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        content = b"".join(chunk[:-2] for chunk in chunks)
    else:
        content = await reader.read()
        return status, content, False
    return status, content, fields.get("connection", "").lower() != "close"


@dataclass
class OpenLoop:
    urls: Sequence[str]
    outcomes: list[Outcome] = field(default_factory=list)

    async def run(
        self, rate: float, seconds: float, next_request: Callable[[int], Request]
    ) -> list[Outcome]:
        """Send `rate` requests a second for `seconds`; every request's outcome."""
        pools = [Connections(url) for url in self.urls]
        pending: set[asyncio.Task[None]] = set()
        total = int(rate * seconds)

        async def send(request: Request, due: float, offset: float) -> None:
            try:
                status, content = await asyncio.wait_for(
                    pools[request.server].post(request.body, request.token), TIMEOUT
                )
                error = judged(request, status, content)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as failure:
                error = f"{type(failure).__name__}: {failure}"
            latency = (time.monotonic() - due) * 1000
            self.outcomes.append(Outcome(offset, latency, request.kind, request.server, error))

        start = time.monotonic() + 0.2
        try:
            for k in range(total):
                offset = k / rate
                due = start + offset
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                request = next_request(k)
                if len(pending) >= MAX_IN_FLIGHT:
                    self.outcomes.append(
                        Outcome(
                            offset,
                            0.0,
                            request.kind,
                            request.server,
                            "not sent: too many in flight",
                        )
                    )
                    continue
                task = asyncio.create_task(send(request, due, offset))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending, timeout=TIMEOUT + 5)
        finally:
            for pool in pools:
                pool.close()
        return self.outcomes


async def open_loop(
    urls: Sequence[str], rate: float, seconds: float, next_request: Callable[[int], Request]
) -> list[Outcome]:
    return await OpenLoop(urls).run(rate, seconds, next_request)
