"""What a benchmark run measured, and the targets it is judged by."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.harness import PARTNERDESK, PEER, REF_PY, REFERENCES, Target
from bench.load import WrkResult
from bench.queries import WORKLOADS
from bench.rotation import FIXED, ROTATING

READS = ("Q1", "Q2", "Q3")
WRITES = ("M1", "M2", "M3", "M4")


@dataclass
class Measured:
    """Everything a run produced, for the report."""

    started: datetime
    finished: datetime | None
    options: dict[str, Any]
    workloads: dict[str, str]  # key -> title
    targets: dict[str, list[Target]]  # workload -> targets timed
    modes: Sequence[str] = (FIXED, ROTATING)
    # (workload, mode, target) -> the measured runs
    runs: dict[tuple[str, str, str], list[WrkResult]] = field(default_factory=dict)
    statements: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    growth: dict[str, dict[int, int]] = field(default_factory=dict)  # workload -> first -> sql
    checks: dict[str, dict[str, list[WrkResult]]] = field(default_factory=dict)
    cold: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # target -> ms
    rotation: dict[str, tuple[int, int]] = field(default_factory=dict)  # workload -> (V, T)
    equality: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the run is not valid: exit status 1
    warnings: list[str] = field(default_factory=list)  # valid, but read with care
    data: dict[str, int] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    search_term: str = ""
    cpu_busy: list[float] = field(default_factory=list)  # sampled between runs
    # (workload, mode, target) -> per measured run: (server CPU ms, PostgreSQL CPU ms) per request
    cpu: dict[tuple[str, str, str], list[tuple[float, float]]] = field(default_factory=dict)

    def median(self, workload: str, mode: str, target: str, attribute: str) -> float | None:
        found = self.runs.get((workload, mode, target))
        if not found:
            return None
        return statistics.median(getattr(result, attribute) for result in found)

    def reference(self, workload: str, mode: str) -> Target | None:
        """The fastest reference variant of a workload in a mode (by median req/s)."""
        best: tuple[float, Target] | None = None
        for target in REFERENCES:
            rps = self.median(workload, mode, target.key, "rps")
            if rps is not None and (best is None or rps > best[0]):
                best = (rps, target)
        return best[1] if best else None

    def ratio(self, workload: str, mode: str, target: str, versus: str | None) -> float | None:
        if versus is None:
            return None
        mine = self.median(workload, mode, target, "rps")
        theirs = self.median(workload, mode, versus, "rps")
        return mine / theirs if mine is not None and theirs else None

    def reference_for_cold(self) -> Target | None:
        """The reference variant shown next to PartnerDesk's cold figure: the fastest warm one."""
        best: tuple[float, Target] | None = None
        for target in REFERENCES:
            pairs = self.cold.get(target.key)
            if pairs:
                warm = statistics.median(pair[1] for pair in pairs)
                if best is None or warm < best[0]:
                    best = (warm, target)
        return best[1] if best else None

    def cpu_median(self, workload: str, mode: str, target: str) -> tuple[float, float] | None:
        samples = self.cpu.get((workload, mode, target))
        if not samples:
            return None
        return (
            statistics.median(sample[0] for sample in samples),
            statistics.median(sample[1] for sample in samples),
        )


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str
    met: bool | None  # None: reported, not judged (or not measured)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _minimum(workload: str) -> str:
    argued = WORKLOADS[workload].minimum_statements
    return f"; minimum {argued[0]} (see below)" if argued else ""


