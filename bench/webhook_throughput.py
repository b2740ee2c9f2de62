"""Webhook drain throughput: WebhookWorker vs a bare httpx client posting the same signed bodies.

Both send the same deliveries to a local receiver (uvicorn in its own process, as a real
receiver would be) with the same number of requests in flight. The worker claims, signs,
checks the target's address, posts and records every outcome in the database; the bare
client only signs and posts rows read beforehand. Rounds are interleaved (worker, reference,
worker, ...) so drift in the machine affects both; the median ratio is printed.
Target (issue 14): the worker reaches at least 0.7 of the reference. Results: bench/WEBHOOKS.md.

    .venv/bin/python -m bench.webhook_throughput [--deliveries 10000] [--rounds 3] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.mail_throughput import free_port, wait_until_listening
from bench.report import replace_section
from config import Settings
from models.database import migrate_database
from models.global_ids import global_id
from models.partner import Partner
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType
from webhooks.payloads import body
from webhooks.signing import new_secret, signature_headers
from webhooks.worker import WebhookWorker

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"

# A receiver that takes every POST and answers 204: a process of its own, like a real one.
RECEIVER = """
import sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, lifespan="off")
"""
CUSTOMER = {
    "id": global_id("Customer", 42),
    "customerNumber": "C-00042",
    "displayName": "Studio Rossi S.r.l.",
    "kind": "COMPANY",
    "companyName": "Studio Rossi S.r.l.",
    "email": "info@studio-rossi.example",
    "phone": "+390612345678",
    "address": {"street": "Via Roma 1", "postalCode": "00100", "city": "Roma", "country": "IT"},
    "tags": ["hosting", "seo"],
    "status": "ACTIVE",
    "source": "MANUAL",
    "version": 3,
}


async def queue(endpoint: WebhookEndpoint, count: int) -> None:
    await WebhookDelivery.all().delete()
    now = datetime.now(UTC)
    await WebhookDelivery.bulk_create(
        [
            WebhookDelivery(
                partner_id=endpoint.partner_id,
                endpoint_id=endpoint.id,
                event_type=WebhookEventType.CUSTOMER_UPDATED,
                payload=body(
                    WebhookEventType.CUSTOMER_UPDATED,
                    now,
                    {"customer": {**CUSTOMER, "version": n}, "actorName": "Owner Person"},
                ),
                status=WebhookDeliveryStatus.QUEUED,
                queued_at=now,
                next_attempt_at=now,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


Rate = tuple[float, float]  # (per second of wall-clock time, CPU milliseconds per delivery)


async def drain_with_worker(settings: Settings, endpoint: WebhookEndpoint, count: int) -> Rate:
    await queue(endpoint, count)
    worker = WebhookWorker(settings)
    started, cpu = time.perf_counter(), time.process_time()
    while await worker.run_once():
        pass
    await worker.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    delivered = await WebhookDelivery.filter(status=WebhookDeliveryStatus.DELIVERED).count()
    assert delivered == count, f"worker delivered {delivered} of {count}"
    return count / elapsed, cpu * 1000 / count


async def bare_client(
    settings: Settings, endpoint: WebhookEndpoint, count: int, concurrency: int
) -> Rate:
    await queue(endpoint, count)
    rows = list(await WebhookDelivery.all().order_by("id").values_list("id", "payload"))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    failures = 0

    async def post_all(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while rows:
            delivery_id, payload = rows.pop()
            headers = signature_headers(
                global_id("WebhookDelivery", delivery_id),
                datetime.now(UTC),
                payload,
                [endpoint.secret],
            )
            headers["content-type"] = "application/json"
            response = await client.post(endpoint.url, content=payload.encode(), headers=headers)
            failures += not response.is_success

    started, cpu = time.perf_counter(), time.process_time()
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(post_all(client) for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert failures == 0, f"{failures} posts failed"
    return count / elapsed, cpu * 1000 / count


def write_section(
    url: str, deliveries: int, concurrency: int, rounds: list[str], ratios: list[float]
) -> None:
    """This database's rounds as a section of bench/RESULTS.md (method: bench/WEBHOOKS.md)."""
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    key = f"webhooks-{database.lower()}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    replace_section(
        RESULTS_MD,
        f"<!-- {key}: written by bench/webhook_throughput.py -->",
        f"<!-- /{key} -->",
        f"<!-- {key}: written by bench/webhook_throughput.py -->\n"
        f"## Webhook delivery throughput, {database}\n\n"
        f"`bench/webhook_throughput.py --write` ({when}): {deliveries:,} deliveries, "
        f"{concurrency} in flight, the worker against a bare httpx client posting the same "
        "signed bodies (method in [WEBHOOKS.md](WEBHOOKS.md)); target ≥ 0.7.\n\n"
        "| " + " | ".join(f"round {n}" for n in range(1, len(rounds) + 1)) + " | median ratio |\n"
        "|" + "---|" * (len(rounds) + 1) + "\n"
        "| " + " | ".join(rounds) + f" | **{statistics.median(ratios):.2f}** |\n"
        f"<!-- /{key} -->",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--write", action="store_true", help="put the rounds into bench/RESULTS.md's section"
    )
    args = parser.parse_args()

    from tortoise import Tortoise

    port = free_port()
    receiver = await asyncio.create_subprocess_exec(sys.executable, "-c", RECEIVER, str(port))
    await wait_until_listening(port)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite://{Path(folder) / 'bench.sqlite3'}"
        await migrate_database(url)
        settings = Settings(
            database_url=url, webhook_concurrency=args.concurrency, webhook_allow_private=True
        )
        await Tortoise.init(config=settings.tortoise(), _enable_global_fallback=True)
        try:
            await WebhookEndpoint.all().delete()
            partner = await Partner.get_or_create(
                slug="bench", defaults={"name": "Bench", "display_name": "Bench"}
            )
            endpoint = await WebhookEndpoint.create(
                partner_id=partner[0].id,
                url=f"http://127.0.0.1:{port}/hooks",
                secret=new_secret(),
            )
            ratios: list[float] = []
            rounds: list[str] = []
            for round_number in range(1, args.rounds + 1):
                worker_rate, worker_cpu = await drain_with_worker(
                    settings, endpoint, args.deliveries
                )
                reference_rate, reference_cpu = await bare_client(
                    settings, endpoint, args.deliveries, args.concurrency
                )
                ratios.append(worker_rate / reference_rate)
                rounds.append(f"{worker_rate:,.0f} vs {reference_rate:,.0f} /s ({ratios[-1]:.2f})")
                print(
                    f"round {round_number}: worker {worker_rate:6.0f} deliveries/s "
                    f"({worker_cpu:.2f} ms CPU each), bare httpx {reference_rate:6.0f} posts/s "
                    f"({reference_cpu:.2f} ms CPU each), ratio {ratios[-1]:.2f}",
                    flush=True,
                )
            print(
                f"median ratio worker/reference: {statistics.median(ratios):.2f} (target >= 0.7), "
                f"{args.deliveries} deliveries, {args.concurrency} in flight"
            )
            if args.write:
                write_section(url, args.deliveries, args.concurrency, rounds, ratios)
        finally:
            await Tortoise.close_connections()
            receiver.terminate()
            await receiver.wait()


if __name__ == "__main__":
    asyncio.run(main())
