"""Counting SQL statements on the wire: a PostgreSQL protocol proxy between a server and the database.

A server under test is started with its database URL pointing at the proxy. The proxy
forwards every byte and reads the client's side of the frontend/backend protocol:
a simple Query message ('Q') is one statement, and on the extended protocol every
Execute ('E') runs the statement its portal was bound to (Bind 'B' names the statement
that Parse 'P' prepared). Whatever sends the SQL — Tortoise, raw asyncpg, node-postgres —
is counted the same way, including connection-pool housekeeping such as asyncpg's reset
query on release. Round trips are the messages the client then waits on: Sync ('S')
and simple Query. Parse ('P') messages are counted too: a server that reuses its prepared
statements sends none for a request like an earlier one.

The proxy answers an SSLRequest with "N" itself, so the conversation stays plain text.
Loopback only; used for a handful of requests, never under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
from collections import Counter
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
TRANSACTION_CONTROL = ("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE")
# asyncpg sends this (one simple Query) whenever a pooled connection is released.
POOL_RESET_MARKER = "pg_advisory_unlock_all"
KEYWORD = re.compile(r"[A-Z]+")


def classify(sql: str) -> str:
    """'auth', 'data', 'transaction', 'pool reset' or 'other' for one statement's text."""
    text = sql.lstrip(" \t\r\n(").upper()
    if POOL_RESET_MARKER.upper() in text:
        return "pool reset"
    match = KEYWORD.match(text)
    keyword = match.group(0) if match else ""
    if keyword in TRANSACTION_CONTROL:
        return "transaction"
    if keyword in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"):
        # A token look-up reads the token (and who it belongs to) only; a statement that
        # also reads or writes other rows is a data statement that checks the token as it
        # goes (schema/compiled.py, the reference's one-statement variants).
        tables = {name.strip('"').lower() for name in TABLE.findall(text)}
        if "AUTH_TOKEN" in text and tables <= AUTH_TABLES:
            return "auth"
        return "data"
    return "other"


TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+("?[A-Z_][A-Z0-9_]*"?)')
AUTH_TABLES = {"auth_token", "partner_member", "account_holder"}


def checks_token(sql: str) -> bool:
    return classify(sql) == "data" and "AUTH_TOKEN" in sql.upper()


@dataclass
class Tally:
    """What went over the wire since the last reset, in order."""

    statements: list[str] = field(default_factory=list)
    round_trips: int = 0
    parses: int = 0  # statements prepared (Parse) rather than reused

    def kinds(self) -> Counter[str]:
        return Counter(classify(sql) for sql in self.statements)

    def summary(self) -> dict[str, object]:
        kinds = self.kinds()
        return {
            "sql": kinds["auth"] + kinds["data"],  # statements that read or write rows
            "auth": kinds["auth"],
            "data": kinds["data"],
            "token_checked": sum(1 for sql in self.statements if checks_token(sql)),
            "transaction": kinds["transaction"],
            "pool_reset": kinds["pool reset"],
            "other": kinds["other"],
            "round_trips": self.round_trips,
            "parses": self.parses,
            "statements": [" ".join(sql.split())[:300] for sql in self.statements],
        }


class CountingProxy:
    """`async with CountingProxy(upstream_port=5432) as proxy:` then point a server at proxy.port."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.tally = Tally()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.tally = Tally()

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        server_writer: asyncio.StreamWriter | None = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
            backwards = asyncio.create_task(_pipe(server_reader, client_writer))
            self._tasks.add(backwards)
            try:
                await self._client_to_server(client_reader, client_writer, server_writer)
            finally:
                backwards.cancel()
                self._tasks.discard(backwards)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a closed connection, or the proxy shutting down: nothing to count
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
            self._tasks.discard(task)

    async def _client_to_server(
        self,
        reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        server_writer: asyncio.StreamWriter,
    ) -> None:
        # Start-up phase: untyped messages (length, code, ...).
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                client_writer.write(b"N")  # "not supported": the client goes on in plain text
                await client_writer.drain()
                continue
            server_writer.write(head + rest)
            await server_writer.drain()
            break
        prepared: dict[bytes, str] = {}
        portals: dict[bytes, str] = {}
        while True:
            head = await reader.readexactly(5)
            kind = head[:1]
            (length,) = struct.unpack("!i", head[1:])
            body = await reader.readexactly(length - 4)
            server_writer.write(head + body)
            await server_writer.drain()
            if kind == b"Q":
                self.tally.statements.append(body.rstrip(b"\0").decode(errors="replace"))
                self.tally.round_trips += 1
            elif kind == b"P":
                name, _, rest = body.partition(b"\0")
                prepared[name] = rest.partition(b"\0")[0].decode(errors="replace")
                self.tally.parses += 1
            elif kind == b"B":
                portal, _, rest = body.partition(b"\0")
                portals[portal] = prepared.get(rest.partition(b"\0")[0], "?")
            elif kind == b"E":
                portal = body.partition(b"\0")[0]
                self.tally.statements.append(portals.get(portal, "?"))
            elif kind == b"S":
                self.tally.round_trips += 1
            elif kind == b"X":
                return


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.close()
