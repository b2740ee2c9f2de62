"""`make bench`: PartnerDesk vs the asyncpg reference vs PostGraphile v5, results in bench/RESULTS.md.

    .venv/bin/python -m bench.run                  # full run, about 40 minutes
    .venv/bin/python -m bench.run --quick          # smoke run: 1 short round -> bench/RESULTS-quick.md
    .venv/bin/python -m bench.run --workloads Q2,M1 --modes rotating --rounds 5
    .venv/bin/python -m bench.run --env PARTNERDESK_COMPILED_READS=false   # any PARTNERDESK_* setting

Steps: seed PostgreSQL (bench/seed.py; reused when complete unless --reseed), start the
servers (one worker each, loopback), sign 12 members of each partner in 5 times each,
build every workload's fixed and rotating requests (bench/rotation.py), check that
PartnerDesk and the reference answer identically and write the same rows (and
PostGraphile with the same rows) — any difference stops the run before timing
(bench/checks.py) — count SQL statements per request on the wire (bench/counting.py),
measure the first request of never-seen documents (bench/cold.py), then time every
workload in both modes with wrk in interleaved rounds (bench/timing.py) and write the
report (bench/report.py). Last, Q2 rotating on `partnerdesk serve` with 1 and 2 server
processes (bench/workers.py, its own section of the report; needs redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import checks, cold, fixture, seed, servers
from bench.counting import count_statements
from bench.harness import (
    PARTNERDESK,
    PEER,
    REF_PG,
    REF_PG1,
    REF_PY,
    REF_PY1,
    BenchFailure,
    Endpoints,
    Target,
    fetch,
    log,
    sqlite_path,
)
from bench.queries import WORKLOADS
from bench.report import machine
from bench.report import write as write_report
from bench.results import Measured
from bench.rotation import MODES
from bench.timing import IDLE_ENOUGH, MAX_IDLE_WAIT, Settings, Timer, timed_rounds

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
QUICK_RESULTS = BENCH_DIR / "RESULTS-quick.md"
SQLITE_RESULTS = BENCH_DIR / "RESULTS-sqlite.md"
SQLITE_DATABASE = BENCH_DIR / "partnerdesk_bench.sqlite3"
SQLITE_WORKLOADS = ("Q1", "Q2", "Q3", "Q4", "M1", "M2")


@dataclass(frozen=True)
class Options:
    settings: Settings
    reseed: bool
    peer: bool
    extra_env: dict[str, str]
    output: Path
    quick: bool
    server_url: str
    nice: int
    samples: int
    cold_count: int
    workers: bool  # compare 1 and 2 server processes at the end (bench/workers.py)


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
    parser.add_argument("--workloads", help="e.g. Q1,Q2,M1 (default: all)")
    parser.add_argument("--modes", default=",".join(MODES), help="rotating,fixed (default both)")
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
    parser.add_argument("--cold", type=int, help="never-seen Q2 documents per server (default 200)")
    parser.add_argument(
        "--no-workers",
        action="store_true",
        help="skip Q2 with 1 and 2 server processes (bench/workers.py)",
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
    default_workloads = SQLITE_WORKLOADS if args.sqlite else tuple(WORKLOADS)
    workloads = [
        key.strip().upper()
        for key in (args.workloads or ",".join(default_workloads)).split(",")
        if key.strip()
    ]
    unknown = [key for key in workloads if key not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or any(mode not in MODES for mode in modes):
        parser.error(f"--modes takes {', '.join(MODES)}")
    extra_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("PARTNERDESK_"):
            parser.error(f"--env wants PARTNERDESK_NAME=VALUE, not {item!r}")
        extra_env[name] = value
    quick = args.quick
    default_output = SQLITE_RESULTS if args.sqlite else RESULTS
    return Options(
        settings=Settings(
            rounds=args.rounds or (1 if quick else 3),
            seconds=args.seconds or (3 if quick else 8),
            warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
            check_seconds=2 if quick else 5,
            workloads=workloads,
            modes=modes,
            checks=not args.no_checks,
            wait_idle=args.wait_idle,
            sqlite=args.sqlite,
        ),
        reseed=args.reseed,
        peer=not (args.no_peer or args.sqlite),
        extra_env=extra_env,
        output=args.output or (QUICK_RESULTS if quick else default_output),
        quick=quick,
        server_url=args.server_url,
        nice=args.nice,
        samples=8 if quick else 25,
        cold_count=args.cold if args.cold is not None else (40 if quick else 200),
        workers=not (args.no_workers or args.sqlite) and "Q2" in workloads,
    )


def targets_for(workload: str, peer: bool, reference: bool = True) -> list[Target]:
    from bench.reference import VARIANTS

    found = [PARTNERDESK]
    if not reference:
        return found
    variants = VARIANTS[workload.lower()]
    found += [t for t in (REF_PY, REF_PG, REF_PY1, REF_PG1) if t.variant in variants]
    if peer and WORKLOADS[workload].peer_document:
        found.append(PEER)
    return found


SEEDED_TABLES = (
    "partner",
    "partner_member",
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
    if options.settings.sqlite:
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
            await asyncio.to_thread(seed.migrate, url)  # new migrations since the seed
            log("reusing the seeded database (--reseed to start over)")
        await seed.reset_writes(url)
    data = {
        table: int((await fetch(url, f"SELECT count(*) AS n FROM {table}"))[0]["n"])
        for table in SEEDED_TABLES
    }
    return url, data


async def database_version(url: str) -> str:
    if sqlite_path(url):
        return f"SQLite {sqlite3.sqlite_version} (the SQLite profile; no PostgreSQL)"
    (row,) = await fetch(url, "SELECT version() AS v")
    return str(row["v"]).split(" on ")[0]


async def measure(options: Options, url: str, work_dir: Path, measured: Measured) -> None:
    """Start the servers, check, count, measure the cold figure, time; servers stopped after."""
    settings = options.settings
    started = [servers.partnerdesk(url, work_dir, options.extra_env)]
    if not settings.sqlite:
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
        groups = (
            (PARTNERDESK.key,),
            (REF_PY.key, REF_PG.key, REF_PY1.key, REF_PG1.key),
            (PEER.key,),
        )
        for keys, server in zip(groups, started, strict=False):
            if server.process is not None:
                endpoints.pids.update(dict.fromkeys(keys, server.process.pid))
        log("servers ready: " + ", ".join(f"{s.name} {s.base_url}" for s in started))
        profile = seed.SQLITE if settings.sqlite else seed.POSTGRES
        async with httpx.AsyncClient(timeout=60) as client:
            log("signing members in, building the rotations...")
            built = await fixture.build(
                url, client, endpoints.partnerdesk, endpoints.peer, profile.customers_per_partner
            )
            measured.rotation = fixture.describe(built)
            measured.search_term = built.checks["search"].variables[0]["filter"]["search"]
            measured.equality += await checks.check_reads(
                client,
                endpoints,
                built,
                settings.workloads,
                measured.targets,
                options.samples,
                settings.checks,
            )
            if not settings.sqlite:  # the reference and the wire counting need PostgreSQL
                measured.equality += await checks.check_writes(
                    client, endpoints, built, settings.workloads, url
                )
        if not settings.sqlite:
            measured.statements, measured.growth = await count_statements(
                url, work_dir, built, list(settings.workloads), measured.targets,
                options.extra_env, options.peer,
            )  # fmt: skip
        if "Q2" in settings.workloads and options.cold_count:
            measured.cold = await cold.measure(
                endpoints, built, measured.targets["Q2"], options.cold_count
            )
        timer = Timer(settings, built, endpoints, url, work_dir, measured)
        await timed_rounds(timer)
    finally:
        for server in started:
            server.stop()
        crashed = [
            s.name for s in started if s.process and s.process.returncode not in (0, -15, None)
        ]
        if crashed:
            measured.problems.append(f"Server(s) ended abnormally: {', '.join(crashed)}")


async def run(options: Options) -> int:
    from bench import load

    if options.peer and not servers.peer_installed():
        raise SystemExit(
            "PostGraphile is not installed: `cd bench/peer && npm ci` (or use --no-peer)"
        )
    load.wrk_binary()
    settings = options.settings
    measured = Measured(
        started=datetime.now(UTC),
        finished=None,
        options={
            "rounds": settings.rounds,
            "seconds": settings.seconds,
            "warmup": settings.warmup,
            "quick": options.quick,
            "nice": options.nice,
        },
        workloads={key: WORKLOADS[key].title for key in settings.workloads},
        targets={
            key: targets_for(key, options.peer, not settings.sqlite) for key in settings.workloads
        },
        modes=settings.modes,
    )
    url, measured.data = await prepare_database(options)
    measured.environment = {
        **machine(),
        **servers.versions(),
        "postgres": await database_version(url),
        "database": f"SQLite file `{SQLITE_DATABASE.relative_to(servers.ROOT)}`"
        if settings.sqlite
        else f"PostgreSQL database `{seed.BENCH_DATABASE}`",
        "partnerdesk_env": ", ".join(f"{k}={v}" for k, v in options.extra_env.items())
        or "defaults (PARTNERDESK_* unset except database, mail worker, rate limits)",
    }
    exit_code = 0
    with tempfile.TemporaryDirectory(prefix="partnerdesk-bench-") as temporary:
        try:
            await measure(options, url, Path(temporary), measured)
        except BenchFailure as failure:
            log(f"FAILED: {failure}")
            measured.problems.append(f"Run stopped: {str(failure).splitlines()[0]}")
            exit_code = 1
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
    if options.workers:
        exit_code = max(exit_code, await compare_workers(options, url))
    return exit_code


async def compare_workers(options: Options, url: str) -> int:
    """Q2 rotating with 1 and 2 server processes, into the report's own section."""
    from bench import workers

    if shutil.which("redis-server") is None:
        log("skipping 1 vs 2 server processes (bench/workers.py): redis-server is not installed")
        return 0
    log("Q2 rotating with 1 and 2 server processes (bench/workers.py)...")
    settings = options.settings
    return await workers.run(
        workers.Options(
            rounds=settings.rounds,
            seconds=settings.seconds,
            warmup=settings.warmup,
            output=options.output,
            quick=options.quick,
            extra_env=options.extra_env,
        ),
        url,
    )


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    os.chdir(servers.ROOT)
    if options.nice:
        # Inherited by every server and wrk run; PostgreSQL's own processes keep theirs.
        os.setpriority(os.PRIO_PROCESS, 0, options.nice)
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
