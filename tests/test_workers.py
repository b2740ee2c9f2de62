"""`partnerdesk serve --workers 2`: two server processes on one port, on PostgreSQL and Redis.

Which process answers a request is read from the kernel, not from anything the server
exposes: the process holding the server's end of the connection (/proc/net/tcp and
/proc/PID/fd). `Pinned` is an HTTP client on one keep-alive connection, so every request it
sends reaches the same process. The refusals at start need neither database nor Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import ConfigError, Settings
from tests.browser import ROOT, ServerProcess
from tests.support import REGISTER_PARTNER, UPDATE_PROFILE, rendered_at
from tests.test_config import partnerdesk
from tests.ws_client import closed_with, session, subscribe

REDIS_URL = os.environ.get("PARTNERDESK_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    REDIS_URL is None,
    reason="needs PostgreSQL and Redis: set PARTNERDESK_TEST_BACKEND=postgres, "
    "PARTNERDESK_TEST_DATABASE_URL and PARTNERDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0",
)
SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted errors { code } } }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token errors { code } } }"
PROBE = "query WorkersProbe { __typename }"
NO_REDIS = (
    "partnerdesk: 2 server processes (--workers / PARTNERDESK_WORKERS) need "
    "PARTNERDESK_REDIS_URL: events and rate limits are shared over Redis"
)


# ---------------------------------------------------------------- which process answers


def server_processes(server: ServerProcess) -> set[int]:
    """The worker processes of a `serve --workers` parent (its spawned children)."""
    assert server.process is not None
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            if parent == server.process.pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
    return found


def accepting_process(server: ServerProcess, client_port: int) -> int:
    """The worker holding the server's end of the connection from `client_port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = (int(f.rsplit(":", 1)[1], 16) for f in fields[1:3])
        if (local_port, remote_port, fields[3]) == (server.port, client_port, "01"):  # ESTABLISHED
            inodes.add(f"socket:[{fields[9]}]")
    for pid in server_processes(server):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(descriptor) in inodes:
                    return pid
    raise AssertionError(f"no server process holds the connection from port {client_port}")


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Pinned:
    """An HTTP client on one keep-alive connection, and the server process that accepted it."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.http = httpx.Client(base_url=server.base_url, limits=limits, timeout=10)
        self.pid = self._answered_by(self.http.get("/healthz"))

    def _answered_by(self, response: httpx.Response) -> int:
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        return accepting_process(self.server, client_port)

    def graphql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert self._answered_by(response) == self.pid  # still the same connection
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


def pinned(server: ServerProcess, *, on: int | None = None, not_on: int | None = None) -> Pinned:
    """A connection accepted by process `on`, or by any process but `not_on`."""
    for _ in range(60):  # each new connection goes to whichever worker accepts first
        client = Pinned(server)
        if (on is None or client.pid == on) and client.pid != not_on:
            return client
        client.http.close()
    raise AssertionError(f"60 connections, none on the process wanted (on={on}, not on={not_on})")


# ---------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def environment(database_url: str) -> dict[str, str]:
    assert REDIS_URL is not None
    return {
        "PARTNERDESK_DATABASE_URL": database_url,
        "PARTNERDESK_REDIS_URL": REDIS_URL,
        # Its own channels and keys: other test runs may share this Redis at the same time.
        "PARTNERDESK_REDIS_PREFIX": f"pdtest-{uuid.uuid4().hex[:12]}",
        "PARTNERDESK_WORKERS": "2",
        "PARTNERDESK_RATE_LIMIT_REGISTER_IP": "1000/minute",
        "PARTNERDESK_RATE_LIMIT_INQUIRY_IP": "1000/minute",
        "PARTNERDESK_RATE_LIMIT_LOGIN_IP": "1000/minute",
        "PARTNERDESK_RATE_LIMIT_LOGIN_EMAIL": "2/minute",
    }


class TwoProcesses(ServerProcess):
    """`partnerdesk serve` with PARTNERDESK_WORKERS=2, ready when both processes serve. It
    migrates in its parent, so the separate `migrate` run of ServerProcess.start is left out."""

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import app, sys; sys.exit(app.main(['serve']))"],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_processes(self, 2, within=timeout)
        except AssertionError:
            self.stop()
            raise


@pytest.fixture(scope="module")
def server(
    environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    started = TwoProcesses(tmp_path_factory.mktemp("workers"), extra_environment=environment)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def wait_for_processes(server: ServerProcess, count: int, within: float = 20) -> set[int]:
    """The server's worker processes once `count` of them serve: the parent's last "N server
    processes serve on port P: pid, pid" line names them all (a replacement starts late)."""
    assert server.process is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"the server exited ({server.process.returncode}):\n{server.log()}"
            )
        workers = server_processes(server)
        announced = [line for line in server.log().splitlines() if "processes serve on" in line]
        serving = (
            {int(pid) for pid in announced[-1].split(": ")[-1].split(", ")} if announced else set()
        )
        if serving == workers and len(workers) == count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"not {count} server processes within {within} s:\n{server.log()}")


