"""Bodies, query strings and websocket frames are bounded while they arrive (issue 10, item 3).

Against a real `partnerdesk serve`: an unauthenticated client streaming a huge chunked body
(no Content-Length) is refused at PARTNERDESK_MAX_BODY_BYTES without the server reading
the rest, and the server's peak memory barely moves.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.browser import ServerProcess
from tests.ws_client import PROTOCOL

MIB = 1024 * 1024
# Below uvicorn's own bound on a request line (about 64 KiB), so the app's checks are the
# ones that answer.
LIMIT = 8192
# `partnerdesk serve` on its own SQLite database, started once for the module.
pytestmark = pytest.mark.no_test_database


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    environment = {
        "PARTNERDESK_MAX_BODY_BYTES": str(LIMIT),
        "PARTNERDESK_MAX_WS_MESSAGE_BYTES": str(LIMIT),
    }
    process = ServerProcess(tmp_path_factory.mktemp("size"), extra_environment=environment)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _peak_rss_kib(server: ServerProcess) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1])


def _send_chunked(port: int, total: int, chunk: int = 64 * 1024) -> str:
    """POST `total` bytes as a chunked body; the status line the server answered with."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
        sent = 0
        try:
            while sent < total:
                connection.sendall(piece)
                sent += chunk
            connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what it should do
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = connection.recv(4096)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def test_a_huge_chunked_body_is_refused_while_it_streams(server: ServerProcess) -> None:
    # given the server's peak memory so far
    before = _peak_rss_kib(server)
    # when a visitor streams 50 MiB without a Content-Length
    status_line = _send_chunked(server.port, 50 * MIB)
    # then it is refused with 413, and the peak memory grew by far less than the body
    assert " 413 " in status_line, status_line
    growth = _peak_rss_kib(server) - before
    assert growth < 16 * 1024, f"peak RSS grew by {growth} KiB"


def test_a_body_at_the_limit_is_still_answered(server: ServerProcess) -> None:
    skeleton = json.dumps({"query": "{ viewer { realm } }", "padding": ""}).encode()
    body = json.dumps({"query": "{ viewer { realm } }", "padding": "x" * (LIMIT - len(skeleton))})
    response = httpx.post(
        f"{server.base_url}/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text


def test_an_overlong_query_string_is_refused(server: ServerProcess) -> None:
    # given a GET whose query string is one byte over the limit (httpx refuses to send one)
    query_string = b"query=" + b"%20" * ((LIMIT + 1 - 6) // 3 + 1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"GET /graphql?" + query_string + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    # then it is refused as too long, with the limit named
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 414 " in status_line, status_line
    assert f"at most {LIMIT} bytes".encode() in rest


async def test_an_oversized_websocket_frame_closes_the_socket(server: ServerProcess) -> None:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with connect(url, subprotocols=[PROTOCOL], max_size=None) as socket_:  # type: ignore[list-item]
        await socket_.send(
            json.dumps({"type": "connection_init", "payload": {"x": "y" * (LIMIT + 1)}})
        )
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket_.recv(), 5)
        assert socket_.close_code == 1009  # message too big
