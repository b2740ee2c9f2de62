"""A webhook receiver for the tests: an ASGI app under uvicorn on a loopback port.

It verifies every delivery with the `standardwebhooks` package, exactly as a receiver of
ours would, records what it accepted (by webhook-id, so duplicates show), and misbehaves on
request: each entry of `faults` is used by one request ("500", "410", "hang", "redirect",
"huge"). Stopped, it refuses connections; started again, it listens on the same port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError

HANG_SECONDS = 1.0  # past the tests' attempt deadline, within the shutdown grace
HUGE_CHUNKS = 64  # of 64 KiB: 4 MiB, sent slowly


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """The ASGI app and its record. Set `secret` to the endpoint's before deliveries arrive."""

    port: int = field(default_factory=free_port)
    secret: str | None = None
    faults: list[str] = field(default_factory=list)
    delay: float = 0.0
    accepted: list[Received] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    refused_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/partnerdesk"

    @property
    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(received.webhook_id for received in self.accepted)

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()
            self.paths.clear()
            self.faults.clear()
            self.refused_signatures = 0
            self.delay = 0.0

    # ------------------------------------------------------------ serving

    async def start(self) -> None:
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.paths.append(scope["path"])
            fault = self.faults.pop(0) if self.faults else None
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        if fault == "hang":
            await asyncio.sleep(HANG_SECONDS)  # the sender has given up by now
            return await _answer(send, 503)
        if fault == "redirect":
            return await _answer(send, 302, [(b"location", b"/elsewhere")])
        if fault in {"500", "410"}:
            return await _answer(send, int(fault), body=b"receiver says no")
        if not self._verified(raw, headers):
            return await _answer(send, 401)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.accepted.append(
                Received(
                    webhook_id=headers["webhook-id"],
                    timestamp=headers["webhook-timestamp"],
                    signature=headers["webhook-signature"],
                    body=orjson.loads(raw),
                    raw=raw,
                    headers=headers,
                )
            )
        if fault == "huge":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(HUGE_CHUNKS):
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
            return None
        return await _answer(send, 204)

    def _verified(self, raw: bytes, headers: dict[str, str]) -> bool:
        if self.secret is None:
            return True
        try:
            Webhook(self.secret).verify(raw, headers)
        except WebhookVerificationError:
            with self.lock:
                self.refused_signatures += 1
            return False
        return True


async def _answer(
    send: Any, status: int, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b""
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def verifies(secret: str, received: Received) -> bool:
    """Whether a receiver holding `secret` accepts `received` (standardwebhooks' own check)."""
    try:
        Webhook(secret).verify(received.raw, received.headers)
    except WebhookVerificationError:
        return False
    return True
