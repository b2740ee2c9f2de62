"""`make soak` (issue 16 §3): ten minutes of mixed production-like load, then the checks.

    .venv/bin/python -m bench.soak              # 10 minutes -> bench/SOAK.md + bench/soak-*.png
    .venv/bin/python -m bench.soak --quick      # 60 s smoke run -> bench/SOAK-quick.md
    .venv/bin/python -m bench.soak --seconds 1800 --rate 300

What runs, all on 127.0.0.1: two `partnerdesk serve` processes (bench/soak_probe.py
adds a count of asyncio tasks) on PostgreSQL (database partnerdesk_soak, seeded like the
benchmark's) and a Redis of their own (a private `redis-server`, so no other test's
events reach the subscribers; --redis-url to use another), production settings, the mail
worker on in both, sending to an SMTP sink (aiosmtpd) in this process.

Load: 500 live graphql-transport-ws subscriptions to the activity feed (50 per partner,
split between the servers, bench/soak_clients.py), and an open-loop generator at 200
requests a second (bench/soak_load.py), alternating between the servers: 70% rotating
reads (Q1-Q4 of the benchmark, members' tokens of all 10 partners), 20% writes (convert
an inquiry, connect an authorization to a customer, decline one with a message: each
queues e-mails or activity), 10% public inquiries.

Checks (bench/soak_report.py): p99 < 300 ms, no errors, no lost events (each
subscriber's count of events equals the activity rows written for its partner during the
run), every e-mail delivered once (by Message-ID), server RSS growth < 10% from minute 2
to the end (from 20% of the run), and no growth in asyncio tasks or open database
connections over the same window. Bounded: every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import fixture, load, rotation, seed, servers
from bench.harness import log
from bench.queries import WORKLOADS
from bench.rotation import Catalogue, body
from bench.rules import global_id
from bench.soak_clients import SubscriberProcess
from bench.soak_load import Outcome, Request, open_loop
from bench.soak_report import Sample, Soak, write_report
from bench.soak_services import PrivateRedis, SmtpSink, last_task_count, partnerdesk_server, rss_kib

# mailers/message.py's message_id(): the outbox row's id, then its queue time.
OUTBOX_MESSAGE_ID = re.compile(r"<outbox-(\d+)\.")

SOAK_DATABASE = "partnerdesk_soak"
RESULTS = servers.ROOT / "bench" / "SOAK.md"
QUICK_RESULTS = servers.ROOT / "bench" / "SOAK-quick.md"
HARNESS = "partnerdesk-soak-harness"  # application_name of this process's own connections
ACTIVITY = "subscription { activity { verb summary } }"
PARTNERS = tuple(range(1, seed.POSTGRES.partners + 1))
# 20 requests: 14 reads, 4 writes (convert, connect, decline in turn), 2 public forms.
MIX = ("Q1",) * 6 + ("Q2",) * 3 + ("Q3",) * 3 + ("Q4",) * 2 + ("W",) * 4 + ("M1",) * 2
WRITES = ("M2", "M3", "M4")
DRAIN_SECONDS = 120.0


@dataclass(frozen=True)
class Options:
    seconds: float
    rate: float
    subscribers: int
    members: int
    sample_seconds: float
    quick: bool
    output: Path
    redis_url: str | None
    server_url: str


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="60 s instead of 10 minutes")
    parser.add_argument("--seconds", type=float, help="load duration (default 600, --quick 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second (default 200)")
    parser.add_argument(
        "--subscribers", type=int, default=500, help="live subscriptions (default 500)"
    )
    parser.add_argument("--redis-url", help="use this Redis instead of a private redis-server")
    parser.add_argument("--server-url", default=seed.PG_SERVER_URL, help="PostgreSQL server URL")
    parser.add_argument("--output", type=Path, help="report path (default bench/SOAK.md)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    return Options(
        seconds=seconds,
        rate=args.rate,
        subscribers=args.subscribers,
        members=6 if args.quick else seed.MEMBERS_PER_PARTNER,
        sample_seconds=2.0 if seconds <= 120 else 5.0,
        quick=args.quick,
        output=args.output or (QUICK_RESULTS if args.quick else RESULTS),
        redis_url=args.redis_url,
        server_url=args.server_url,
    )


# ---------------------------------------------------------------- the requests


@dataclass
class Mixer:
    """Request k of the soak: its kind from MIX, its partner, token and variables in turn."""

    urls: list[str]
    tokens: dict[int, list[str]]  # partner -> its members' tokens
    customers: dict[int, list[int]]  # partner -> customer ids for Q1
    pages: dict[str, list[dict[str, Any]]]  # Q2, Q3 -> variable sets
    forms: list[dict[str, Any]]
    messages: list[str]
    pools: dict[tuple[str, int], deque[list[str]]]  # (write kind, partner) -> entries
    counters: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.order = list(MIX)
        random.Random(seed.SEED + 5).shuffle(self.order)

    def _next(self, what: str) -> int:
        self.counters[what] += 1
        return self.counters[what] - 1

    def __call__(self, k: int) -> Request:
        kind = self.order[k % len(self.order)]
        if kind == "W":
            kind = WRITES[self._next("W") % len(WRITES)]
        n = self._next(kind)
        partner = PARTNERS[n % len(PARTNERS)]
        members = self.tokens[partner]
        token = members[(n // len(PARTNERS)) % len(members)]
        server = k % len(self.urls)
        document = WORKLOADS[kind].document
        if kind == "Q1":
            ids = self.customers[partner]
            variables: dict[str, Any] = {"id": global_id("Customer", ids[(n * 7) % len(ids)])}
        elif kind in ("Q2", "Q3"):
            sets = self.pages[kind]
            variables = sets[(n * 13) % len(sets)]
        elif kind == "Q4":
            variables = {}
        elif kind == "M1":
            form = self.forms[n % len(self.forms)]
            variables = {"input": {**form, "partnerSlug": seed.partner_slug(partner)}}
            return Request(kind, server, body(document, variables), None, b'"accepted":true')
        else:
            pool = self.pools[(kind, partner)]
            values = pool.popleft() if pool else ["exhausted", "exhausted"]
            template = {
                "M2": rotation.m2_variables(),
                "M3": rotation.m3_variables(),
                "M4": rotation.m4_variables(self.messages[n % len(self.messages)]),
            }[kind]
            variables = rotation.fill(template, values)
        return Request(kind, server, body(document, variables), token)


async def make_pools(url: str, options: Options) -> dict[tuple[str, int], deque[list[str]]]:
    """Enough NEW inquiries and PENDING authorizations for the run, per partner and kind."""
    per = math.ceil(options.rate * options.seconds * 0.2 / len(WRITES) / len(PARTNERS) * 1.2) + 20
    pools: dict[tuple[str, int], deque[list[str]]] = {}
    for partner in PARTNERS:
        inquiries = await seed.insert_inquiry_pool(
            url, [n % len(seed.POOL_PEOPLE) for n in range(per)], partner
        )
        pools[("M2", partner)] = deque(rotation.pool_entry("M2", (pk, None)) for pk in inquiries)
        for kind in ("M3", "M4"):
            entries = await seed.insert_invitation_pool(
                url, per, partner, with_customers=kind == "M3"
            )
            pools[(kind, partner)] = deque(rotation.pool_entry(kind, ids) for ids in entries)
    return pools


# ---------------------------------------------------------------- probes


async def sampler(
    started: float,
    pids: list[int],
    probes: list[Path],
    url: str,
    every: float,
    samples: list[Sample],
    stop: asyncio.Event,
) -> None:
    connection = await asyncpg.connect(
        seed.asyncpg_dsn(url), server_settings={"application_name": HARNESS}
    )
    try:
        while not stop.is_set():
            database = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2",
                SOAK_DATABASE,
                HARNESS,
            )
            at = time.monotonic() - started
            for number, (pid, probe) in enumerate(zip(pids, probes, strict=True)):
                samples.append(
                    Sample(at, number, rss_kib(pid), last_task_count(probe), int(database))
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await connection.close()


# ---------------------------------------------------------------- the run


async def database(options: Options) -> str:
    url = seed.database_url(SOAK_DATABASE, options.server_url)
    if not seed.is_complete(await seed.seeded_counts(url)):
        log(f"seeding PostgreSQL database {SOAK_DATABASE} (bench/seed.py)...")
        await seed.seed_postgres(server_url=options.server_url, name=SOAK_DATABASE)
    else:
        await asyncio.to_thread(seed.migrate, url)
    await seed.reset_writes(url, partners=PARTNERS)
    return url


async def sign_in(client: httpx.AsyncClient, base: str, members: int) -> dict[int, list[str]]:
    tokens: dict[int, list[str]] = {}
    for partner in PARTNERS:
        emails = [seed.member_email(partner, k) for k in range(members)]
        tokens[partner] = list(
            await asyncio.gather(*(fixture.login(client, base, e) for e in emails))
        )
    return tokens


async def requests_catalogue(
    url: str, rendered_at: Any
) -> tuple[dict[int, list[int]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    connection = await asyncpg.connect(seed.asyncpg_dsn(url))
    try:
        customers = {
            partner: [row["id"] for row in await connection.fetch(
                "SELECT id FROM customer WHERE partner_id = $1 AND number <= $2 ORDER BY id",
                partner, seed.POSTGRES.customers_per_partner)][::20]
            for partner in PARTNERS
        }  # fmt: skip
        ordered = await connection.fetch(
            "SELECT sort_name, id FROM customer WHERE partner_id = $1 ORDER BY sort_name, id",
            seed.READ_PARTNER,
        )
    finally:
        await connection.close()
    # Keyset cursors are (sort name, id) values, valid in every partner's list.
    catalogue = Catalogue([], [(row["sort_name"], row["id"]) for row in ordered])
    pages = {
        "Q2": rotation.page_sets(catalogue, 20)[0],
        "Q3": rotation.page_sets(catalogue, 100, rotation.Q3_FILTERS)[0],
    }
    return customers, pages, rotation.m1_inputs(rendered_at)


async def run(options: Options, work_dir: Path) -> Soak:
    from datetime import UTC, datetime, timedelta

    url = await database(options)
    soak = Soak(options=vars(options) | {"output": str(options.output)}, started=datetime.now(UTC))
    pools = await make_pools(url, options)
    sink = SmtpSink()
    redis = PrivateRedis(work_dir) if options.redis_url is None else None
    started_servers: list[servers.Server] = []
    subscribers = SubscriberProcess()
    try:
        sink.start()
        if redis:
            await redis.start()
        redis_url = options.redis_url or (redis.url if redis else "")
        started_servers = [
            partnerdesk_server(n, url, redis_url, sink.port, work_dir) for n in (1, 2)
        ]
        for server in started_servers:
            server.start()
        await asyncio.gather(*(server.wait_ready() for server in started_servers))
        bases = [server.base_url for server in started_servers]
        log("servers ready: " + ", ".join(bases))
        async with httpx.AsyncClient(timeout=60) as client:
            tokens = await sign_in(client, bases[0], options.members)
        customers, pages, forms = await requests_catalogue(
            url, datetime.now(UTC) - timedelta(minutes=1)
        )
        mixer = Mixer(
            [b + "/graphql" for b in bases],
            tokens,
            customers,
            pages,
            forms,
            rotation.decline_messages(),
            pools,
        )

        subscribers.start()
        plan = []
        for s in range(options.subscribers):
            partner = PARTNERS[s % len(PARTNERS)]
            ws = bases[s % len(bases)].replace("http://", "ws://") + "/graphql"
            plan.append((ws, tokens[partner][(s // len(PARTNERS)) % len(tokens[partner])]))
        opened = await subscribers.ask("open", plan, ACTIVITY, 32, within=300)
        if opened["opened"] != len(plan):
            raise RuntimeError(
                f"opened {opened['opened']} of {len(plan)} subscriptions: {opened['errors']}"
            )
        log(f"{len(plan)} subscriptions open in {opened['seconds']:.1f} s")
        marks = await ready(url, mixer, subscribers, len(plan))
        soak.subscriber_partners = [PARTNERS[s % len(PARTNERS)] for s in range(len(plan))]
        soak.baseline_counts = marks.pop("counts")

        samples: list[Sample] = []
        stop = asyncio.Event()
        load_started = time.monotonic()
        pids = [server.process.pid for server in started_servers if server.process]
        probes = [work_dir / f"tasks-{n}.txt" for n in (1, 2)]
        sampling = asyncio.create_task(
            sampler(load_started, pids, probes, url, options.sample_seconds, samples, stop)
        )
        log(f"load: {options.rate:g} requests/s for {options.seconds:g} s")
        components = {"harness": os.getpid(), "subscriber process": subscribers.process.pid}
        components |= {f"server {n + 1}": pid for n, pid in enumerate(pids)}
        if redis and redis.process:
            components["redis"] = redis.process.pid
        cpu_before = {name: load.process_cpu_seconds(pid) for name, pid in components.items()}
        database_before = load.postgres_cpu_seconds()
        outcomes: list[Outcome] = await open_loop(mixer.urls, options.rate, options.seconds, mixer)
        soak.load_seconds = time.monotonic() - load_started
        soak.cpu_seconds = {
            name: load.process_cpu_seconds(pid) - cpu_before[name]
            for name, pid in components.items()
        } | {"PostgreSQL": load.cpu_spent(database_before, load.postgres_cpu_seconds())}
        log(
            f"load done: {len(outcomes):,} requests, {sum(1 for o in outcomes if o.error):,} errors; draining"
        )
        await drain(url, marks, subscribers, soak)
        stop.set()
        await sampling
        soak.outcomes, soak.samples = outcomes, samples
        soak.sink_ids, soak.sink_without_id = (
            queued_since(sink.ids, marks["email"]),
            sink.without_id,
        )
        soak.crashed = [
            s.name for s in started_servers if s.process and s.process.poll() is not None
        ]
    finally:
        subscribers.stop()
        for server in started_servers:
            server.stop()
        if redis:
            redis.stop()
        sink.stop()
    return soak


async def ready(
    url: str, mixer: Mixer, subscribers: SubscriberProcess, count: int
) -> dict[str, Any]:
    """One public inquiry per partner until every subscriber has seen an event: the
    subscriptions are live. Then the marks from which the run's rows are counted."""
    async with httpx.AsyncClient(timeout=30) as client:
        for partner in PARTNERS:
            form = {**mixer.forms[partner], "partnerSlug": seed.partner_slug(partner)}
            await client.post(
                mixer.urls[partner % len(mixer.urls)],
                content=body(WORKLOADS["M1"].document, {"input": form}),
                headers={"content-type": "application/json"},
            )
    deadline = time.monotonic() + 60
    counts: list[int] = []
    while time.monotonic() < deadline:
        counts = (await subscribers.ask("counts"))["counts"]
        if all(counts):
            break
        await asyncio.sleep(0.5)
    else:
        raise RuntimeError(f"{sum(1 for c in counts if not c)} of {count} subscribers saw no event")
    await asyncio.sleep(2)  # the probe's e-mail-less rows are all out
    connection = await asyncpg.connect(seed.asyncpg_dsn(url))
    try:
        marks = {
            "activity": await connection.fetchval(
                "SELECT coalesce(max(id), 0) FROM activity_event"
            ),
            "email": await connection.fetchval("SELECT coalesce(max(id), 0) FROM email_delivery"),
        }
    finally:
        await connection.close()
    return {**marks, "counts": (await subscribers.ask("counts"))["counts"]}


