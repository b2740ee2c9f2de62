"""The soak's checks, bench/SOAK.md and its two curves (latency over time, memory)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import percentile
from bench.soak_load import Outcome

P99_LIMIT_MS = 300.0
RSS_GROWTH_LIMIT = 0.10
BASELINE_SHARE = 0.2  # minute 2 of 10: compare from here to the end
WINDOW_SHARE = 0.05  # the baseline and the end are medians over 5% of the run (30 s of 600)
BUCKET_SECONDS = 5.0
# "No growth" with room for what is in flight at the moment of a sample.
TASK_SLACK = 0.05
TASK_SLACK_ABSOLUTE = 20
CONNECTION_SLACK = 1


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    server: int
    rss_kib: int | None
    tasks: int | None
    database_connections: int  # both servers together (and their mail workers)


@dataclass
class Soak:
    options: dict[str, Any]
    started: datetime
    load_seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    subscriber_partners: list[int] = field(default_factory=list)
    baseline_counts: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    subscriber_problems: list[str] = field(default_factory=list)
    expected_events: dict[int, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)  # status -> rows queued in the run
    sink_ids: dict[str, int] = field(default_factory=dict)  # Message-ID -> times received
    sink_without_id: int = 0
    crashed: list[str] = field(default_factory=list)
    servers: int = 2
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # component -> CPU s in the load


@dataclass(frozen=True)
class Check:
    text: str
    measured: str
    passed: bool | None  # None: could not be measured


def _window(soak: Soak, server: int, attribute: str) -> tuple[list[float], list[float]]:
    """A server's samples of `attribute` around the baseline (minute 2 of 10) and at the end
    of the load: each a window of WINDOW_SHARE of the run (at least 3 samples)."""
    start, end = soak.load_seconds * BASELINE_SHARE, soak.load_seconds
    values = [
        (s.at, getattr(s, attribute))
        for s in soak.samples
        if s.server == server and start <= s.at <= end and getattr(s, attribute) is not None
    ]
    if len(values) < 6:
        return [], []
    width = soak.load_seconds * WINDOW_SHARE
    first = [v for at, v in values if at <= start + width]
    last = [v for at, v in values if at >= end - width]
    if len(first) < 3:
        first = [v for _, v in values[:3]]
    if len(last) < 3:
        last = [v for _, v in values[-3:]]
    return first, last


def checks(soak: Soak) -> list[Check]:
    found: list[Check] = []
    latencies = [o.latency_ms for o in soak.outcomes if o.error is None]
    p99 = percentile(latencies, 0.99) if latencies else None
    found.append(
        Check(
            f"p99 latency < {P99_LIMIT_MS:.0f} ms (from each request's scheduled start)",
            "—"
            if p99 is None
            else f"{p99:.1f} ms (p50 {percentile(latencies, 0.5):.1f}, max {max(latencies):.0f})",
            None if p99 is None else p99 < P99_LIMIT_MS,
        )
    )
    errors = [o for o in soak.outcomes if o.error]
    found.append(
        Check("0 errors", f"{len(errors):,} of {len(soak.outcomes):,} requests", not errors)
    )
    lost, extra = 0, 0
    losers: Counter[int] = Counter()  # server -> subscribers that missed events
    for index, partner in enumerate(soak.subscriber_partners):
        received = soak.counts[index] - soak.baseline_counts[index] if soak.counts else 0
        expected = soak.expected_events.get(partner, 0)
        lost += max(0, expected - received)
        extra += max(0, received - expected)
        if received < expected:
            losers[index % soak.servers] += 1
    total = sum(soak.expected_events.get(p, 0) for p in soak.subscriber_partners)
    where = ", ".join(f"server {n + 1}: {losers[n]}" for n in range(soak.servers))
    found.append(
        Check(
            "0 lost events (each subscriber: events received = activity rows of its partner)",
            f"{lost:,} lost, {extra:,} unexpected, of {total:,} deliveries due; subscribers "
            f"that missed some: {where}; {len(soak.subscriber_problems)} subscriber problem(s)",
            bool(soak.counts) and lost == 0 and extra == 0 and not soak.subscriber_problems,
        )
    )
    queued = sum(soak.emails.values())
    sent = soak.emails.get("SENT", 0)
    duplicates = sum(count - 1 for count in soak.sink_ids.values() if count > 1)
    found.append(
        Check(
            "every e-mail delivered once (by Message-ID)",
            f"{queued:,} queued, {sent:,} SENT, {len(soak.sink_ids):,} distinct Message-IDs received, "
            f"{duplicates} duplicate(s), {soak.sink_without_id} without Message-ID",
            queued > 0
            and sent == queued == len(soak.sink_ids)
            and not duplicates
            and not soak.sink_without_id,
        )
    )
    for server in sorted({s.server for s in soak.samples}):
        first, last = _window(soak, server, "rss_kib")
        if not first:
            found.append(
                Check(f"server {server + 1}: RSS growth < 10%", "not enough samples", None)
            )
            continue
        before, after = statistics.median(first), statistics.median(last)
        growth = after / before - 1
        found.append(
            Check(
                f"server {server + 1}: RSS growth < {RSS_GROWTH_LIMIT:.0%} (minute 2 to the end)",
                f"{before / 1024:.1f} → {after / 1024:.1f} MiB ({growth:+.1%})",
                growth < RSS_GROWTH_LIMIT,
            )
        )
        first, last = _window(soak, server, "tasks")
        if not first:
            found.append(
                Check(f"server {server + 1}: no growth in asyncio tasks", "not measured", None)
            )
        else:
            before, after = statistics.median(first), statistics.median(last)
            limit = before * (1 + TASK_SLACK) + TASK_SLACK_ABSOLUTE
            found.append(
                Check(
                    f"server {server + 1}: no growth in asyncio tasks",
                    f"median {before:.0f} → {after:.0f} (limit {limit:.0f})",
                    after <= limit,
                )
            )
    first, last = _window(soak, 0, "database_connections")
    if first:
        before, after = statistics.median(first), statistics.median(last)
        found.append(
            Check(
                "no growth in open database connections (pg_stat_activity, both servers)",
                f"median {before:.0f} → {after:.0f}",
                after <= before + CONNECTION_SLACK,
            )
        )
    if soak.crashed:
        found.append(Check("servers alive to the end", ", ".join(soak.crashed) + " ended", False))
    return found


def _buckets(outcomes: Sequence[Outcome]) -> list[tuple[float, float, float, float, int]]:
    """(start s, p50, p99, max, errors) per BUCKET_SECONDS of due time."""
    by_bucket: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        by_bucket.setdefault(int(outcome.due // BUCKET_SECONDS), []).append(outcome)
    rows = []
    for bucket in sorted(by_bucket):
        found = by_bucket[bucket]
        ok = [o.latency_ms for o in found if o.error is None] or [0.0]
        rows.append(
            (bucket * BUCKET_SECONDS, percentile(ok, 0.5), percentile(ok, 0.99), max(ok),
             sum(1 for o in found if o.error))
        )  # fmt: skip
    return rows


def plots(soak: Soak, stem: Path) -> list[Path]:
    """Latency over time and RSS (with tasks and connections) as PNGs; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    rows = _buckets(soak.outcomes)
    figure, axis = plt.subplots(figsize=(10, 4.5))
    axis.plot([r[0] for r in rows], [r[1] for r in rows], label="p50")
    axis.plot([r[0] for r in rows], [r[2] for r in rows], label="p99")
    axis.plot([r[0] for r in rows], [r[3] for r in rows], label="max", alpha=0.4)
    axis.axhline(P99_LIMIT_MS, color="red", linestyle="--", linewidth=1, label="p99 limit")
    axis.set_xlabel(f"seconds into the run ({BUCKET_SECONDS:g} s buckets)")
    axis.set_ylabel("ms from the scheduled start")
    axis.set_yscale("log")
    axis.set_title(f"Soak latency at {soak.options['rate']:g} requests/s")
    axis.legend()
    figure.tight_layout()
    path = stem.with_name(stem.name + "-latency.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    written.append(path)
    figure, (memory, tasks) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for server in sorted({s.server for s in soak.samples}):
        mine = [s for s in soak.samples if s.server == server and s.rss_kib is not None]
        memory.plot(
            [s.at for s in mine], [s.rss_kib / 1024 for s in mine], label=f"server {server + 1}"
        )  # type: ignore[operator]
        counted = [s for s in mine if s.tasks is not None]
        tasks.plot(
            [s.at for s in counted],
            [s.tasks for s in counted],
            label=f"server {server + 1} asyncio tasks",
        )
    first = [s for s in soak.samples if s.server == 0]
    tasks.plot(
        [s.at for s in first],
        [s.database_connections for s in first],
        label="database connections",
        linestyle=":",
    )
    for axis in (memory, tasks):
        axis.axvline(soak.load_seconds * BASELINE_SHARE, color="grey", linestyle="--", linewidth=1)
        axis.axvline(soak.load_seconds, color="grey", linestyle=":", linewidth=1)
        axis.legend()
    memory.set_ylabel("RSS, MiB")
    tasks.set_ylabel("count")
    tasks.set_xlabel("seconds into the run (dashed: baseline; dotted: load ends, drain)")
    figure.tight_layout()
    path = stem.with_name(stem.name + "-memory.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    written.append(path)
    return written


def write_report(path: Path, soak: Soak) -> bool:
    """SOAK.md (and the PNGs beside it); True when every check passed."""
    found = checks(soak)
    passed = all(check.passed for check in found)
    stem = path.with_name("soak" + ("-quick" if soak.options.get("quick") else ""))
    images = plots(soak, stem)
    options = soak.options
    lines: list[str] = []
    add = lines.append
    add("# PartnerDesk soak")
    add("")
    add(
        f"Generated by `make soak` (`python -m bench.soak`) on {soak.started:%Y-%m-%d %H:%M} UTC: "
        f"{options['seconds']:g} s at {options['rate']:g} requests/s (open loop), "
        f"{options['subscribers']} live subscriptions, two `partnerdesk serve` processes on "
        "PostgreSQL and Redis, the mail worker sending to a local SMTP sink."
    )
    if options.get("quick"):
        add("")
        add(
            "**Quick run (`--quick`, 60 s): a smoke test of the harness; the ten-minute run is the measurement.**"
        )
    add("")
    add(f"## Checks: {'all passed' if passed else 'FAILED'}")
    add("")
    add("| Check | Measured | |")
    add("|---|---|---|")
    for check in found:
        mark = {True: "✅", False: "❌", None: "— not measured"}[check.passed]
        add(f"| {check.text} | {check.measured} | {mark} |")
    add("")
    add("## Requests")
    add("")
    add("| Kind | requests | errors | p50 ms | p99 ms | max ms |")
    add("|---|---|---|---|---|---|")
    kinds = Counter(o.kind for o in soak.outcomes)
    for kind in sorted(kinds):
        mine = [o for o in soak.outcomes if o.kind == kind]
        ok = [o.latency_ms for o in mine if o.error is None] or [0.0]
        add(
            f"| {kind} | {len(mine):,} | {sum(1 for o in mine if o.error):,} | {percentile(ok, 0.5):.1f}"
            f" | {percentile(ok, 0.99):.1f} | {max(ok):.0f} |"
        )
    errors = Counter((o.error or "")[:160] for o in soak.outcomes if o.error)
    if errors:
        add("")
        add("Errors (most frequent first):")
        add("")
        for error, count in errors.most_common(10):
            add(f"- {count:,} x `{error}`")
    if soak.subscriber_problems:
        add("")
        add("Subscriber problems (first ones):")
        add("")
        for problem in soak.subscriber_problems[:10]:
            add(f"- `{problem[:200]}`")
    add("")
    if soak.cpu_seconds:
        add(
            "CPU time during the load (s; the machine has 2 cores, so at most "
            f"{2 * soak.load_seconds:.0f} s): "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in soak.cpu_seconds.items())
            + ". A harness near a core would slow the servers it measures."
        )
        add("")
    add("## Curves")
    add("")
    if images:
        for image in images:
            add(f"![{image.stem}]({image.name})")
            add("")
    else:
        add("(matplotlib is not installed: `make soak` installs bench/requirements-soak.txt)")
        add("")
    add("<details><summary>Latency per 5 s of the run (p50 / p99 / max ms, errors)</summary>")
    add("")
    add("| s | p50 | p99 | max | errors |")
    add("|---|---|---|---|---|")
    for start, p50, p99, longest, failed in _buckets(soak.outcomes):
        add(f"| {start:.0f} | {p50:.1f} | {p99:.1f} | {longest:.0f} | {failed} |")
    add("")
    add("</details>")
    add("")
    add("## Method")
    add("")
    add(
        "- Load (bench/soak_load.py): request k is due at start + k / rate and is sent then, "
        "whatever earlier requests are doing (open loop); its latency runs from when it was due, "
        "so queueing counts. At most 200 in flight; more counts as an error. Requests alternate "
        "between the two servers. Mix per 20: 6 Q1, 3 Q2, 3 Q3, 2 Q4 (the benchmark's rotating "
        "reads, tokens of the partners' members), 4 writes (convertInquiry to a new customer, "
        "connectCustomer to an existing one, declineInvitation with a message, in turn; from "
        "pools made before the run), 2 public submitInquiry forms (`renderedAt` a minute old)."
    )
    add(
        "- Subscriptions (bench/soak_clients.py): graphql-transport-ws, `connection_init` with "
        "the member's bearer token, `subscription { activity { verb summary } }`, 50 per partner, "
        "half on each server. Before the load, one public inquiry per partner proves every "
        "subscription live; afterwards the harness waits (bounded) for the outbox to drain and "
        "the counts to settle, then compares each subscriber's events with its partner's "
        "activity rows written since (the mail worker's 'e-mail sent' rows included)."
    )
    add(
        "- Memory and leaks: VmRSS of each server from /proc every few seconds; asyncio tasks "
        "from inside each server (bench/soak_probe.py runs `partnerdesk serve` with one extra "
        "task that writes the count); database connections from pg_stat_activity (the "
        "harness's own excluded). Growth compares the median over the first "
        f"{WINDOW_SHARE:.0%} of the run after the baseline (at {BASELINE_SHARE:.0%}: minute 2 of "
        f"10) with the median over the last {WINDOW_SHARE:.0%} of the load; "
        f"tasks may grow by {TASK_SLACK:.0%} + {TASK_SLACK_ABSOLUTE} (requests in flight), "
        f"connections by {CONNECTION_SLACK}."
    )
    add(
        "- Everything on one 2-core machine: the harness, its subscriber process, both servers, "
        "PostgreSQL and Redis share it, so latency includes their contention."
    )
    add("")
    add(f"Finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
    path.write_text("\n".join(lines) + "\n")
    return passed
