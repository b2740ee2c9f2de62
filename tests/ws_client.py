"""A graphql-transport-ws client for the tests: sessions, subscribe, and reading what arrives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def session(url: str, token: str | None) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, initialised (and acknowledged) with `token`."""
    async with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        reply = json.loads(await asyncio.wait_for(socket.recv(), 3))
        assert reply["type"] == "connection_ack", reply
        yield socket


async def subscribe(
    socket: ClientConnection,
    query: str,
    operation_id: str = "1",
    variables: dict[str, Any] | None = None,
) -> None:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    await socket.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))


async def next_message(socket: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def next_data(socket: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    while True:
        message = await next_message(socket, timeout)
        if message["type"] == "next":
            return message["payload"]
        if message["type"] in ("error", "complete"):
            raise AssertionError(message)


async def answer_of(
    socket: ClientConnection,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_id: str = "q",
) -> dict[str, Any]:
    """A query or mutation sent over the socket: its one `next` payload (then `complete`), or
    {"errors": [...]} for an `error` message."""
    await subscribe(socket, query, operation_id, variables)
    message = await next_message(socket)
    if message["type"] == "error":
        return {"errors": message["payload"]}
    assert message["type"] == "next" and message["id"] == operation_id, message
    done = await next_message(socket)
    assert done == {"id": operation_id, "type": "complete"}, done
    return message["payload"]


async def nothing_arrives(socket: ClientConnection, within: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.recv(), within)


async def closed_with(
    socket: ClientConnection, within: float = 3.0
) -> tuple[int | None, list[dict[str, Any]]]:
    """(close code, the messages that arrived before the socket closed)."""
    messages = []
    with pytest.raises(ConnectionClosed):
        while True:
            messages.append(json.loads(await asyncio.wait_for(socket.recv(), within)))
    return socket.close_code, messages


async def rejected_with(url: str, payload: dict[str, Any] | None) -> int | None:
    async with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        if payload is not None:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(socket.recv(), 3)
        return socket.close_code