def queued_since(received: Counter[str], mark: int) -> dict[str, int]:
    """The sink's Message-IDs of e-mails queued after `mark`, as the run's outbox rows are
    counted: the readiness probe's e-mails (queued before the mark) are not the run's.
    A Message-ID that is not PartnerDesk's `<outbox-ID.…>` is kept, to be noticed."""
    kept = {}
    for message_id, times in received.items():
        found = OUTBOX_MESSAGE_ID.match(message_id)
        if found is None or int(found[1]) > mark:
            kept[message_id] = times
    return kept


async def drain(
    url: str, marks: dict[str, Any], subscribers: SubscriberProcess, soak: Soak
) -> None:
    """Wait (bounded) until the outbox is sent and the subscribers' counts stop moving."""
    connection = await asyncpg.connect(seed.asyncpg_dsn(url))
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            queued = await connection.fetchval(
                "SELECT count(*) FROM email_delivery WHERE id > $1 AND status = 'QUEUED'",
                marks["email"],
            )
            if not queued:
                break
            await asyncio.sleep(1)
        # Then until every subscriber has the events of its partner's rows, or the counts
        # (and the rows) stop moving: e-mails sent late still write activity rows.
        stable = 0
        last: tuple[Any, ...] = ()
        reply: dict[str, Any] = {}
        expected: dict[int, int] = {}
        while time.monotonic() < deadline and stable < 3:
            await asyncio.sleep(2)
            rows = await connection.fetch(
                "SELECT partner_id, count(*) AS n FROM activity_event WHERE id > $1 GROUP BY partner_id",
                marks["activity"],
            )
            expected = {row["partner_id"]: row["n"] for row in rows}
            reply = await subscribers.ask("counts")
            received = [
                count - base
                for count, base in zip(reply["counts"], soak.baseline_counts, strict=True)
            ]
            if all(
                received[s] == expected.get(partner, 0)
                for s, partner in enumerate(soak.subscriber_partners)
            ):
                break
            now = (tuple(reply["counts"]), tuple(sorted(expected.items())))
            stable = stable + 1 if now == last else 0
            last = now
        soak.counts, soak.subscriber_problems = reply.get("counts", []), reply.get("problems", [])
        soak.expected_events = expected
        soak.emails = {
            row["status"]: row["n"]
            for row in await connection.fetch(
                "SELECT status, count(*) AS n FROM email_delivery WHERE id > $1 GROUP BY status",
                marks["email"],
            )
        }
    finally:
        await connection.close()


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    os.chdir(servers.ROOT)
    with contextlib.suppress(ImportError):  # the lighter event loop, as the servers use
        import uvloop

        uvloop.install()
    with tempfile.TemporaryDirectory(prefix="partnerdesk-soak-") as temporary:
        soak = asyncio.run(run(options, Path(temporary)))
    passed = write_report(options.output, soak)
    log(f"report written to {options.output}: {'all checks passed' if passed else 'CHECKS FAILED'}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
