"""The timed runs: wrk in interleaved rounds, with the CPU each run cost.

Within a round every workload runs in both modes on every server back to back, the
server order rotated by one each round; a warm-up run precedes each measured run. The
servers of a round get the same wrk offsets, hence the same sequence of requests.
Write workloads take a fresh pool per run (sized from the last rate), and each write run
is checked against the database: every answered request must have written its activity
row(s) (a public form PartnerDesk took for a bot's would answer "accepted" and write
nothing).
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import load, seed
from bench.counting import pool_values
from bench.fixture import Fixture
from bench.harness import PARTNERDESK, PEER, REF_PY, Endpoints, Target, fetch_value, log
from bench.queries import WORKLOADS
from bench.results import Measured
from bench.rotation import MODES, Rotation, body_parts

# Between runs the servers idle; CPU busier than this is someone else's work (noise).
IDLE_ENOUGH = 0.25
MAX_IDLE_WAIT = 120.0
# Activity rows each answered write leaves (the runs' proof that writes happened).
ACTIVITY_ROWS = {"M1": 1, "M2": 2, "M3": 1, "M4": 1}
CONNECTIONS = 16


@dataclass
class Settings:
    rounds: int
    seconds: float
    warmup: float
    check_seconds: float
    workloads: Sequence[str]
    modes: Sequence[str]
    checks: bool
    wait_idle: bool
    sqlite: bool


@dataclass
class Timer:
    settings: Settings
    fixture: Fixture
    endpoints: Endpoints
    url: str
    work_dir: Path
    measured: Measured
    scripts: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    pool_runs: int = 0

    def script(
        self,
        target: Target,
        workload: str,
        rotation_: Rotation,
        name: str,
        pool: Path | None = None,
    ) -> Path:
        key = (target.key, workload, name)
        if pool is None and key in self.scripts:
            return self.scripts[key]
        peer = target.key == PEER.key
        document = WORKLOADS[workload].peer_document if peer else WORKLOADS[workload].document
        assert document is not None
        prefix, suffix = body_parts(document)
        slug = re.sub(r"\W+", "-", f"{target.key}-{workload}-{name}")
        path = load.write_script(
            self.work_dir / f"{slug}{'-' + pool.stem if pool else ''}.lua",
            prefix,
            rotation_.fragments(peer=peer),
            suffix,
            [] if peer else [token for token in rotation_.tokens if token],
            pool,
            rotation_.pool_columns,
        )
        if pool is None:
            self.scripts[key] = path
        return path

    async def pool_file(self, workload: str, size: int) -> Path:
        self.pool_runs += 1
        entries = await pool_values(self.url, workload, size)
        return load.write_pool_file(self.work_dir / f"pool-{self.pool_runs}.txt", entries)

    def offset(self, workload: str, mode: str, round_index: int, phase: str) -> int:
        """Where in the rotation a run starts: the same for every server of a round."""
        return zlib.crc32(f"{workload} {mode} {round_index} {phase}".encode()) % 1_000_003

    async def run(
        self,
        target: Target,
        workload: str,
        mode: str,
        round_index: int,
        rotation_: Rotation | None = None,
        name: str | None = None,
        connections: int = CONNECTIONS,
        seconds: float | None = None,
        record: bool = True,
    ) -> load.WrkResult:
        rotation_ = rotation_ or self.fixture.rotation(workload, mode)
        name = name or mode
        seconds = seconds or self.settings.seconds
        url = self.endpoints.url(target, workload)
        warm_offset = self.offset(workload, name, round_index, "warm-up")
        offset = self.offset(workload, name, round_index, "measured")
        if not rotation_.pool_columns:
            script = self.script(target, workload, rotation_, name)
            if self.settings.warmup:
                await load.run_wrk(url, script, self.settings.warmup, connections, warm_offset)
            return await self.timed(
                target, workload, mode, url, script, seconds, connections, offset, record
            )
        # Writes from a pool: every request consumes its own entry; size it from the last rate.
        earlier = self.measured.runs.get((workload, mode, target.key))
        rate = max(r.rps for r in earlier) * 1.3 if earlier else 2000.0
        for attempt in range(2):
            if self.settings.warmup:
                pool = await self.pool_file(workload, int(rate * (self.settings.warmup + 1)) + 500)
                script = self.script(target, workload, rotation_, name, pool)
                await load.run_wrk(url, script, self.settings.warmup, connections, warm_offset)
            pool = await self.pool_file(workload, int(rate * (seconds + 1)) + 500)
            script = self.script(target, workload, rotation_, name, pool)
            result = await self.timed(
                target, workload, mode, url, script, seconds, connections, offset, record
            )
            if not result.exhausted or attempt:
                return result
            rate = result.rps * 3
        raise AssertionError("unreachable")

    async def timed(
        self,
        target: Target,
        workload: str,
        mode: str,
        url: str,
        script: Path,
        seconds: float,
        connections: int,
        offset: int,
        record: bool,
    ) -> load.WrkResult:
        """One measured wrk run, with the CPU time it cost the server under test and
        PostgreSQL per request, and for writes the rows it wrote."""
        pid = self.endpoints.pids.get(target.key) if record else None
        server_before = load.process_cpu_seconds(pid) if pid else 0.0
        database_before = load.postgres_cpu_seconds()
        rows_before = 0
        if workload in ACTIVITY_ROWS:
            await asyncio.sleep(0.5)  # the warm-up's last in-flight requests commit first
            rows_before = await self.activity_rows()
        result = await load.run_wrk(url, script, seconds, connections, offset)
        if pid is not None and result.requests:
            server = load.process_cpu_seconds(pid) - server_before
            database = load.cpu_spent(database_before, load.postgres_cpu_seconds())
            per_request = (1000 * server / result.requests, 1000 * database / result.requests)
            self.measured.cpu.setdefault((workload, mode, target.key), []).append(per_request)
        if workload in ACTIVITY_ROWS:
            await asyncio.sleep(0.5)  # the last in-flight requests commit
            written = await self.activity_rows() - rows_before
            expected = ACTIVITY_ROWS[workload] * result.requests
            if not expected <= written <= expected + ACTIVITY_ROWS[workload] * connections:
                self.measured.problems.append(
                    f"{workload} {mode} {target.label}: {result.requests:,} answered requests "
                    f"but {written:,} activity rows written (expected {ACTIVITY_ROWS[workload]} "
                    "per request): writes were dropped or failed."
                )
        return result

    async def activity_rows(self) -> int:
        return int(
            await fetch_value(
                self.url,
                "SELECT count(*) AS n FROM activity_event WHERE partner_id = $1",
                seed.WRITE_PARTNER,
            )
        )


def _record_problem(measured: Measured, what: str, result: load.WrkResult) -> None:
    if not result.clean:
        measured.problems.append(
            f"{what}: {result.bad} bad responses (non-200 or GraphQL errors), "
            f"{result.non_2xx} non-2xx, {result.socket_errors} socket errors, "
            f"{result.exhausted} requests after the pool ran out, of {result.requests:,}."
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
    while timer.settings.wait_idle and busy > IDLE_ENOUGH and waited < MAX_IDLE_WAIT:
        await asyncio.sleep(2)
        waited += 2
        busy = await cpu_busy()
    timer.measured.cpu_busy.append(busy)


async def timed_rounds(timer: Timer) -> None:
    settings, measured = timer.settings, timer.measured
    for round_index in range(settings.rounds):
        for workload in settings.workloads:
            targets = measured.targets[workload]
            for mode in (m for m in MODES if m in settings.modes):
                shift = (round_index + MODES.index(mode)) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    if (
                        target.key == PEER.key
                        and timer.fixture.rotation(workload, mode).peer_variables is None
                    ):
                        continue
                    await settle(timer)
                    result = await timer.run(target, workload, mode, round_index)
                    measured.runs.setdefault((workload, mode, target.key), []).append(result)
                    what = f"{workload} {mode} {target.label} round {round_index + 1}"
                    _record_problem(measured, what, result)
                    log(
                        f"round {round_index + 1}/{settings.rounds} {workload} {mode} {target.label}: "
                        f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
                        + ("" if result.clean else "  ⚠ errors")
                    )
        if settings.checks:
            await checks_round(timer, round_index)


async def checks_round(timer: Timer, round_index: int) -> None:
    """Keyset and search latency at one connection, interleaved like the workloads."""
    targets = [PARTNERDESK] if timer.settings.sqlite else [PARTNERDESK, REF_PY]
    for case, rotation_ in timer.fixture.checks.items():
        check = "search" if case.startswith("search") else "keyset"
        shift = round_index % len(targets)
        for target in targets[shift:] + targets[:shift]:
            await settle(timer)
            result = await timer.run(
                target,
                "Q3",
                case,
                round_index,
                rotation_=rotation_,
                name=case,
                connections=1,
                seconds=timer.settings.check_seconds,
                record=False,
            )
            timer.measured.checks.setdefault(check, {}).setdefault(
                f"{target.label}: {case}", []
            ).append(result)
            _record_problem(timer.measured, f"{check} {case} {target.label}", result)
            log(
                f"check {case} {target.label}: p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
            )
