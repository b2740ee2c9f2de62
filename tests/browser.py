"""Helpers for browser tests: Debian's Chromium, a real `partnerdesk serve`, request recording.

Chromium comes from the Debian package `chromium` (installed here when missing and we
are root) and is driven by Playwright's Python package; Playwright's own browser
downloads are never used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}


def ensure_chromium() -> tuple[Path | None, str]:
    """(path, "") when Chromium is there or could be installed; (None, reason) otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM, ""
    if os.geteuid() != 0:
        return None, (
            f"{CHROMIUM} is missing and installing it needs root: "
            "run `sudo apt-get install -y chromium` (or `make browser` as root)"
        )
    if shutil.which("apt-get") is None:
        return None, f"{CHROMIUM} is missing and there is no apt-get to install it with"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=environment)
    if result.returncode != 0:  # a fresh machine may not have the package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, env=environment)
        result = subprocess.run(install, capture_output=True, text=True, env=environment)
    if result.returncode != 0 or not CHROMIUM.exists():
        return None, f"could not install chromium: {result.stderr.strip()[-500:]}"
    return CHROMIUM, ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    """`partnerdesk serve` in a subprocess, on a loopback port and its own SQLite database."""

    workdir: Path
    extra_environment: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def environment(self) -> dict[str, str]:
        inherited = {
            name: value for name, value in os.environ.items() if not name.startswith("PARTNERDESK_")
        }
        # The read path of the pass under test (`make test` runs the suite with it off too).
        read_path = {
            name: os.environ[name] for name in ("PARTNERDESK_COMPILED_READS",) if name in os.environ
        }
        return {
            **inherited,
            **read_path,
            "PARTNERDESK_DATABASE_URL": f"sqlite://{self.workdir / 'partnerdesk.sqlite3'}",
            "PARTNERDESK_HOST": "127.0.0.1",
            "PARTNERDESK_PORT": str(self.port),
            "PARTNERDESK_MAIL_WORKER": "false",
            "PARTNERDESK_PASSWORD_HASH_PROFILE": "fast",
            **self.extra_environment,
        }

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        environment = self.environment()
        migrate = subprocess.run(
            [sys.executable, "-c", "import app, sys; sys.exit(app.main(['migrate']))"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import app, sys; sys.exit(app.main(['serve']))"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def execute_sql(self, sql: str, parameters: tuple[object, ...] = ()) -> None:
        """Run one statement on the server's own SQLite database (test set-up the API does not
        offer, e.g. marking an address verified as the e-mailed link would)."""
        with sqlite3.connect(self.workdir / "partnerdesk.sqlite3") as connection:
            connection.execute(sql, parameters)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def running_server(workdir: Path, **environment: str) -> Iterator[ServerProcess]:
    server = ServerProcess(workdir, extra_environment=environment)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def leaves_loopback(url: str) -> bool:
    """True for a URL that would reach a host other than this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return False
    return (parts.hostname or "") not in LOOPBACK_HOSTS
