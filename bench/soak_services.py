"""What the soak runs on: an SMTP sink, a private Redis, the PartnerDesk servers, probes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from bench import servers


class SmtpSink:
    """An aiosmtpd server in a thread of this process, counting messages by Message-ID."""

    def __init__(self) -> None:
        self.port = servers.free_port()
        self.ids: Counter[str] = Counter()
        self.without_id = 0
        self.lock = threading.Lock()
        self.controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            if headers["Message-ID"]:
                self.ids[headers["Message-ID"].strip()] += 1
            else:
                self.without_id += 1
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname=servers.HOST, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


class PrivateRedis:
    """A `redis-server` of the soak's own on a free port, without persistence."""

    def __init__(self, work_dir: Path) -> None:
        self.port = servers.free_port()
        self.work_dir = work_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{servers.HOST}:{self.port}/0"

    def launch(self) -> None:
        argv = ["redis-server", "--bind", servers.HOST, "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", str(self.work_dir)]  # fmt: skip
        with (self.work_dir / "redis.log").open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.launch()
        for _ in range(100):
            try:
                _reader, writer = await asyncio.open_connection(servers.HOST, self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def partnerdesk_server(
    number: int, url: str, redis: str, smtp_port: int, work_dir: Path
) -> servers.Server:
    port = servers.free_port()
    env = {
        **os.environ,
        "PARTNERDESK_DATABASE_URL": url,
        "PARTNERDESK_REDIS_URL": redis,
        "PARTNERDESK_HOST": servers.HOST,
        "PARTNERDESK_PORT": str(port),
        "PARTNERDESK_ENV": "production",
        "PARTNERDESK_MAIL_WORKER": "true",
        "PARTNERDESK_SMTP_HOST": servers.HOST,
        "PARTNERDESK_SMTP_PORT": str(smtp_port),
        **{name: servers.GENEROUS_RATE_LIMIT for name in servers.RATE_LIMIT_VARIABLES},
        "BENCH_SOAK_PROBE": str(work_dir / f"tasks-{number}.txt"),
    }
    return servers.Server(
        f"PartnerDesk {number}",
        [sys.executable, "-m", "bench.soak_probe"],
        env,
        servers.ROOT,
        port,
        work_dir / f"partnerdesk-{number}.log",
    )


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def last_task_count(path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return int(lines[-1].split()[1]) if lines else None