def public_partner(client: Pinned) -> tuple[str, str]:
    """(slug, owner's token) of a newly registered partner that accepts inquiries."""
    slug = f"workers-{uuid.uuid4().hex[:10]}"
    registered = client.graphql(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Workers",
                "slug": slug,
                "name": "Owner",
                "email": f"{slug}@example.com",
                "password": "long enough pw",
            }
        },
    )
    token = registered["registerPartner"]["token"]
    client.graphql(UPDATE_PROFILE, {"input": {"isPublic": True}}, token)
    return slug, token


# ---------------------------------------------------------------- stories


@pytest.mark.postgres_only
@needs_redis
def test_two_processes_answer_on_one_port(server: ServerProcess) -> None:
    # given: `serve` with PARTNERDESK_WORKERS=2
    workers = server_processes(server)
    assert len(workers) == 2 and server.process is not None
    assert server.process.pid not in workers  # the parent supervises, it serves nothing
    # when: clients connect to the one port until each process has taken a connection
    seen = {pinned(server).pid}
    seen.add(pinned(server, not_on=next(iter(seen))).pid)
    # then: both processes answered
    assert seen == workers


@pytest.mark.postgres_only
@needs_redis
async def test_a_mutation_served_by_one_process_reaches_a_subscriber_on_the_other(
    server: ServerProcess,
) -> None:
    # given: a public partner, and its dashboard subscribed through one process
    slug, token = await asyncio.to_thread(public_partner, pinned(server))
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with session(url, token) as socket:
        subscriber = await asyncio.to_thread(accepting_process, server, socket.local_address[1])
        await subscribe(socket, "subscription { inquiryReceived { name } }", "new")
        await asyncio.sleep(0.3)  # the subscription is registered with Redis
        # when: an inquiry is submitted through the other process
        other = await asyncio.to_thread(pinned, server, not_on=subscriber)
        inquiry = {
            "partnerSlug": slug,
            "name": "Across Processes",
            "email": "a@example.com",
            "message": "Hi",
            "privacyConsent": True,
            "renderedAt": rendered_at(),
        }
        submitted = await asyncio.to_thread(other.graphql, SUBMIT, {"input": inquiry})
        assert submitted["submitInquiry"]["accepted"] is True
        # then: the subscriber hears of it
        message = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert message["payload"]["data"] == {"inquiryReceived": {"name": "Across Processes"}}


@pytest.mark.postgres_only
@needs_redis
def test_a_rate_limit_counts_the_attempts_made_through_every_process(
    server: ServerProcess,
) -> None:
    # given: sign-in limited to 2 attempts per minute per e-mail, and one connection per process
    first = pinned(server)
    second = pinned(server, not_on=first.pid)
    attempt = {
        "input": {
            "realm": "PARTNER",
            "email": f"{uuid.uuid4().hex}@example.com",
            "password": "not the password",
        }
    }
    # when: one attempt is made through each process, then a third
    codes = [
        client.graphql(LOGIN, attempt)["login"]["errors"][0]["code"]
        for client in (first, second, first)
    ]
    # then: the third is refused, though neither process saw more than one attempt before it
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]


@pytest.mark.postgres_only
@needs_redis
def test_metrics_add_up_every_process_whichever_answers_the_scrape(server: ServerProcess) -> None:
    # given: 3 operations through one process and 2 through the other
    first = pinned(server)
    second = pinned(server, not_on=first.pid)
    for client in (first, first, first, second, second):
        client.graphql(PROBE)
    # when: /metrics is scraped through either
    for client in (first, second):
        text = client.http.get("/metrics").text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        # then: it counts all five
        key = (
            "partnerdesk_graphql_operations_total",
            (("operation", "WorkersProbe"), ("outcome", "ok")),
        )
        assert samples[key] == 5


