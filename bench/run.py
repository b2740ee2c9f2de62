"""`make bench`: PartnerDesk vs the asyncpg reference vs PostGraphile v5, results in bench/RESULTS.md.

    .venv/bin/python -m bench.run                  # full run, about 10 minutes
    .venv/bin/python -m bench.run --quick          # smoke run: 1 short round -> bench/RESULTS-quick.md
    .venv/bin/python -m bench.run --workloads Q2,M1 --rounds 5
    .venv/bin/python -m bench.run --env PARTNERDESK_COMPILED_READS=false   # any PARTNERDESK_* setting

Steps: seed PostgreSQL (bench/seed.py; reused when complete unless --reseed), start the
servers (one worker each, loopback), sign in, check that PartnerDesk and the reference
answer identically (and PostGraphile with the same rows) — any difference stops the run
before timing — count SQL statements per request on the wire (bench/statements.py), then
time every workload with wrk in interleaved rounds (bench/load.py) and write the report
(bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson

from bench import compare, load, seed, servers
from bench.queries import LOGIN, WORKLOADS, Workload
from bench.reference import cursor as reference_cursor
from bench.reference import global_id
from bench.report import PARTNERDESK, PEER, REF_PG, REF_PY, Measured, Target, machine
from bench.report import write as write_report
from bench.statements import CountingProxy

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
QUICK_RESULTS = BENCH_DIR / "RESULTS-quick.md"
SQLITE_RESULTS = BENCH_DIR / "RESULTS-sqlite.md"
SQLITE_DATABASE = BENCH_DIR / "partnerdesk_bench.sqlite3"
READ_CUSTOMER_NUMBER = 4242
SEARCH_TERM = "anna weber"
KEYSET_PAGE = 500  # of 10,000 customers: the last page; the SQLite profile uses its last
# Between runs the servers idle; CPU busier than this is someone else's work (noise).
IDLE_ENOUGH = 0.25
MAX_IDLE_WAIT = 120.0
# Inquiries of the M2 pool, by template: (name, email, phone, company name). Valid as the
# API would clean them, so PartnerDesk's validation accepts them unchanged.
POOL_PEOPLE = (
    ("Anna Weber", "anna.weber@example.net", "+493012345678", None),
    ("Maria Luisa Rossi", "m.rossi@example.it", "+390612345678", "Rossi Design S.r.l."),
    ("Jörg Müller", "joerg@mueller.example", None, None),
    ("Zoë Novak", "zoe@novak.example", "+41441234567", "Novak AG"),
    ("Hansen, Ole", "ole@hansen.example", "+4915112345678", None),
    ("Émile Dubois", "emile@dubois.example", None, "Dubois Consulting"),
)
POOL_MESSAGE = "We would like a new website."
M1_INPUT = {
    "partnerSlug": seed.partner_slug(seed.WRITE_PARTNER),
    "name": "Luca Bianchi",
    "email": "luca.bianchi@example.net",
    "phone": "+390612345678",
    "companyName": "Bianchi Studio",
    "message": "Hello,\nwe need a new website with a shop. Could you call us?",
    "privacyConsent": True,
    # As a real form sends it (without it the inquiry is taken for a bot's and dropped);
    # well within the day a rendered form stays valid, for a run of about ten minutes.
    "renderedAt": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
}


class BenchFailure(Exception):
    """The run cannot go on (a server differs, fails or does not start)."""


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: float
    warmup: float
    check_seconds: float
    workloads: list[str]
    reseed: bool
    peer: bool
    checks: bool
    extra_env: dict[str, str]
    output: Path
    quick: bool
    server_url: str
    wait_idle: bool
    sqlite: bool
    nice: int


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s, 1 s warm-up"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 8)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (default 2)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="e.g. Q1,Q2,M1")
    parser.add_argument("--reseed", action="store_true", help="drop and seed the database again")
    parser.add_argument("--no-peer", action="store_true", help="skip PostGraphile")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="PartnerDesk alone on the SQLite profile (bench/seed.py SQLITE) -> bench/RESULTS-sqlite.md",
    )
    parser.add_argument(
        "--wait-idle",
        action="store_true",
        help=f"before each run, wait (up to {MAX_IDLE_WAIT:.0f} s) until other processes leave the CPU idle",
    )
    parser.add_argument(
        "--no-checks", action="store_true", help="skip the keyset and search checks"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for PartnerDesk (repeatable)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the runner, the servers and wrk at this niceness (e.g. -10 on a shared, busy machine; negative needs root)",
    )
    parser.add_argument("--output", type=Path, help="report path (default bench/RESULTS.md)")
    parser.add_argument("--server-url", default=seed.PG_SERVER_URL, help="PostgreSQL server URL")
    args = parser.parse_args(argv)
    workloads = [key.strip().upper() for key in args.workloads.split(",") if key.strip()]
    unknown = [key for key in workloads if key not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    extra_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("PARTNERDESK_"):
            parser.error(f"--env wants PARTNERDESK_NAME=VALUE, not {item!r}")
        extra_env[name] = value
    quick = args.quick
    default_output = SQLITE_RESULTS if args.sqlite else RESULTS
    return Options(
        rounds=args.rounds or (1 if quick else 3),
        seconds=args.seconds or (3 if quick else 8),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        check_seconds=2 if quick else 5,
        workloads=workloads,
        reseed=args.reseed,
        peer=not (args.no_peer or args.sqlite),
        checks=not args.no_checks,
        extra_env=extra_env,
        output=args.output or (QUICK_RESULTS if quick else default_output),
        quick=quick,
        server_url=args.server_url,
        wait_idle=args.wait_idle,
        sqlite=args.sqlite,
        nice=args.nice,
    )


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def targets_for(workload: str, peer: bool, reference: bool = True) -> list[Target]:
    from bench.reference import VARIANTS

    found = [PARTNERDESK]
    if not reference:
        return found
    variants = VARIANTS[workload.lower()]
    found += [target for target in (REF_PY, REF_PG) if target.key.split("-")[1] in variants]
    if peer and WORKLOADS[workload].peer_document:
        found.append(PEER)
    return found


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}"))


# ---------------------------------------------------------------- requests


@dataclass
class Fixture:
    """What the requests need: tokens, variables, the keyset cursor."""

    read_token: str
    write_token: str
    customer_pk: int
    far_page: int
    far_page_after: str
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    peer_variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def far_page_case(self) -> str:
        return f"page {self.far_page}"

    def token(self, workload: str) -> str | None:
        if workload == "M1":
            return None
        return self.write_token if workload == "M2" else self.read_token


@dataclass
class Endpoints:
    partnerdesk: str
    reference: str
    peer: str | None
    pids: dict[str, int] = field(default_factory=dict)  # target key -> its server's process

    def url(self, target: Target, workload: str) -> str:
        if target.key == PARTNERDESK.key:
            return self.partnerdesk + "/graphql"
        if target.key == PEER.key:
            assert self.peer
            return self.peer + "/graphql"
        return f"{self.reference}/{workload.lower()}/{target.key.split('-')[1]}"


def request_body(
    target: Target, workload: Workload, fixture: Fixture, variables: dict[str, Any] | None = None
) -> bytes:
    if target.key == PEER.key:
        return orjson.dumps(
            {"query": workload.peer_document, "variables": fixture.peer_variables[workload.key]}
        )
    return orjson.dumps(
        {
            "query": workload.document,
            "variables": variables if variables is not None else fixture.variables[workload.key],
        }
    )


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, token: str | None
) -> dict[str, Any]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post(url, content=body, headers=headers)
    if response.status_code != 200:
        raise BenchFailure(f"POST {url}: HTTP {response.status_code}: {response.text[:500]}")
    parsed = orjson.loads(response.content)
    if parsed.get("errors") or parsed.get("data") is None:
        raise BenchFailure(f"POST {url}: GraphQL errors: {response.text[:1000]}")
    return parsed


async def login(client: httpx.AsyncClient, partnerdesk: str, partner: int) -> str:
    body = orjson.dumps(
        {
            "query": LOGIN,
            "variables": {
                "input": {
                    "realm": "PARTNER",
                    "email": seed.owner_email(partner),
                    "password": seed.PASSWORD,
                }
            },
        }
    )
    payload = (await post(client, partnerdesk + "/graphql", body, None))["data"]["login"]
    if not payload["token"]:
        raise BenchFailure(f"login as {seed.owner_email(partner)} failed: {payload['errors']}")
    return str(payload["token"])


# ---------------------------------------------------------------- database


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(seed.asyncpg_dsn(url))


async def insert_pool(url: str, templates: Sequence[int]) -> list[int]:
    """NEW inquiries for WRITE_PARTNER, one per template index; their ids in order."""
    path = _sqlite_path(url)
    if path is not None:
        received = (datetime.now(UTC) - timedelta(hours=1)).isoformat(" ")
        ids = []
        with sqlite3.connect(path, timeout=30) as database:
            for template in templates:
                cursor = database.execute(
                    "INSERT INTO inquiry (partner_id, status, name, email, phone, company_name,"
                    " message, received_at) VALUES (?, 'NEW', ?, ?, ?, ?, ?, ?)",
                    (seed.WRITE_PARTNER, *POOL_PEOPLE[template], POOL_MESSAGE, received),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids
    names, emails, phones, companies = zip(*POOL_PEOPLE, strict=True)
    connection = await connect(url)
    try:
        rows = await connection.fetch(
            """
            INSERT INTO inquiry (partner_id, status, name, email, phone, company_name, message, received_at)
            SELECT $1, 'NEW', ($3::text[])[k + 1], ($4::text[])[k + 1], ($5::text[])[k + 1],
                   ($6::text[])[k + 1], $7, now() - interval '1 hour'
            FROM unnest($2::int[]) WITH ORDINALITY AS t(k, n) ORDER BY n
            RETURNING id
            """,
            seed.WRITE_PARTNER,
            list(templates),
            list(names),
            list(emails),
            list(phones),
            list(companies),
            POOL_MESSAGE,
        )
        return [row["id"] for row in rows]
    finally:
        await connection.close()


def write_pool_file(path: Path, ids: Sequence[int]) -> Path:
    path.write_text("".join(global_id("Inquiry", pk) + "\n" for pk in ids))
    return path


def _sqlite_path(url: str) -> str | None:
    return url.removeprefix("sqlite://") if url.startswith("sqlite://") else None


async def _fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of one query on PostgreSQL ($1 placeholders) or the SQLite profile (? placeholders)."""
    path = _sqlite_path(url)
    if path is None:
        connection = await connect(url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()
    with sqlite3.connect(path) as database:
        database.row_factory = sqlite3.Row
        cursor = database.execute(re.sub(r"\$\d+", "?", sql), args)
        return [dict(row) for row in cursor.fetchall()]


async def load_fixture(
    url: str, read_token: str, write_token: str, customers_per_partner: int
) -> Fixture:
    customer_pk = (
        await _fetch(
            url,
            "SELECT id FROM customer WHERE partner_id = $1 AND number = $2",
            seed.READ_PARTNER,
            READ_CUSTOMER_NUMBER % customers_per_partner or 1,
        )
    )[0]["id"]
    far_page = min(KEYSET_PAGE, customers_per_partner // 20)
    (before_far_page,) = await _fetch(
        url,
        "SELECT sort_name, id FROM customer WHERE partner_id = $1 ORDER BY sort_name, id LIMIT 1 OFFSET $2",
        seed.READ_PARTNER,
        20 * (far_page - 1) - 1,
    )
    fixture = Fixture(
        read_token=read_token,
        write_token=write_token,
        customer_pk=customer_pk,
        far_page=far_page,
        far_page_after=reference_cursor(before_far_page["sort_name"], before_far_page["id"]),
    )
    fixture.variables = {
        "Q1": {"id": global_id("Customer", customer_pk)},
        "Q2": {"first": 20},
        "Q3": {"first": 100},
        "Q4": {},
        "M1": {"input": M1_INPUT},
        "M2": {"input": {"inquiryId": load.POOL_PLACEHOLDER, "target": {"newCustomer": {}}}},
        "page 1": {"first": 20},
        fixture.far_page_case: {"first": 20, "after": fixture.far_page_after},
        "search": {"first": 20, "filter": {"search": SEARCH_TERM}},
    }
    fixture.peer_variables = {
        "Q1": {"rowId": customer_pk},
        "Q2": {"partnerId": seed.READ_PARTNER, "first": 20},
        "Q3": {"partnerId": seed.READ_PARTNER, "first": 100},
    }
    return fixture


def m2_body(fixture: Fixture, inquiry_id: int) -> bytes:
    text = orjson.dumps({"query": WORKLOADS["M2"].document, "variables": fixture.variables["M2"]})
    return text.replace(load.POOL_PLACEHOLDER.encode(), global_id("Inquiry", inquiry_id).encode())


# ---------------------------------------------------------------- equality before timing


async def check_reads(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    fixture: Fixture,
    options: Options,
    measured: Measured,
) -> None:
    cases = [key for key in ("Q1", "Q2", "Q3", "Q4") if key in options.workloads]
    if options.checks:
        cases += [fixture.far_page_case, "search"]
    for case in cases:
        workload = WORKLOADS.get(case) or WORKLOADS["Q3"]
        targets = targets_for(workload.key, options.peer, not options.sqlite)
        variables = fixture.variables[case]
        ours = await post(
            client,
            endpoints.url(PARTNERDESK, workload.key),
            request_body(PARTNERDESK, workload, fixture, variables),
            fixture.read_token,
        )
        for target in targets:
            if target.key in (REF_PY.key, REF_PG.key):
                theirs = await post(
                    client,
                    endpoints.url(target, workload.key),
                    request_body(target, workload, fixture, variables),
                    fixture.read_token,
                )
                difference = compare.first_difference(ours, theirs)
                if difference:
                    raise BenchFailure(
                        f"{case}: PartnerDesk and {target.label} differ at {difference}\n"
                        f"PartnerDesk: {orjson.dumps(ours)[:2000]!r}\n{target.label}: {orjson.dumps(theirs)[:2000]!r}"
                    )
            elif target.key == PEER.key and case == workload.key:
                theirs = await post(
                    client,
                    endpoints.url(target, workload.key),
                    request_body(target, workload, fixture),
                    None,
                )
                mine = compare.neutral_partnerdesk(case, ours)
                peer = compare.neutral_peer(case, theirs)
                difference = compare.first_difference(mine, peer)
                if difference:
                    raise BenchFailure(
                        f"{case}: PartnerDesk and PostGraphile return different rows at {difference}"
                    )
        size = len(orjson.dumps(ours))
        others = [
            t.label
            for t in targets
            if t.key != PARTNERDESK.key and (t.key != PEER.key or case == workload.key)
        ]
        how = "identical JSON (values and key order)"
        if PEER in targets and case == workload.key:
            how += "; PostGraphile: same rows and values after normalising"
        if not others:
            measured.equality.append(f"{case}: answered without errors ({size:,} bytes).")
            log(f"answered: {case} ({size:,} bytes)")
            continue
        measured.equality.append(
            f"{case}: PartnerDesk vs {', '.join(others)}: {how} ({size:,} bytes)."
        )
        log(f"equal: {case} ({size:,} bytes)")


def _row(record: asyncpg.Record, drop: Sequence[str]) -> dict[str, Any]:
    return {key: value for key, value in dict(record).items() if key not in drop}


async def _rows_after(url: str, marks: dict[str, int]) -> dict[str, list[asyncpg.Record]]:
    connection = await connect(url)
    try:
        return {
            table: await connection.fetch(
                f"SELECT * FROM {table} WHERE partner_id = $1 AND id > $2 ORDER BY id",
                seed.WRITE_PARTNER,
                marks[table],
            )
            for table in ("inquiry", "customer", "activity_event")
        }
    finally:
        await connection.close()


async def _marks(url: str) -> dict[str, int]:
    connection = await connect(url)
    try:
        return {
            table: await connection.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}")
            for table in ("inquiry", "customer", "activity_event")
        }
    finally:
        await connection.close()


def _normalised_writes(
    rows: dict[str, list[asyncpg.Record]], inquiry_id: int | None
) -> dict[str, Any]:
    """The rows one mutation wrote, without generated ids, numbers and timestamps."""
    customers = rows["customer"]
    customer_ids = {row["id"]: f"<customer {n}>" for n, row in enumerate(customers)}
    inquiry_rows = rows["inquiry"] if inquiry_id is None else []
    inquiry_ids = {row["id"]: "<new inquiry>" for row in inquiry_rows}
    if inquiry_id is not None:
        inquiry_ids[inquiry_id] = "<converted inquiry>"

    def mapped(table: str, value: Any) -> Any:
        return {"Customer": customer_ids, "Inquiry": inquiry_ids}.get(table, {}).get(value, value)

    out: dict[str, Any] = {
        "inquiry": [_row(row, ("id", "received_at")) for row in inquiry_rows],
        "customer": [
            {
                **_row(
                    row,
                    ("id", "number", "customer_number", "created_at", "updated_at", "search_text"),
                ),
                "search_text": row["search_text"].replace(
                    row["customer_number"].lower(), "<number>"
                ),
            }
            for row in customers
        ],
        "activity_event": [
            {
                **_row(row, ("id", "at", "customer_id", "subject_id")),
                "customer_id": mapped("Customer", row["customer_id"]),
                "subject_id": mapped(row["subject_type"], row["subject_id"]),
            }
            for row in rows["activity_event"]
        ],
    }
    return out


async def check_writes(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    fixture: Fixture,
    options: Options,
    url: str,
    measured: Measured,
) -> None:
    if "M1" in options.workloads:
        results = []
        for target in (PARTNERDESK, REF_PY):
            marks = await _marks(url)
            response = await post(
                client,
                endpoints.url(target, "M1"),
                request_body(target, WORKLOADS["M1"], fixture),
                None,
            )
            results.append((response, _normalised_writes(await _rows_after(url, marks), None)))
        (ours, our_rows), (theirs, their_rows) = results
        difference = compare.first_difference(ours, theirs) or compare.first_difference(
            our_rows, their_rows
        )
        if difference:
            raise BenchFailure(
                f"M1: PartnerDesk and the reference differ at {difference}\n{our_rows}\n{their_rows}"
            )
        if len(our_rows["inquiry"]) != 1 or len(our_rows["activity_event"]) != 1:
            raise BenchFailure(f"M1: expected one inquiry and one activity row, got {our_rows}")
        measured.equality.append(
            "M1: identical responses; the inquiry and activity rows both wrote are equal column by column "
            "(ids and timestamps aside)."
        )
        log("equal: M1 (response and rows written)")
    if "M2" in options.workloads:
        for template in range(len(POOL_PEOPLE)):
            pair = await insert_pool(url, [template, template])
            results = []
            for target, inquiry_id in zip((PARTNERDESK, REF_PY), pair, strict=True):
                marks = await _marks(url)
                body = m2_body(fixture, inquiry_id)
                response = await post(
                    client, endpoints.url(target, "M2"), body, fixture.write_token
                )
                if response["data"]["convertInquiry"]["errors"]:
                    raise BenchFailure(f"M2 via {target.label}: {response}")
                connection = await connect(url)
                try:
                    converted = await connection.fetch(
                        "SELECT * FROM inquiry WHERE id = $1", inquiry_id
                    )
                finally:
                    await connection.close()
                rows = await _rows_after(url, marks)
                writes = _normalised_writes(rows, inquiry_id)
                writes["inquiry"] = [
                    {
                        **_row(row, ("id", "received_at", "assigned_at", "customer_id")),
                        "customer_id": "<customer 0>"
                        if rows["customer"] and row["customer_id"] == rows["customer"][0]["id"]
                        else row["customer_id"],
                    }
                    for row in converted
                ]
                results.append((compare.mutation_shape(response), writes))
            (ours, our_rows), (theirs, their_rows) = results
            difference = compare.first_difference(ours, theirs) or compare.first_difference(
                our_rows, their_rows
            )
            if difference:
                raise BenchFailure(
                    f"M2 ({POOL_PEOPLE[template][0]}): PartnerDesk and the reference differ at {difference}\n"
                    f"PartnerDesk: {our_rows}\nreference: {their_rows}"
                )
        measured.equality.append(
            f"M2: for {len(POOL_PEOPLE)} kinds of inquiry (person, company, comma name, no phone, ...): "
            "responses equal up to the new ids and customer numbers; the inquiry update, the new "
            "customer and both activity rows are equal column by column (ids, numbers, timestamps aside)."
        )
        log("equal: M2 (responses and rows written)")


# ---------------------------------------------------------------- statements per request


async def count_statements(
    options: Options, fixture: Fixture, url: str, work_dir: Path, measured: Measured
) -> None:
    async with CountingProxy(*_host_port(url)) as proxy:
        counted_url = with_port(url, proxy.port)
        started = [
            servers.partnerdesk(counted_url, work_dir, options.extra_env, suffix="-counting"),
            servers.reference(counted_url, work_dir, suffix="-counting"),
        ]
        if options.peer:
            started.append(servers.postgraphile(counted_url, work_dir, suffix="-counting"))
        for server in started:
            server.start()
        try:
            await asyncio.gather(*(server.wait_ready() for server in started))
            endpoints = Endpoints(
                started[0].base_url,
                started[1].base_url,
                started[2].base_url if options.peer else None,
            )
            async with httpx.AsyncClient(timeout=60) as client:

                async def counted(target: Target, workload: str, body: bytes) -> dict[str, Any]:
                    token = None if target.key == PEER.key else fixture.token(workload)
                    await _send(client, endpoints.url(target, workload), body, token)  # warm
                    await asyncio.sleep(0.2)
                    proxy.reset()
                    await _send(client, endpoints.url(target, workload), body, token)
                    await asyncio.sleep(0.3)  # pool releases happen after the response
                    return proxy.tally.summary()

                for workload_key in options.workloads:
                    workload = WORKLOADS[workload_key]
                    for target in targets_for(workload_key, options.peer):
                        if workload_key == "M2":
                            first, second = await insert_pool(url, [0, 0])
                            token = fixture.token("M2")
                            await _send(
                                client, endpoints.url(target, "M2"), m2_body(fixture, first), token
                            )
                            await asyncio.sleep(0.2)
                            proxy.reset()
                            await _send(
                                client, endpoints.url(target, "M2"), m2_body(fixture, second), token
                            )
                            await asyncio.sleep(0.3)
                            summary = proxy.tally.summary()
                        else:
                            summary = await counted(
                                target, workload_key, request_body(target, workload, fixture)
                            )
                        measured.statements[(workload_key, target.key)] = summary
                        log(
                            f"statements: {workload_key} {target.label}: {summary['sql']} "
                            f"(+{summary['transaction']} tx, {summary['pool_reset']} pool resets), "
                            f"{summary['round_trips']} round trips"
                        )
                for workload_key, sizes in (("Q2", (5, 20)), ("Q3", (10, 100))):
                    if workload_key not in options.workloads:
                        continue
                    growth = {}
                    for size in sizes:
                        variables = {**fixture.variables[workload_key], "first": size}
                        body = request_body(
                            PARTNERDESK, WORKLOADS[workload_key], fixture, variables
                        )
                        growth[size] = (await counted(PARTNERDESK, workload_key, body))["sql"]
                    measured.growth[workload_key] = growth
        finally:
            for server in started:
                server.stop()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


async def _send(client: httpx.AsyncClient, url: str, body: bytes, token: str | None) -> None:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post(url, content=body, headers=headers)
    if response.status_code != 200 or b'"message"' in response.content:
        raise BenchFailure(
            f"POST {url} while counting statements: {response.status_code} {response.text[:500]}"
        )


# ---------------------------------------------------------------- timing


@dataclass
class Timer:
    options: Options
    fixture: Fixture
    endpoints: Endpoints
    url: str
    work_dir: Path
    measured: Measured
    scripts: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    pool_runs: int = 0

    def script(self, target: Target, workload: Workload, case: str) -> Path:
        key = (target.key, workload.key, case)
        if key not in self.scripts:
            body = request_body(target, workload, self.fixture, self.fixture.variables.get(case))
            token = None if target.key == PEER.key else self.fixture.token(workload.key)
            slug = re.sub(r"\W+", "-", case)
            path = self.work_dir / f"{target.key}-{slug}.lua"
            self.scripts[key] = load.write_script(path, body.decode(), token)
        return self.scripts[key]

    async def pooled_script(self, target: Target, rate: float, seconds: float) -> Path:
        size = int(rate * (seconds + 1)) + 500
        ids = await insert_pool(self.url, [n % len(POOL_PEOPLE) for n in range(size)])
        self.pool_runs += 1
        pool_file = write_pool_file(self.work_dir / f"pool-{self.pool_runs}.txt", ids)
        body = request_body(target, WORKLOADS["M2"], self.fixture).decode()
        return load.write_script(
            self.work_dir / f"pool-{self.pool_runs}.lua", body, self.fixture.write_token, pool_file
        )

    async def run(
        self,
        target: Target,
        workload_key: str,
        case: str | None = None,
        connections: int = 16,
        seconds: float | None = None,
    ) -> load.WrkResult:
        workload = WORKLOADS[workload_key]
        case = case or workload_key
        seconds = seconds or self.options.seconds
        url = self.endpoints.url(target, workload_key)
        record = (workload_key, target.key) if case == workload_key else None
        if workload_key != "M2":
            script = self.script(target, workload, case)
            if self.options.warmup:
                await load.run_wrk(url, script, self.options.warmup, connections)
            return await self.timed_wrk(record, url, script, seconds, connections)
        # M2: every request converts its own NEW inquiry; size the pool from the last rate.
        earlier = self.measured.runs.get(("M2", target.key))
        rate = max(r.rps for r in earlier) * 2 if earlier else 6000.0
        for attempt in range(2):
            if self.options.warmup:
                await load.run_wrk(
                    url,
                    await self.pooled_script(target, rate, self.options.warmup),
                    self.options.warmup,
                    connections,
                )
            script = await self.pooled_script(target, rate, seconds)
            result = await self.timed_wrk(record, url, script, seconds, connections)
            if not result.exhausted or attempt:
                return result
            rate = result.rps * 3
        raise AssertionError("unreachable")

    async def timed_wrk(
        self,
        record: tuple[str, str] | None,
        url: str,
        script: Path,
        seconds: float,
        connections: int,
    ) -> load.WrkResult:
        """One measured wrk run; with `record`, also the CPU time it cost the server under
        test and PostgreSQL, per request (where the time goes, next to the throughput)."""
        pid = self.endpoints.pids.get(record[1]) if record else None
        if record is None or pid is None:
            return await load.run_wrk(url, script, seconds, connections)
        server_before, database_before = load.process_cpu_seconds(pid), load.postgres_cpu_seconds()
        result = await load.run_wrk(url, script, seconds, connections)
        server = load.process_cpu_seconds(pid) - server_before
        database = load.cpu_spent(database_before, load.postgres_cpu_seconds())
        if result.requests:
            per_request = (1000 * server / result.requests, 1000 * database / result.requests)
            self.measured.cpu.setdefault(record, []).append(per_request)
        return result


def _record_problem(measured: Measured, what: str, result: load.WrkResult) -> None:
    if not result.clean:
        measured.problems.append(
            f"{what}: {result.bad} bad responses (non-200 or GraphQL errors), "
            f"{result.non_2xx} non-2xx, {result.socket_errors} socket errors, "
            f"{result.exhausted} requests after the inquiry pool ran out, of {result.requests:,}."
        )


async def cpu_busy(seconds: float = 0.3) -> float:
    """The share of all CPUs busy over `seconds` (/proc/stat), between runs: others' load."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(value) for value in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    total, idle = sample()
    await asyncio.sleep(seconds)
    total_after, idle_after = sample()
    elapsed = total_after - total
    return 1 - (idle_after - idle) / elapsed if elapsed else 0.0


async def settle(timer: Timer) -> None:
    """Note how busy the machine is before a run; with --wait-idle, wait for it to calm down."""
    await asyncio.sleep(1)  # the last run's in-flight requests finish first
    busy = await cpu_busy()
    waited = 0.0
    while timer.options.wait_idle and busy > IDLE_ENOUGH and waited < MAX_IDLE_WAIT:
        await asyncio.sleep(2)
        waited += 2
        busy = await cpu_busy()
    timer.measured.cpu_busy.append(busy)


async def timed_rounds(timer: Timer) -> None:
    options, measured = timer.options, timer.measured
    for round_index in range(options.rounds):
        for workload_key in options.workloads:
            targets = measured.targets[workload_key]
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
                await settle(timer)
                result = await timer.run(target, workload_key)
                measured.runs.setdefault((workload_key, target.key), []).append(result)
                _record_problem(
                    measured, f"{workload_key} {target.label} round {round_index + 1}", result
                )
                log(
                    f"round {round_index + 1}/{options.rounds} {workload_key} {target.label}: "
                    f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
                    + ("" if result.clean else "  ⚠ errors")
                )
        if options.checks:
            await checks_round(timer, round_index)


async def checks_round(timer: Timer, round_index: int) -> None:
    """Keyset and search latency at one connection, interleaved like the workloads."""
    cases = [("keyset", "page 1"), ("keyset", timer.fixture.far_page_case), ("search", "search")]
    targets = [PARTNERDESK] if timer.options.sqlite else [PARTNERDESK, REF_PY]
    for check, case in cases:
        shift = round_index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            await settle(timer)
            result = await timer.run(
                target, "Q3", case=case, connections=1, seconds=timer.options.check_seconds
            )
            timer.measured.checks.setdefault(check, {}).setdefault(
                f"{target.label}: {case}", []
            ).append(result)
            _record_problem(timer.measured, f"{check} {case} {target.label}", result)
            log(
                f"check {check} {case} {target.label}: p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
            )


# ---------------------------------------------------------------- main


SEEDED_TABLES = (
    "partner",
    "customer",
    "domain",
    "contract",
    "task",
    "inquiry",
    "account_holder",
    "access_invitation",
)


async def prepare_database(options: Options) -> tuple[str, dict[str, int]]:
    """Seed (or reuse) the database and undo earlier runs' writes; (URL, rows per table)."""
    if options.sqlite:
        log("seeding the SQLite profile (bench/seed.py)...")
        await seed.seed_sqlite(SQLITE_DATABASE)
        url = f"sqlite://{SQLITE_DATABASE}"
    else:
        url = seed.database_url(server_url=options.server_url)
        counts = await seed.seeded_counts(url)
        if options.reseed or not seed.is_complete(counts):
            log("seeding PostgreSQL (bench/seed.py)...")
            started = time.perf_counter()
            await seed.seed_postgres(server_url=options.server_url)
            log(f"seeded in {time.perf_counter() - started:.0f} s")
        else:
            from models.database import migrate_database

            await migrate_database(url)  # new migrations since the seed (no-op otherwise)
            log("reusing the seeded database (--reseed to start over)")
        await seed.reset_writes(url)
    data = {
        table: int((await _fetch(url, f"SELECT count(*) AS n FROM {table}"))[0]["n"])
        for table in SEEDED_TABLES
    }
    return url, data


async def database_version(url: str) -> str:
    if _sqlite_path(url):
        return f"SQLite {sqlite3.sqlite_version} (the SQLite profile; no PostgreSQL)"
    (row,) = await _fetch(url, "SELECT version() AS v")
    return str(row["v"]).split(" on ")[0]


async def run(options: Options) -> int:
    if options.peer and not servers.peer_installed():
        raise SystemExit(
            "PostGraphile is not installed: `cd bench/peer && npm ci` (or use --no-peer)"
        )
    load.wrk_binary()
    measured = Measured(
        started=datetime.now(UTC),
        finished=None,
        options={
            "rounds": options.rounds,
            "seconds": options.seconds,
            "warmup": options.warmup,
            "quick": options.quick,
            "nice": options.nice,
        },
        workloads={key: WORKLOADS[key].title for key in options.workloads},
        targets={
            key: targets_for(key, options.peer, not options.sqlite) for key in options.workloads
        },
        search_term=SEARCH_TERM,
    )
    url, measured.data = await prepare_database(options)
    measured.environment = {
        **machine(),
        **servers.versions(),
        "postgres": await database_version(url),
        "database": f"SQLite file `{SQLITE_DATABASE.relative_to(servers.ROOT)}`"
        if options.sqlite
        else f"PostgreSQL database `{seed.BENCH_DATABASE}`",
        "partnerdesk_env": ", ".join(f"{k}={v}" for k, v in options.extra_env.items())
        or "defaults (PARTNERDESK_* unset except database, mail worker, rate limits)",
    }
    exit_code = 0
    with tempfile.TemporaryDirectory(prefix="partnerdesk-bench-") as temporary:
        work_dir = Path(temporary)
        started = [servers.partnerdesk(url, work_dir, options.extra_env)]
        if not options.sqlite:
            started.append(servers.reference(url, work_dir))
        if options.peer:
            started.append(servers.postgraphile(url, work_dir))
        for server in started:
            server.start()
        try:
            await asyncio.gather(*(server.wait_ready() for server in started))
            endpoints = Endpoints(
                started[0].base_url,
                started[1].base_url if len(started) > 1 else "",
                started[2].base_url if options.peer else None,
            )
            for keys, server in zip(
                ((PARTNERDESK.key,), (REF_PY.key, REF_PG.key), (PEER.key,)), started, strict=False
            ):
                if server.process is not None:
                    endpoints.pids.update(dict.fromkeys(keys, server.process.pid))
            log("servers ready: " + ", ".join(f"{s.name} {s.base_url}" for s in started))
            async with httpx.AsyncClient(timeout=60) as client:
                read_token = await login(client, endpoints.partnerdesk, seed.READ_PARTNER)
                write_token = await login(client, endpoints.partnerdesk, seed.WRITE_PARTNER)
                profile = seed.SQLITE if options.sqlite else seed.POSTGRES
                fixture = await load_fixture(
                    url, read_token, write_token, profile.customers_per_partner
                )
                await check_reads(client, endpoints, fixture, options, measured)
                if not options.sqlite:  # the reference and the wire counting need PostgreSQL
                    await check_writes(client, endpoints, fixture, options, url, measured)
            if not options.sqlite:
                await count_statements(options, fixture, url, work_dir, measured)
            timer = Timer(options, fixture, endpoints, url, work_dir, measured)
            await timed_rounds(timer)
        except BenchFailure as failure:
            log(f"FAILED: {failure}")
            measured.problems.append(f"Run stopped: {str(failure).splitlines()[0]}")
            exit_code = 1
        finally:
            for server in started:
                server.stop()
            crashed = [
                s.name for s in started if s.process and s.process.returncode not in (0, -15, None)
            ]
            if crashed:
                measured.problems.append(f"Server(s) ended abnormally: {', '.join(crashed)}")
    measured.finished = datetime.now(UTC)
    if measured.cpu_busy and statistics.median(measured.cpu_busy) > IDLE_ENOUGH:
        measured.warnings.append(
            f"Other processes kept the CPU {statistics.median(measured.cpu_busy):.0%} busy between "
            "runs (median): the numbers are noisy; run again on a quiet machine (or --wait-idle)."
        )
    write_report(options.output, measured)
    log(f"report written to {options.output}")
    if measured.problems:
        exit_code = 1
    return exit_code


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    os.chdir(servers.ROOT)
    if options.nice:
        # Inherited by every server and wrk run; PostgreSQL's own processes keep theirs.
        os.setpriority(os.PRIO_PROCESS, 0, options.nice)
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
