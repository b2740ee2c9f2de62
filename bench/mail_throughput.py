"""Outbox drain throughput: DeliveryWorker vs a bare aiosmtplib loop over one connection.

Both send the same messages to a local aiosmtpd sink (its own process, as a real server
would be). Rounds are interleaved (worker, reference, worker, ...) so drift in the
machine affects both; the median ratio is printed.
Target (issue 4): the worker reaches at least 0.7 of the reference.

    .venv/bin/python bench/mail_throughput.py [--emails 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib

from config import Settings
from mailers.message import build_message, sender_address
from mailers.worker import DeliveryWorker
from models.database import migrate_database
from models.outbox import EmailDelivery, EmailStatus

MAIL_FROM = "PartnerDesk <no-reply@bench.test>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_until_listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError("the aiosmtpd sink did not start")


async def queue(count: int) -> None:
    await EmailDelivery.all().delete()
    now = datetime.now(UTC)
    await EmailDelivery.bulk_create(
        [
            EmailDelivery(
                template="invitation_declined",
                language="en",
                to_address=f"person{n}@example.org",
                to_name=f"Person {n}",
                subject=f"Your request #{n}",
                text_body="Hello,\n\nunfortunately we cannot take this on.\n" * 5,
                html_body="<p>Hello,</p><p>unfortunately we cannot take this on.</p>" * 5,
                status=EmailStatus.QUEUED,
                queued_at=now,
                next_attempt_at=now,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


async def drain_with_worker(settings: Settings, count: int) -> float:
    await queue(count)
    worker = DeliveryWorker(settings)
    started = time.perf_counter()
    while await worker.run_once():
        pass
    await worker.stop()
    elapsed = time.perf_counter() - started
    sent = await EmailDelivery.filter(status=EmailStatus.SENT).count()
    assert sent == count, f"worker sent {sent} of {count}"
    return count / elapsed


async def bare_loop(settings: Settings, count: int) -> float:
    await queue(count)
    rows = await EmailDelivery.all().order_by("id")
    sender = sender_address(settings.mail_from)
    started = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, start_tls=False)
    await smtp.connect()
    for row in rows:
        await smtp.send_message(
            build_message(row, settings.mail_from), sender=sender, recipients=[row.to_address]
        )
    await smtp.quit()
    return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    from tortoise import Tortoise

    port = free_port()
    sink = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"),
        *("-l", f"127.0.0.1:{port}"),
    )
    await wait_until_listening(port)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite://{Path(folder) / 'bench.sqlite3'}"
        await migrate_database(url)
        settings = Settings(
            database_url=url, smtp_host="127.0.0.1", smtp_port=port, mail_from=MAIL_FROM
        )
        await Tortoise.init(config=settings.tortoise(), _enable_global_fallback=True)
        try:
            ratios = []
            for round_number in range(1, args.rounds + 1):
                worker_rate = await drain_with_worker(settings, args.emails)
                reference_rate = await bare_loop(settings, args.emails)
                ratios.append(worker_rate / reference_rate)
                print(
                    f"round {round_number}: worker {worker_rate:7.0f} e-mails/s, "
                    f"bare aiosmtplib {reference_rate:7.0f} e-mails/s, "
                    f"ratio {ratios[-1]:.2f}",
                    flush=True,
                )
            print(f"median ratio worker/reference: {statistics.median(ratios):.2f} (target >= 0.7)")
        finally:
            await Tortoise.close_connections()
            sink.terminate()
            await sink.wait()


if __name__ == "__main__":
    asyncio.run(main())