@pytest.mark.postgres_only
@needs_redis
def test_a_second_server_on_the_same_port_is_refused(
    server: ServerProcess, environment: dict[str, str]
) -> None:
    # given: a server with two processes, each with its own SO_REUSEPORT socket on the port
    # when: another `serve --workers 2` is started on that port
    second = partnerdesk(["serve"], {**server.environment(), **environment})
    # then: it cannot listen there (it does not quietly take a share of the connections)
    assert second.returncode == 3, second.stderr
    assert f"cannot listen on 127.0.0.1:{server.port}" in second.stderr
    assert "Address already in use" in second.stderr


@pytest.mark.postgres_only
@needs_redis
def test_a_process_that_dies_is_replaced_while_the_other_serves(server: ServerProcess) -> None:
    # given: two serving processes
    before = server_processes(server)
    lost = min(before)
    survivor = pinned(server, not_on=lost)
    # when: one is killed
    os.kill(lost, signal.SIGKILL)
    # then: the other goes on answering, and a new process takes the place of the lost one
    assert survivor.graphql(PROBE) == {"__typename": "Query"}
    after = wait_for_processes(server, 2)
    assert lost not in after and (before - {lost}) <= after
    assert f"server process {lost} ended (exit status -9); starting another" in server.log()


@pytest.mark.postgres_only
@needs_redis
async def test_sigterm_ends_every_process_gracefully_with_status_0(
    environment: dict[str, str], tmp_path: Path
) -> None:
    server = TwoProcesses(tmp_path, extra_environment=environment)
    await asyncio.to_thread(server.start)
    try:
        assert server.process is not None
        workers = server_processes(server)
        # given: a live subscription
        _slug, token = await asyncio.to_thread(public_partner, pinned(server))
        url = server.base_url.replace("http://", "ws://") + "/graphql"
        async with session(url, token) as socket:
            await subscribe(socket, "subscription { inquiryReceived { name } }", "new")
            # when: the deploy sends SIGTERM to the parent
            server.process.send_signal(signal.SIGTERM)
            # then: the socket is told to reconnect elsewhere
            code, _messages = await closed_with(socket, within=10)
            assert code in (1001, 1012)
        # and every process ends, the parent with status 0
        status = await asyncio.to_thread(server.process.wait, 30)
        assert status == 0, server.log()
        assert not any(running(pid) for pid in workers)
        assert "Traceback" not in server.log()
    finally:
        server.stop()


# ---------------------------------------------------------------- refusals at start


def test_several_processes_without_redis_are_refused_with_one_line(tmp_path: Path) -> None:
    # given: no PARTNERDESK_REDIS_URL
    env = {
        "PARTNERDESK_DATABASE_URL": f"sqlite://{tmp_path / 'x.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    # when: `serve` is asked for two processes
    result = partnerdesk(["serve", "--workers", "2"], env)
    # then: it stops before doing anything, with one line naming what is missing
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [NO_REDIS]
    assert not (tmp_path / "x.sqlite3").exists()  # not even migrated


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("two", "must be a whole number"),
        ("1.5", "must be a whole number"),
        ("0", "must be between 1 and 64"),
        ("-2", "must be between 1 and 64"),
    ],
)
def test_a_process_count_that_is_not_a_whole_number_from_1_is_refused(
    value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"PARTNERDESK_WORKERS": value})
    assert str(refused.value) == f"PARTNERDESK_WORKERS={value!r} is invalid: {problem}"
    with pytest.raises(ConfigError) as refused:
        Settings().with_option("workers", value, "--workers")
    assert str(refused.value) == f"--workers={value!r} is invalid: {problem}"


def test_the_command_line_refuses_a_bad_process_count_with_one_line() -> None:
    result = partnerdesk(["serve", "--workers", "two"], {"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "partnerdesk: --workers='two' is invalid: must be a whole number"
    )


def test_one_process_is_the_default_and_the_delivery_worker_ignores_the_count() -> None:
    assert Settings.from_env({}).workers == 1
    Settings.from_env({}).check_for_serving(delivers_mail=False, serves_http=True)
    # `partnerdesk worker` serves no HTTP: a shared environment's PARTNERDESK_WORKERS is not its
    several = Settings.from_env({"PARTNERDESK_WORKERS": "4"})
    several.check_for_serving(delivers_mail=True, serves_http=False)
    with pytest.raises(ConfigError, match="PARTNERDESK_REDIS_URL"):
        several.check_for_serving(delivers_mail=True, serves_http=True)
