"""CSV import and export against a real `partnerdesk` server, on SQLite and on PostgreSQL.

For each database: a fresh, migrated database and one server process (uvicorn, as
`partnerdesk serve` runs it). Then, through the API as a client would:

1. a dry run of a 10,000-row file (inside the request);
2. the import of that file (in the background, followed with customerImport(id) until DONE);
3. the same file again (every row matches: nothing is written);
4. more 10,000-row files until the partner has EXPORT_CUSTOMERS customers;
5. the CSV and JSON export of 10,000 and of EXPORT_CUSTOMERS customers, downloaded in full.

Memory is the server's resident set: "idle" is its size once started and warmed up (a
10-row dry run), "peak" the high-water mark during a step (the kernel's VmHWM, reset before
each step by writing 5 to /proc/<pid>/clear_refs), reported above idle: memory an earlier
step left allocated counts against later ones, so later figures are upper bounds. Targets (issue 13): a 10,000-row import under 20 s with less
than 100 MiB above idle, and exports in constant memory.

    .venv/bin/python -m bench.import_export [--backend sqlite|postgres|both] [--write]

PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) names
the server; the benchmark creates its own database there and drops it afterwards.
--write puts the figures into bench/DATA.md and the "Customer data" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench.report import replace_section
from bench.servers import Server, partnerdesk
from models.database import migrate_database

ROOT = Path(__file__).resolve().parent.parent
DATA_MD = ROOT / "bench" / "DATA.md"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
SECTION_START = "<!-- customer-data: written by bench/import_export.py -->"
SECTION_END = "<!-- /customer-data -->"
FILE_ROWS = 10_000
EXPORT_CUSTOMERS = 100_000
MIB = 1024 * 1024
HEADER = [
    "External ID", "First name", "Last name", "Company", "E-mail", "Phone", "Street",
    "Postal code", "City", "Country", "VAT ID", "Language", "Notes", "Tags",
]  # fmt: skip
CITIES = [("Milano", "20121"), ("Roma", "00184"), ("Torino", "10121"), ("Bolzano", "39100")]
IMPORT = """mutation($file: Upload!, $dryRun: Boolean) {
  importCustomers(file: $file, dryRun: $dryRun) {
    customerImport { id status created updated skipped problems { row message } }
    errors { message } } }"""
PROGRESS = "query($id: ID!) { customerImport(id: $id) { status created updated skipped } }"
EXPORT = "mutation($format: ExportFormat) { exportCustomers(format: $format) { export { url } errors { message } } }"


def csv_file(first: int, rows: int) -> bytes:
    """`rows` valid customers with every column filled, numbered from `first`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for number in range(first, first + rows):
        city, postal_code = CITIES[number % len(CITIES)]
        company = f"Studio {number} SRL" if number % 5 == 0 else ""
        writer.writerow(
            [
                f"BENCH-{number:07d}",
                f"Giulia{number}",
                f"Rossi{number % 997}",
                company,
                f"giulia.rossi{number}@example.it",
                f"+39 02 {10_000_000 + number}",
                f"Via Garibaldi {number % 300 + 1}",
                postal_code,
                city,
                "IT",
                f"IT{number:011d}" if company else "",
                "it" if number % 3 else "de",
                "Prefers e-mail.\nCall after 10." if number % 7 == 0 else "",
                "imported|bench" if number % 2 else "imported",
            ]
        )
    return buffer.getvalue().encode()


# ---------------------------------------------------------------- the server's memory


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


@dataclass
class Memory:
    """The server's memory: its idle size once, then each step's peak above that."""

    pid: int
    idle: int = 0
    step_start: int = 0

    def settle(self) -> None:
        """The resident set now (the server started, warmed up, nothing running) is idle."""
        self.idle = _status(self.pid, "VmRSS")

    def start(self) -> None:
        """A step starts: its peak counts from now on."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.step_start = _status(self.pid, "VmRSS")

    def above_idle(self) -> float:
        """The step's peak above idle, in MiB (memory kept from earlier steps included)."""
        return (_status(self.pid, "VmHWM") - self.idle) / MIB

    def above_step_start(self) -> float:
        """The step's peak above the server's size when the step started, in MiB."""
        return (_status(self.pid, "VmHWM") - self.step_start) / MIB


