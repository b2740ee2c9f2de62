"""Q2 rotating with 1 and 2 server processes (`partnerdesk serve --workers N`) on PostgreSQL.

    .venv/bin/python -m bench.workers            # 3 interleaved rounds of 8 s -> bench/RESULTS.md
    .venv/bin/python -m bench.workers --quick    # 1 round of 3 s -> bench/RESULTS-quick.md

Also the last step of `make bench` (bench/run.py), into the same report. The seeded database
of bench/seed.py (seeded first when missing), a private Redis for both servers (more than one
process needs it; the single one gets it too, so that only the process count differs), both
servers started at once on ports of their own and idle while the other is timed. Each round
times each server once, the order alternating, with the same requests (bench/rotation.py: 500
page starts x 60 tokens); a warm-up run precedes each measured one, `wrk -t1 -c16`.

Over each measured run: CPU seconds of the server's processes (the parent and its workers, and
each worker alone, to show how the connections were shared), of PostgreSQL's processes, of wrk
(this process's finished children), and of the whole machine (/proc/stat), with the 1-minute
load average before and after. The section of the report between SECTION_START and
SECTION_END is replaced (bench/report.py keeps it when `bench.run` rewrites the file).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench import fixture, load, seed, servers
from bench.harness import fetch, log
from bench.queries import WORKLOADS
from bench.report import machine, replace_section
from bench.rotation import ROTATING, body_parts
from bench.soak_services import PrivateRedis
from bench.timing import cpu_busy

BENCH_DIR = Path(__file__).resolve().parent
SECTION = "workers"
SECTION_START = f"<!-- {SECTION}: written by bench/workers.py -->"
SECTION_END = f"<!-- /{SECTION} -->"
WORKLOAD = "Q2"
PROCESS_COUNTS = (1, 2)
CONNECTIONS = 16


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: float
    warmup: float
    output: Path
    quick: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One measured run of one server: wrk's figures and the CPU seconds each part spent."""

    round: int
    processes: int
    result: load.WrkResult
    server: float
    workers: tuple[float, ...]  # each worker process of the server, most first (none alone)
    connections: tuple[int, ...]  # wrk's connections each serving process holds, most first
    postgres: float  # the backends of the server's own connections
    wrk: float
    machine: float  # every core of the machine, busy (not idle, not waiting for I/O)
    load: tuple[float, float]  # 1-minute load average before and after
    idle_busy: float  # share of the machine busy just before, the servers idle: others' work

    @property
    def rest(self) -> float:
        """Busy CPU seconds of the machine that were neither the server, PostgreSQL nor wrk."""
        return max(0.0, self.machine - self.server - self.postgres - self.wrk)

    def cores(self, part: str) -> float:
        """Cores `part` ("server", "postgres", "wrk", "rest") kept busy over the run."""
        seconds: float = getattr(self, part)
        return seconds / self.result.seconds if self.result.seconds else 0.0

    def per_request_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.result.requests if self.result.requests else 0.0


# ---------------------------------------------------------------- CPU time


