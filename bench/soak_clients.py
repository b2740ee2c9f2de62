"""The soak's live subscribers: graphql-transport-ws clients in a process of their own.

Each subscriber signs in with `connection_init` {"authorization": "Bearer <token>"},
subscribes once and counts the `next` messages it gets; a socket that closes, or a
message of type `error`, is counted against it. The process obeys (command, args) from
the parent over a pipe, so the load generator's process does not also decode a few
thousand websocket messages a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

PROTOCOL = "graphql-transport-ws"
OPEN_TIMEOUT = 60.0


class Subscribers:
    """The subscribers of one client process."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.counts: list[int] = []
        self.problems: list[str] = []

    async def open(
        self, plan: list[tuple[str, str]], query: str, concurrency: int
    ) -> dict[str, Any]:
        """One subscriber per (websocket URL, token) of `plan`."""
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        self.counts = [0] * len(plan)
        self.sockets = [None] * len(plan)

        async def one(index: int, url: str, token: str) -> None:
            async with gate:
                socket = await connect(
                    url,
                    subprotocols=[PROTOCOL],  # type: ignore[list-item]
                    ping_interval=None,
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=2,
                    max_size=2**20,
                )
                init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                await socket.send(json.dumps(init))
                ack = json.loads(await asyncio.wait_for(socket.recv(), OPEN_TIMEOUT))
                if ack.get("type") != "connection_ack":
                    await socket.close()
                    raise RuntimeError(f"not acknowledged: {ack}")
                await socket.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}})
                )
            self.sockets[index] = socket
            self.readers.append(asyncio.create_task(self._read(index, socket)))

        outcomes = await asyncio.gather(
            *(one(index, url, token) for index, (url, token) in enumerate(plan)),
            return_exceptions=True,
        )
        errors = [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
        return {
            "opened": len(plan) - len(errors),
            "errors": errors[:3],
            "seconds": time.monotonic() - started,
        }

    async def _read(self, index: int, socket: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in socket:
                # Cheap on the hot path: nearly every message is a `next` (quotes inside the
                # payload's strings are escaped, so this text is the message's own type).
                if '"type": "next"' in message or '"type":"next"' in message:
                    self.counts[index] += 1
                elif json.loads(message).get("type") in ("error", "complete"):
                    self.problems.append(f"subscriber {index}: {message[:300]}")
        except ConnectionClosed as closed:
            self.problems.append(f"subscriber {index}: socket closed ({closed})")
            return
        self.problems.append(f"subscriber {index}: socket closed by the server")

    async def counts_now(self) -> dict[str, Any]:
        return {
            "counts": list(self.counts),
            "problems": self.problems[:20],
            "problem_count": len(self.problems),
        }

    async def close(self) -> dict[str, Any]:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(
            *(socket.close() for socket in self.sockets if socket is not None),
            return_exceptions=True,
        )
        return {"closed": len(self.sockets)}


def client_process(commands: Connection) -> None:
    """Entry point of the client process: obey (command, args) until "exit"."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, hard)), hard))

    async def serve() -> None:
        subscribers = Subscribers()
        handlers = {
            "open": subscribers.open,
            "counts": subscribers.counts_now,
            "close": subscribers.close,
        }
        while True:
            command, args = await asyncio.to_thread(commands.recv)
            if command == "exit":
                commands.send({})
                return
            try:
                reply = await handlers[command](*args)
            except Exception as error:  # reported to the parent, which stops the soak
                reply = {"error": repr(error)}
            commands.send(reply)

    asyncio.run(serve())


@dataclass
class SubscriberProcess:
    """The parent's handle on the client process."""

    pipe: Connection | None = None
    process: Any = None
    replies: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(target=client_process, args=(child_end,), daemon=True)
        self.process.start()

    async def ask(self, command: str, *args: Any, within: float = 120.0) -> dict[str, Any]:
        assert self.pipe is not None
        pipe = self.pipe
        pipe.send((command, args))

        def receive() -> dict[str, Any]:
            if not pipe.poll(within):
                return {"error": f"no answer to {command} within {within:.0f} s"}
            reply: dict[str, Any] = pipe.recv()
            return reply

        reply = await asyncio.to_thread(receive)
        if "error" in reply:
            raise RuntimeError(f"subscriber process: {reply['error']}")
        return reply

    def stop(self) -> None:
        if self.pipe is not None:
            with contextlib.suppress(OSError):
                self.pipe.send(("exit", ()))
        if self.process is not None:
            self.process.join(timeout=20)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=5)