# ---------------------------------------------------------------- one database


@dataclass
class Figures:
    backend: str
    steps: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, step: str, rows: int, seconds: float, memory: Memory, **more: object) -> None:
        figures = {
            "step": step,
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds) if seconds else None,
            "idle_mib": round(memory.idle / MIB, 1),
            "peak_above_idle_mib": round(memory.above_idle(), 1),
            "peak_above_step_start_mib": round(memory.above_step_start(), 1),
            **more,
        }
        self.steps.append(figures)
        print(f"  {self.backend}: {json.dumps(figures)}", flush=True)


class Client:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token = ""

    async def gql(
        self, query: str, variables: dict[str, object] | None = None
    ) -> dict[str, object]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    async def upload(self, content: bytes, dry_run: bool) -> dict[str, object]:
        operations = {"query": IMPORT, "variables": {"file": None, "dryRun": dry_run}}
        response = await self.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("bench.csv", content, "text/csv")},
            headers={"authorization": f"Bearer {self.token}", "graphql-require-preflight": "1"},
        )
        payload = response.json()["data"]["importCustomers"]
        assert payload["errors"] == [], payload
        return payload["customerImport"]  # type: ignore[no-any-return]

    async def import_file(self, content: bytes) -> dict[str, object]:
        started = await self.upload(content, dry_run=False)
        while True:
            found = (await self.gql(PROGRESS, {"id": started["id"]}))["customerImport"]
            assert isinstance(found, dict)
            if found["status"] != "RUNNING":
                assert found["status"] == "DONE", found
                return found
            await asyncio.sleep(0.1)

    async def export(self, format: str) -> int:
        """Ask for an export and download it; its size in bytes."""
        data = await self.gql(EXPORT, {"format": format})
        url = data["exportCustomers"]["export"]["url"]  # type: ignore[index]
        size = 0
        async with self.http.stream("GET", url) as response:
            assert response.status_code == 200, response.status_code
            async for chunk in response.aiter_bytes():
                size += len(chunk)
        return size


async def _measure(
    backend: str, database_url: str, log_dir: Path, export_customers: int
) -> Figures:
    await migrate_database(database_url)
    server: Server = partnerdesk(database_url, log_dir, suffix=f"-{backend}")
    server.start()
    figures = Figures(backend)
    try:
        await server.wait_ready()
        assert server.process is not None
        memory = Memory(server.process.pid)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
            client = Client(http)
            registered = await client.gql(
                """mutation { registerPartner(input: {partnerName: "Bench", slug: "bench-data",
                name: "Bench Owner", email: "owner@bench.example", password: "bench password 1"}) { token } }"""
            )
            client.token = registered["registerPartner"]["token"]  # type: ignore[index]
            await client.upload(csv_file(0, 10), dry_run=True)  # warm the code paths
            memory.settle()
            first = csv_file(1, FILE_ROWS)
            print(f"  {backend}: file of {FILE_ROWS} rows, {len(first) / MIB:.2f} MiB", flush=True)

            memory.start()
            started = time.monotonic()
            report = await client.upload(first, dry_run=True)
            figures.add(
                "dry run", FILE_ROWS, time.monotonic() - started, memory, created=report["created"]
            )

            memory.start()
            started = time.monotonic()
            report = await client.import_file(first)
            figures.add(
                "import", FILE_ROWS, time.monotonic() - started, memory, created=report["created"]
            )

            memory.start()
            started = time.monotonic()
            report = await client.import_file(first)
            figures.add(
                "same file again",
                FILE_ROWS,
                time.monotonic() - started,
                memory,
                created=report["created"],
                skipped=report["skipped"],
            )

            await _export(client, figures, memory, FILE_ROWS)
            imported = FILE_ROWS
            while imported < export_customers:
                memory.start()
                started = time.monotonic()
                await client.import_file(csv_file(imported + 1, FILE_ROWS))
                imported += FILE_ROWS
                figures.add(
                    f"import up to {imported}", FILE_ROWS, time.monotonic() - started, memory
                )
            if imported > FILE_ROWS:
                await _export(client, figures, memory, imported)
    finally:
        server.stop()
    return figures