def cpu_of(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds so far of each process still running, by pid."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = load.process_cpu_seconds(pid)
    return found


def server_processes(parent: int) -> list[int]:
    """A server's processes: the parent and its children (its workers; the resource tracker)."""
    return [parent, *load.child_processes(parent)]


def workers_of(parent: int) -> list[int]:
    """The processes that serve: the workers, or the parent when it serves alone."""
    spawned = [pid for pid, argv in load.child_processes(parent).items() if b"spawn_main" in argv]
    return sorted(spawned) or [parent]


async def postgres_backends(database_url: str, parent: int) -> set[int]:
    """The PostgreSQL backends serving the server's pooled connections: those whose client
    port is a local port of one of the server's connections to PostgreSQL. Other work on the
    same PostgreSQL (another benchmark, a test suite) is not counted."""
    postgres_port = urlsplit(database_url).port or 5432
    held = load.tcp_connections(server_processes(parent))
    ports = [local for links in held.values() for local, remote in links if remote == postgres_port]
    if not ports:
        return set()
    rows = await fetch(
        database_url,
        "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
        ports,
    )
    return {int(row["pid"]) for row in rows}


def finished_children_cpu() -> float:
    """CPU seconds of this process's children that ended and were waited for: the wrk runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: not idle, not iowait)."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- servers


def partnerdesk_serve(
    processes: int, url: str, redis: str, work_dir: Path, extra_env: dict[str, str]
) -> servers.Server:
    port = servers.free_port()
    env = {
        **os.environ,
        "PARTNERDESK_DATABASE_URL": url,
        "PARTNERDESK_REDIS_URL": redis,
        "PARTNERDESK_HOST": servers.HOST,
        "PARTNERDESK_PORT": str(port),
        "PARTNERDESK_MAIL_WORKER": "false",
        **{name: servers.GENEROUS_RATE_LIMIT for name in servers.RATE_LIMIT_VARIABLES},
        **extra_env,
    }
    command = f"import app, sys; sys.exit(app.main(['serve', '--workers', '{processes}']))"
    return servers.Server(
        f"serve --workers {processes}",
        [sys.executable, "-c", command],
        env,
        servers.ROOT,
        port,
        work_dir / f"partnerdesk-{processes}.log",
    )


async def every_process_serves(
    server: servers.Server, processes: int, patience: float = 90
) -> None:
    """/healthz answers once one process serves; the parent says when all of them do."""
    await server.wait_ready(patience)
    for _ in range(int(patience * 10)):
        if processes == 1 or "processes serve on port" in server.log_tail(200):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name}: not every process serves:\n{server.log_tail()}")


# ---------------------------------------------------------------- timing


def offset(round_index: int, phase: str) -> int:
    """Where in the rotation a run starts: the same for both servers of a round."""
    return zlib.crc32(f"{WORKLOAD} workers {round_index} {phase}".encode()) % 1_000_003


async def timed_run(
    server: servers.Server,
    processes: int,
    script: Path,
    options: Options,
    round_index: int,
    database_url: str,
) -> Run:
    url = server.base_url + "/graphql"
    await asyncio.sleep(1)  # the last run's in-flight requests finish first
    idle_busy = await cpu_busy()
    if options.warmup:
        await load.run_wrk(url, script, options.warmup, CONNECTIONS, offset(round_index, "warm-up"))
    assert server.process is not None
    parent = server.process.pid
    backends = await postgres_backends(database_url, parent)
    server_before, postgres_before = cpu_of(server_processes(parent)), cpu_of(backends)
    wrk_before, machine_before = finished_children_cpu(), machine_busy_seconds()
    load_before = os.getloadavg()[0]
    timed = asyncio.create_task(
        load.run_wrk(url, script, options.seconds, CONNECTIONS, offset(round_index, "measured"))
    )
    await asyncio.sleep(min(1.0, options.seconds / 3))  # wrk's connections are open
    held = load.tcp_connections(workers_of(parent))
    connections = [sum(local == server.port for local, _ in held.get(pid, [])) for pid in held]
    result = await timed
    wrk, machine_busy = (
        finished_children_cpu() - wrk_before,
        machine_busy_seconds() - machine_before,
    )
    server_after = cpu_of(server_processes(parent))
    backends |= await postgres_backends(database_url, parent)  # any opened during the run
    postgres_after = cpu_of(backends)
    spent = {pid: seconds - server_before.get(pid, 0.0) for pid, seconds in server_after.items()}
    workers = [pid for pid in workers_of(parent) if pid != parent]
    return Run(
        round=round_index,
        processes=processes,
        result=result,
        server=sum(spent.values()),
        workers=tuple(sorted((spent.get(pid, 0.0) for pid in workers), reverse=True)),
        connections=tuple(sorted(connections, reverse=True)),
        postgres=load.cpu_spent(postgres_before, postgres_after),
        wrk=wrk,
        machine=machine_busy,
        load=(load_before, os.getloadavg()[0]),
        idle_busy=idle_busy,
    )


async def prepared_database(server_url: str) -> str:
    """The seeded benchmark database (seeded now when missing or incomplete)."""
    url = seed.database_url(server_url=server_url)
    if not seed.is_complete(await seed.seeded_counts(url)):
        log("seeding PostgreSQL (bench/seed.py)...")
        await seed.seed_postgres(server_url=server_url)
    else:
        await asyncio.to_thread(seed.migrate, url)  # new migrations since the seed
    return url


async def compare(url: str, options: Options) -> list[Run]:
    """Time Q2 rotating on `partnerdesk serve --workers N` for each N of PROCESS_COUNTS."""
    load.wrk_binary()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is required: apt-get install -y redis-server")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="partnerdesk-workers-") as temporary:
        work_dir = Path(temporary)
        redis = PrivateRedis(work_dir)
        await redis.start()
        started = {
            n: partnerdesk_serve(n, url, redis.url, work_dir, options.extra_env)
            for n in PROCESS_COUNTS
        }
        try:
            for server in started.values():
                server.start()
            await asyncio.gather(*(every_process_serves(s, n) for n, s in started.items()))
            async with httpx.AsyncClient(timeout=60) as client:
                log("signing members in, building the rotations...")
                built = await fixture.build(
                    url, client, started[1].base_url, None, seed.POSTGRES.customers_per_partner
                )
            rotation = built.rotation(WORKLOAD, ROTATING)
            prefix, suffix = body_parts(WORKLOADS[WORKLOAD].document)
            script = load.write_script(
                work_dir / "q2-rotating.lua", prefix, rotation.fragments(), suffix, rotation.tokens
            )
            for round_index in range(options.rounds):
                order = list(PROCESS_COUNTS)
                if round_index % 2:
                    order.reverse()
                for n in order:
                    run = await timed_run(started[n], n, script, options, round_index, url)
                    runs.append(run)
                    log(
                        f"round {round_index + 1}/{options.rounds} {WORKLOAD} rotating, "
                        f"{n} process(es): {run.result.rps:,.0f} req/s, server "
                        f"{run.cores('server'):.2f} cores, PostgreSQL "
                        f"{run.cores('postgres'):.2f}, connections {_split(run)}, "
                        f"load {run.load[1]:.1f}" + ("" if run.result.clean else "  ⚠ errors")
                    )
        finally:
            for server in started.values():
                server.stop()
            redis.stop()
    return runs


# ---------------------------------------------------------------- report


_PARTS = ("server", "postgres", "wrk", "rest")


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _ceilings(one: list[Run], cores: int) -> str:
    """What the CPU cost per request allows: the machine's ceiling against one process's."""
    server, postgres, wrk = (
        _median([run.per_request_ms(getattr(run, part)) for run in one])
        for part in ("server", "postgres", "wrk")
    )
    machine_ceiling = cores * 1000 / (server + postgres + wrk)
    process_ceiling = 1000 / server
    verdict = (
        "PostgreSQL and the server use up the cores before one server process is busy, so a "
        "second process cannot add much here; it pays where the cores outnumber what "
        "PostgreSQL and one process need (or PostgreSQL has a machine of its own)"
        if machine_ceiling < process_ceiling
        else "one server process runs out of its core first, so a second one has room to add"
    )
    return (
        f"At what one process's runs cost per request (server {server:.2f} + PostgreSQL "
        f"{postgres:.2f} + wrk {wrk:.2f} ms of CPU), {cores} cores answer at most "
        f"~{machine_ceiling:,.0f} req/s with nothing else running, while one server process "
        f"would fill its core at ~{process_ceiling:,.0f} req/s: {verdict}."
    )


def _split(run: Run) -> str:
    """ "9/7 (55%/45%)": wrk's connections on each serving process, and its CPU share."""
    connections = "/".join(str(count) for count in run.connections) or "—"
    if not run.workers or not sum(run.workers):
        return connections
    shares = "/".join(f"{seconds / sum(run.workers):.0%}" for seconds in run.workers)
    return f"{connections} ({shares})"


def section(runs: list[Run], options: Options, when: datetime) -> str:
    env = machine()
    lines = [
        SECTION_START,
        "## Several server processes: Q2 rotating with 1 and 2 (issue 16 §4)",
        "",
        f"From `python -m bench.workers` ({when:%Y-%m-%d %H:%M} UTC, commit {env['commit']}): "
        f"`partnerdesk serve --workers N` on the PostgreSQL database `{seed.BENCH_DATABASE}`, "
        "both servers with the same private Redis, started together and idle while the other "
        f"is timed; {options.rounds} interleaved round(s) of {options.seconds:g} s after "
        f"{options.warmup:g} s of warm-up, `wrk -t1 -c{CONNECTIONS}`, the Q2 rotation (500 "
        "page starts x 60 tokens); medians over the rounds (min-max). "
        f"{env['cores']} cores (`nproc`, {env['cpu']}) for everything: the servers, "
        "PostgreSQL, wrk and whatever else runs on the machine.",
    ]
    if options.quick:
        lines += ["", "**Quick smoke run (`--quick`): one short round; indicative only.**"]
    lines += [
        "",
        "| processes | req/s | p50 ms | p99 ms | CPU ms per request: server + PostgreSQL "
        "| cores busy: server / PostgreSQL / wrk / everything else "
        "| per serving process, each round: wrk connections (share of the server's CPU) |",
        "|--:|--:|--:|--:|--:|--:|--|",
    ]
    by_count = {n: [run for run in runs if run.processes == n] for n in PROCESS_COUNTS}
    for n, measured in by_count.items():
        if not measured:
            continue
        rps = [run.result.rps for run in measured]
        cores = [_median([run.cores(part) for run in measured]) for part in _PARTS]
        lines.append(
            f"| {n} | {_median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) "
            f"| {_median([r.result.p50_ms for r in measured]):.1f} "
            f"| {_median([r.result.p99_ms for r in measured]):.1f} "
            f"| {_median([r.per_request_ms(r.server) for r in measured]):.2f} + "
            f"{_median([r.per_request_ms(r.postgres) for r in measured]):.2f} "
            f"| {' / '.join(f'{c:.2f}' for c in cores)} "
            f"| {'; '.join(_split(run) for run in measured)} |"
        )
    one, two = by_count.get(1, []), by_count.get(2, [])
    if one and two:
        ratios = [
            b.result.rps / a.result.rps for a, b in zip(one, two, strict=False) if a.result.rps
        ]
        loads = [value for run in runs for value in run.load]
        lines += [
            "",
            f"2 processes / 1: **{_median(ratios):.2f}x** req/s, the median of the rounds' "
            f"ratios ({', '.join(f'{r:.2f}' for r in ratios)}; each compares runs seconds "
            "apart, as the load from other work drifts); the medians' ratio is "
            f"{_median([r.result.rps for r in two]) / _median([r.result.rps for r in one]):.2f}x. "
            "Other work kept the machine "
            f"{_median([run.idle_busy for run in runs]):.0%} busy (median) just before the "
            "runs, with the servers idle; the 1-minute load average during the runs, theirs "
            f"included, was {min(loads):.1f}-{max(loads):.1f} on {env['cores']} cores.",
            "",
            _ceilings(one, int(env["cores"] or 1)),
        ]
    problems = [run for run in runs if not run.result.clean]
    if problems:
        lines += ["", f"⚠ {len(problems)} run(s) had bad responses or socket errors."]
    lines += [
        "",
        "Cores busy: CPU seconds over the run's seconds. The server: its parent and its "
        "workers together (the parent only supervises). PostgreSQL: the backends of the "
        "server's own pooled connections (found by their client ports), so other work on the "
        "same PostgreSQL is not counted. wrk: the finished wrk run. Everything else: the "
        "machine's busy time (/proc/stat) less those three; other work on the machine, and "
        "the kernel's share of the loopback traffic. Linux spreads new connections over the "
        "workers' SO_REUSEPORT sockets by a hash of their addresses (server_processes.py).",
        "",
        "<details><summary>Every measured run</summary>",
        "",
        "| round | processes | req/s | p50 ms | p99 ms | cores: server / PostgreSQL / wrk / "
        "everything else | busy before (others) | load average before, after |",
        "|--:|--:|--:|--:|--:|--|--:|--|",
    ]
    for run in runs:
        lines.append(
            f"| {run.round + 1} | {run.processes} | {run.result.rps:,.0f} "
            f"| {run.result.p50_ms:.1f} | {run.result.p99_ms:.1f} "
            f"| {' / '.join(f'{run.cores(part):.2f}' for part in _PARTS)} "
            f"| {run.idle_busy:.0%} | {run.load[0]:.1f}, {run.load[1]:.1f} |"
        )
    lines += ["", "</details>", SECTION_END]
    return "\n".join(lines)


def parse_options(argv: Sequence[str] | None) -> tuple[Options, str]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s, 1 s warm-up")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 8)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (default 2)")
    parser.add_argument("--output", type=Path, help="report (default bench/RESULTS.md)")
    parser.add_argument("--server-url", default=seed.PG_SERVER_URL, help="PostgreSQL server URL")
    args = parser.parse_args(argv)
    quick = args.quick
    return Options(
        rounds=args.rounds or (1 if quick else 3),
        seconds=args.seconds or (3 if quick else 8),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        output=args.output or BENCH_DIR / ("RESULTS-quick.md" if quick else "RESULTS.md"),
        quick=quick,
    ), args.server_url


async def run(options: Options, url: str) -> int:
    """Compare, then write the section into options.output; the exit status."""
    started = datetime.now(UTC)
    runs = await compare(url, options)
    replace_section(options.output, SECTION_START, SECTION_END, section(runs, options, started))
    log(f"workers section written to {options.output}")
    return 0 if all(run.result.clean for run in runs) else 1


def main(argv: Sequence[str] | None = None) -> None:
    options, server_url = parse_options(argv)
    os.chdir(servers.ROOT)

    async def prepared_and_run() -> int:
        return await run(options, await prepared_database(server_url))

    sys.exit(asyncio.run(prepared_and_run()))


if __name__ == "__main__":
    main()
