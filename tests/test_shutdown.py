"""SIGTERM on a real `partnerdesk serve`: in-flight requests finish, sockets close 1012, exit 0.

The slow request is a real one: a sign-in whose INSERT waits for the SQLite write lock
this test holds, as any request waits for a lock in production.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.browser import ServerProcess
from tests.support import GraphQLClient, register_partner
from tests.ws_client import closed_with, next_data, session, subscribe

# `partnerdesk serve` on its own SQLite database, whatever the backend under test.
pytestmark = pytest.mark.no_test_database

LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token errors { code } } }"


async def test_sigterm_lets_requests_finish_closes_sockets_for_reconnection_and_exits_0(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path, extra_environment={"PARTNERDESK_SHUTDOWN_GRACE_SECONDS": "15"})
    server.start()
    assert server.process is not None
    lock = sqlite3.connect(tmp_path / "partnerdesk.sqlite3", timeout=5, isolation_level=None)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            api = GraphQLClient(http)
            partner = await register_partner(api)
            websocket_url = server.base_url.replace("http://", "ws://") + "/graphql"
            async with session(websocket_url, partner.token) as socket:
                # given: a live subscription, and a sign-in waiting for the database
                await subscribe(socket, "subscription { pendingCounts { invitations } }")
                await next_data(socket)
                lock.execute("BEGIN IMMEDIATE")
                credentials = {
                    "realm": "PARTNER",
                    "email": partner.email,
                    "password": partner.password,
                }
                sign_in = asyncio.create_task(api.mutate(LOGIN, {"input": credentials}))
                await asyncio.sleep(0.5)
                assert not sign_in.done()

                # when: the deploy sends SIGTERM
                server.process.send_signal(signal.SIGTERM)

                # then: the socket is told to reconnect elsewhere
                code, _messages = await closed_with(socket, within=5)
                assert code in (1001, 1012)
                # and no new connection is accepted
                with pytest.raises(httpx.ConnectError):
                    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as fresh:
                        await fresh.get("/healthz")
                # and the request in flight still completes once the lock is gone
                lock.execute("ROLLBACK")
                payload = await asyncio.wait_for(sign_in, 10)
                assert payload["token"]
        # and the process ends cleanly
        status = await asyncio.to_thread(server.process.wait, 20)
        assert status == 0, server.log()
        assert "Traceback" not in server.log()
    finally:
        lock.close()
        server.stop()