def issue16_goals(measured: Measured) -> list[Goal]:
    """Issue 16 §1: rotating reads against the fastest fair reference and PostGraphile,
    writes against the raw asyncpg reference, statements per write, the cold document."""
    found: list[Goal] = []
    for workload in (key for key in READS if key in measured.workloads):
        reference = measured.reference(workload, ROTATING)
        value = measured.ratio(
            workload, ROTATING, PARTNERDESK.key, reference.key if reference else None
        )
        label = reference.label.removeprefix("Reference: ") if reference else "—"
        found.append(
            Goal(
                f"{workload} rotating: ≥ 1.0 x the fastest fair reference variant",
                f"{_fmt(value)} (vs {label})",
                None if value is None else value >= 1.0,
            )
        )
        peer = measured.ratio(workload, ROTATING, PARTNERDESK.key, PEER.key)
        if (workload, ROTATING, PEER.key) in measured.runs:
            found.append(
                Goal(
                    f"{workload} rotating: ≥ 2 x PostGraphile v5",
                    _fmt(peer),
                    None if peer is None else peer >= 2.0,
                )
            )
    for workload in (key for key in WRITES if key in measured.workloads):
        value = measured.ratio(workload, ROTATING, PARTNERDESK.key, REF_PY.key)
        found.append(
            Goal(
                f"{workload} rotating: ≥ 0.7 x the raw asyncpg reference (same statements, same checks)",
                _fmt(value),
                None if value is None else value >= 0.7,
            )
        )
    for workload in (key for key in WRITES if key in measured.workloads):
        ours = measured.statements.get((workload, ROTATING, PARTNERDESK.key))
        theirs = measured.statements.get((workload, ROTATING, REF_PY.key))
        if ours and theirs:
            found.append(
                Goal(
                    f"{workload}: SQL statements per request (PartnerDesk vs reference)",
                    f"{ours['sql']} + {ours['transaction']} BEGIN/COMMIT, {ours['round_trips']} round trips"
                    f" vs {theirs['sql']} + {theirs['transaction']}, {theirs['round_trips']}"
                    + _minimum(workload),
                    None,
                )
            )
    cold = measured.cold.get(PARTNERDESK.key)
    if cold:
        values = [pair[0] for pair in cold]
        others = []
        for target in (measured.reference_for_cold(), PEER):
            if target and measured.cold.get(target.key):
                theirs = [pair[0] for pair in measured.cold[target.key]]
                others.append(
                    f"{target.label.removeprefix('Reference: ')}: {statistics.median(theirs):.2f} / "
                    f"{percentile(theirs, 0.99):.2f}"
                )
        found.append(
            Goal(
                "Q2 cold (a never-seen document): p50 / p99 ms",
                f"{statistics.median(values):.2f} / {percentile(values, 0.99):.2f}"
                + (f" (vs {'; '.join(others)})" if others else ""),
                None,
            )
        )
    return found


def issue7_goals(measured: Measured) -> list[Goal]:
    """The targets of issue 7 §2, on the fixed requests (dashboard polling)."""
    found: list[Goal] = []

    def ratio_goal(workload: str, versus: str, minimum: float, label: str) -> None:
        if workload not in measured.workloads:
            return
        reference = measured.reference(workload, FIXED)
        other = reference.key if versus == "reference" and reference else versus
        value = measured.ratio(workload, FIXED, PARTNERDESK.key, other)
        found.append(
            Goal(
                f"{workload} fixed: ≥ {minimum:g} x {label}",
                _fmt(value),
                None if value is None else value >= minimum,
            )
        )

    ratio_goal("Q1", "reference", 0.55, "reference")
    for workload in ("Q2", "Q3"):
        ratio_goal(workload, "reference", 0.6, "reference")
        ratio_goal(workload, PEER.key, 1.3, "PostGraphile v5")
    for workload, roots in (("Q1", 1), ("Q2", 1), ("Q3", 1), ("Q4", 2)):
        summary = measured.statements.get((workload, FIXED, PARTNERDESK.key))
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
                f"{_fmt(value)} ({page500:.2f} vs {page1:.2f} ms)",
                None if value is None else value <= 1.2,
            )
        )
    for case in ("search", "search, rotating"):
        search = measured.checks.get("search", {}).get(f"PartnerDesk: {case}")
        if search:
            p99 = statistics.median(r.p99_ms for r in search)
            found.append(
                Goal(f"Search ({case}): p99 < 50 ms on PostgreSQL", f"{p99:.1f} ms", p99 < 50)
            )
    return found