async def _export(client: Client, figures: Figures, memory: Memory, customers: int) -> None:
    for format in ("CSV", "JSON"):
        memory.start()
        started = time.monotonic()
        size = await client.export(format)
        figures.add(
            f"export {format}",
            customers,
            time.monotonic() - started,
            memory,
            mib=round(size / MIB, 1),
        )


def _with_database(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def measure(backend: str, export_customers: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="partnerdesk-bench-data-") as scratch:
        log_dir = Path(scratch)
        if backend == "sqlite":
            return await _measure(
                backend, f"sqlite://{log_dir / 'bench.sqlite3'}", log_dir, export_customers
            )
        server_url = os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        )
        name = f"partnerdesk_bench_data_{uuid.uuid4().hex[:8]}"
        admin = server_url.replace("postgres://", "postgresql://", 1)
        connection = await asyncpg.connect(admin)
        await connection.execute(f'CREATE DATABASE "{name}"')
        version = await connection.fetchval("SHOW server_version")
        autovacuum = await connection.fetchval("SHOW autovacuum")
        await connection.close()
        try:
            figures = await _measure(
                backend, _with_database(server_url, name), log_dir, export_customers
            )
            figures.notes.append(f"PostgreSQL {version}, autovacuum {autovacuum}")
            return figures
        finally:
            connection = await asyncpg.connect(admin)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


# ---------------------------------------------------------------- the report


def _rows(results: list[Figures]) -> Iterator[str]:
    yield (
        "| database | step | rows | seconds | rows/s | server idle (MiB) "
        "| peak above idle (MiB) | peak above step start (MiB) | file (MiB) |"
    )
    yield "|---|---|--:|--:|--:|--:|--:|--:|--:|"
    for figures in results:
        for step in figures.steps:
            yield (
                f"| {figures.backend} | {step['step']} | {step['rows']:,} | {step['seconds']} "
                f"| {step['rows_per_second']:,} | {step['idle_mib']} | {step['peak_above_idle_mib']} "
                f"| {step['peak_above_step_start_mib']} | {step.get('mib', '')} |"
            )


def write_reports(results: list[Figures], export_customers: int) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = "\n".join(_rows(results))
    notes = "".join(
        f"- {figures.backend}: {note}\n" for figures in results for note in figures.notes
    )
    DATA_MD.write_text(
        "# Customer data: CSV import and export\n\n"
        f"`.venv/bin/python -m bench.import_export --write`, {when} ({machine}); one server\n"
        "process (uvicorn, as `partnerdesk serve` runs it) on a fresh database per backend,\n"
        "driven through the API: multipart uploads, customerImport(id) until DONE, download links.\n"
        "Memory is the server's resident set: idle once started and warmed up, and each step's\n"
        "high-water mark above that (VmHWM, reset per step; memory earlier steps left allocated\n"
        "counts against later ones, so later figures are upper bounds).\n\n"
        f"Targets (issue 13): a {FILE_ROWS:,}-row import under 20 s and under 100 MiB above idle\n"
        f"on both databases; the export of {export_customers:,} customers in constant memory\n"
        f"(compare the export rows of {FILE_ROWS:,} and of {export_customers:,} customers).\n\n"
        f"{notes}\n{table}\n",
        encoding="utf-8",
    )
    section = (
        f"{SECTION_START}\n## Customer data: CSV import and export\n\n"
        f"From `bench/import_export.py` ({when}); details in [DATA.md](DATA.md).\n\n"
        f"{table}\n{SECTION_END}"
    )
    replace_section(RESULTS_MD, SECTION_START, SECTION_END, section)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--export-customers", type=int, default=EXPORT_CUSTOMERS)
    parser.add_argument("--write", action="store_true", help="write bench/DATA.md and RESULTS.md")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [await measure(backend, args.export_customers) for backend in backends]
    print("\n".join(_rows(results)))
    if args.write:
        write_reports(results, args.export_customers)


if __name__ == "__main__":
    asyncio.run(main())
