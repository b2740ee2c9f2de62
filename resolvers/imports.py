"""CSV imports of customers: a dry run reports, an import writes valid rows in batches.

A dry run (the default) reads and validates the whole file inside the request, writes
nothing but its report (status VALIDATED) and says what an import would do. An import
checks the file as a whole in the request (encoding, header, size), then runs in the
background: each batch of rows is one transaction that writes its customers, their
activity rows and the import's progress together, so `customerImport(id)` always shows
what is committed. When it ends (DONE or FAILED) one CUSTOMERS_IMPORTED activity row and
its event tell the partner's dashboards.

A background import that dies with its process stops sending heartbeats; the housekeeping
sweep marks it FAILED (`fail_stalled_imports`). Rows written until then stay.

Each batch looks its rows' customers up by a list of external IDs and e-mails. PostgreSQL
plans that look-up once per connection (config.py: generic plans) from its statistics of
the customer table; planned on the figures of a table a bulk load has since grown, it
filters every customer of the partner against the whole list (seconds per batch at
50,000 customers). So an import refreshes the statistics after its first batch and at its
end, as the PostgreSQL manual advises for bulk loads (models/statements.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import islice
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

import events
from events.activity import record_activities, record_activity
from models.activity import ActivityVerb
from models.customer import Customer, CustomerSource, CustomerStatus
from models.customer_data import CustomerImport, ImportStatus
from models.partner import Partner
from models.statements import insert_rows, next_in_sequence, refresh_statistics
from resolvers.actor import Actor
from resolvers.customer_csv import (
    FILE_PATH,
    MAX_ROWS,
    count_data_rows,
    decode,
    records,
    sniff_delimiter,
)
from resolvers.customers import GRAPHQL_NAMES, derived_fields, format_customer_number
from resolvers.errors import Conflict, ValidationFailed
from resolvers.import_rows import Action, BatchPlanner, Header, Problem, RowPlan
from resolvers.read_rules import scoped
from resolvers.validation import Problems, clean_text

log = logging.getLogger("partnerdesk.imports")

BATCH_ROWS = 500
# Problems kept in a report; a file with more is the wrong file, and the first ones say why.
MAX_PROBLEMS = 5_000
# A RUNNING import without a heartbeat for this long lost its process.
STALLED_AFTER = timedelta(minutes=10)
FAILED_MESSAGE = (
    "The import stopped because of a server error; the rows before this one were imported."
)

_running: set[asyncio.Task[None]] = set()
# (summary, customer id, subject) of one activity row.
ActivityEntry = tuple[str, int | None, tuple[str, int] | None]
# Every column a new customer row is written with (resolvers/customers.py insert_customer
# writes the same through the model).
_FIELD_COLUMNS = (
    "kind",
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "vat_id",
    "external_id",
    "language",
    "notes",
    "tags",
)


@dataclass
class CsvFile:
    """An uploaded CSV file, checked as a whole."""

    name: str | None
    text: str
    delimiter: str
    header: Header
    rows: int

    def numbered_records(self) -> Iterator[tuple[int, list[str]]]:
        """(1-based data row number, cells) of every record after the header."""
        all_records = records(self.text, self.delimiter)
        next(all_records, None)
        return enumerate(all_records, start=1)


@dataclass
class Report:
    rows: int
    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add_problems(self, problems: Sequence[Problem]) -> None:
        room = MAX_PROBLEMS - len(self.problems)
        self.problems.extend(problems[:room])

    def counted(self, plans: Sequence[RowPlan], lost: int = 0) -> None:
        self.created += sum(plan.action == Action.CREATE for plan in plans)
        updated = sum(plan.action == Action.UPDATE for plan in plans) - lost
        self.updated += updated
        self.skipped += len(plans) - updated - sum(plan.action == Action.CREATE for plan in plans)

    def problems_json(self) -> list[dict[str, Any]]:
        listed = [problem.as_json() for problem in self.problems]
        if len(self.problems) >= MAX_PROBLEMS:
            message = f"Only the first {MAX_PROBLEMS} problems are listed."
            listed.append(Problem(0, None, message).as_json())
        return listed


def _file_name(name: str | None) -> str | None:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    return clean_text(Problems(), "fileName", base, max_length=200)


def read_csv(name: str | None, content: bytes) -> CsvFile:
    """The file, checked as a whole: UTF-8, a known header, 1 to MAX_ROWS data rows."""
    text = decode(content)
    delimiter = sniff_delimiter(text)
    first = next(records(text, delimiter), [])
    header = Header.read(first)
    if not header.knows_a_field:
        raise ValidationFailed.at(
            FILE_PATH,
            "The first row must name the columns, e.g. First name, Last name, E-mail "
            "(or Nome, Cognome / Vorname, Nachname); none of its columns is known.",
        )
    rows = count_data_rows(text, delimiter)
    if rows == 0:
        raise ValidationFailed.at(FILE_PATH, "The file has a header row but no data rows.")
    if rows > MAX_ROWS:
        raise ValidationFailed.at(
            FILE_PATH,
            f"The file has {rows} data rows; an import takes at most {MAX_ROWS}: split it.",
        )
    return CsvFile(_file_name(name), text, delimiter, header, rows)


def _batches(csv_file: CsvFile) -> Iterator[list[tuple[int, list[str]]]]:
    numbered = csv_file.numbered_records()
    while batch := list(islice(numbered, BATCH_ROWS)):
        yield batch


async def import_customers(
    actor: Actor, file_name: str | None, content: bytes, dry_run: bool
) -> CustomerImport:
    """Check a CSV file and report (dry run), or start importing it (status RUNNING)."""
    member = actor.require_member()
    csv_file = read_csv(file_name, content)
    if dry_run:
        report = await _dry_run(actor, csv_file)
        return await CustomerImport.create(
            partner_id=member.partner_id,
            started_by_id=member.id,
            status=ImportStatus.VALIDATED,
            dry_run=True,
            file_name=csv_file.name,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            skipped=report.skipped,
            problems=report.problems_json(),
            finished_at=datetime.now(UTC),
        )
    running = scoped(CustomerImport, actor).filter(
        status=ImportStatus.RUNNING, heartbeat_at__gt=datetime.now(UTC) - STALLED_AFTER
    )
    if await running.exists():
        raise Conflict("An import is running already; wait until it is done.", FILE_PATH)
    started = await CustomerImport.create(
        partner_id=member.partner_id,
        started_by_id=member.id,
        status=ImportStatus.RUNNING,
        dry_run=False,
        file_name=csv_file.name,
        rows=csv_file.rows,
        heartbeat_at=datetime.now(UTC),
    )
    task = asyncio.create_task(_run(actor, started.id, csv_file), name=f"import-{started.id}")
    _running.add(task)
    task.add_done_callback(_running.discard)
    return started


async def _dry_run(actor: Actor, csv_file: CsvFile) -> Report:
    report = Report(csv_file.rows)
    report.add_problems(csv_file.header.problems)
    planner = BatchPlanner(actor, csv_file.header)
    for batch in _batches(csv_file):
        plans, problems = await planner.plan(batch)
        report.add_problems(problems)
        report.counted(plans)
    return report


async def _run(actor: Actor, import_id: int, csv_file: CsvFile) -> None:
    """The background import; whatever happens, the import ends DONE or FAILED."""
    report = Report(csv_file.rows)
    report.add_problems(csv_file.header.problems)
    try:
        planner = BatchPlanner(actor, csv_file.header)
        for number, batch in enumerate(_batches(csv_file), start=1):
            await _import_batch(actor, import_id, planner, batch, report, csv_file.name)
            if number == 1 and report.created:
                await refresh_statistics(Customer._meta.db_table)
        if report.created > BATCH_ROWS:
            await refresh_statistics(Customer._meta.db_table)
        await _finish(actor, import_id, report, ImportStatus.DONE, csv_file.name)
    except asyncio.CancelledError:
        await _failed(
            actor,
            import_id,
            report,
            csv_file.name,
            "The server stopped during the import; the rows before this one were imported.",
        )
        raise
    except Exception:  # a server fault: logged here, the client reads a plain FAILED
        log.exception("import %s failed", import_id)
        await _failed(actor, import_id, report, csv_file.name, FAILED_MESSAGE)


async def _failed(
    actor: Actor, import_id: int, report: Report, file_name: str | None, message: str
) -> None:
    done = report.created + report.updated + report.skipped
    report.problems.append(Problem(done + 1, None, message))
    try:
        await _finish(actor, import_id, report, ImportStatus.FAILED, file_name)
    except Exception:  # the stall check marks it FAILED later
        log.exception("could not mark import %s as failed", import_id)


async def _import_batch(
    actor: Actor,
    import_id: int,
    planner: BatchPlanner,
    batch: list[tuple[int, list[str]]],
    report: Report,
    file_name: str | None,
) -> None:
    """Plan and write one batch in one transaction; once more if another write took an
    external ID meanwhile (the unique index refused the first attempt)."""
    for attempt in (1, 2):
        seen_before = planner.seen.copy()
        plans, problems = await planner.plan(batch)
        try:
            async with events.transaction():
                lost = await _write(actor, plans, file_name)
                batch_report = Report(0, problems=list(problems))
                batch_report.counted(plans, len(lost))
                await _save_progress(import_id, report, batch_report, lost)
            return
        except IntegrityError:
            if attempt == 2:
                raise
            planner.seen = seen_before  # plan the batch again, against what is committed now


async def _save_progress(
    import_id: int, report: Report, batch: Report, lost: list[Problem]
) -> None:
    report.created += batch.created
    report.updated += batch.updated
    report.skipped += batch.skipped
    report.add_problems(sorted([*batch.problems, *lost], key=lambda problem: problem.row))
    await CustomerImport.filter(id=import_id).update(
        created=report.created,
        updated=report.updated,
        skipped=report.skipped,
        problems=report.problems_json(),
        heartbeat_at=datetime.now(UTC),
    )


async def _write(actor: Actor, plans: Sequence[RowPlan], file_name: str | None) -> list[Problem]:
    """Create and update the planned customers with their activity rows (caller's
    transaction); the rows whose customer changed meanwhile, as problems."""
    partner_id = actor.require_partner_id()
    source = f" by the import of {file_name}" if file_name else " by an import"
    created: list[ActivityEntry] = [
        (f"Customer {name} created{source}", customer_id, ("Customer", customer_id))
        for customer_id, name in await _insert(
            partner_id, [plan for plan in plans if plan.action == Action.CREATE]
        )
    ]
    changed: list[ActivityEntry] = []
    lost: list[Problem] = []
    for plan in plans:
        if plan.action != Action.UPDATE:
            continue
        assert plan.customer is not None
        derived = derived_fields(plan.merged)
        # Conditional on the version read, so an edit made meanwhile is never overwritten.
        updated = (
            await scoped(Customer, actor)
            .filter(id=plan.customer.id, version=plan.customer.version)
            .update(
                **plan.values,
                **derived,
                version=F("version") + 1,
                updated_at=datetime.now(UTC),
            )
        )
        if not updated:
            message = "The customer was changed while the import ran; the row was not imported."
            lost.append(Problem(plan.number, None, message))
            continue
        fields = ", ".join(sorted({_field_name(name) for name in plan.values}))
        summary = f"Customer {derived['display_name']} changed{source}: {fields}"
        changed.append((summary, plan.customer.id, ("Customer", plan.customer.id)))
    await record_activities(partner_id, ActivityVerb.CUSTOMER_CREATED, created, actor=actor)
    await record_activities(partner_id, ActivityVerb.CUSTOMER_UPDATED, changed, actor=actor)
    return lost


def _field_name(name: str) -> str:
    return (
        "address" if name in ("street", "postal_code", "city", "country") else GRAPHQL_NAMES[name]
    )


# Customer rows per INSERT: about 27 columns each, under both databases' parameter limit.
_CUSTOMERS_PER_INSERT = 500


async def _insert(partner_id: int, creates: Sequence[RowPlan]) -> list[tuple[int, str]]:
    """Insert new customers with the partner's next numbers; (id, display name) of each."""
    if not creates:
        return []
    last = await next_in_sequence(Partner._meta.db_table, "customer_seq", partner_id, len(creates))
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for number, plan in enumerate(creates, start=last - len(creates) + 1):
        record = {**plan.values, "customer_number": format_customer_number(number)}
        rows.append(
            {
                "partner_id": partner_id,
                "number": number,
                "customer_number": record["customer_number"],
                **{column: _db_value(column, record.get(column)) for column in _FIELD_COLUMNS},
                **derived_fields(record),
                "status": CustomerStatus.ACTIVE.value,
                "source": CustomerSource.MANUAL.value,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    inserted: list[tuple[int, str]] = []
    for start in range(0, len(rows), _CUSTOMERS_PER_INSERT):
        chunk = rows[start : start + _CUSTOMERS_PER_INSERT]
        found = await insert_rows(Customer._meta.db_table, chunk, returning=("id", "number"))
        ids = {int(row["number"]): int(row["id"]) for row in found}
        inserted += [(ids[row["number"]], row["display_name"]) for row in chunk]
    return inserted


def _db_value(column: str, value: Any) -> Any:
    if column == "tags":
        return orjson.dumps(value or []).decode()
    return value.value if isinstance(value, Enum) else value


async def _finish(
    actor: Actor, import_id: int, report: Report, status: ImportStatus, file_name: str | None
) -> None:
    partner_id = actor.require_partner_id()
    name = file_name or "a CSV file"
    verdict = "done" if status == ImportStatus.DONE else "failed"
    summary = (
        f"Import of {name} {verdict}: {report.created} created, {report.updated} updated, "
        f"{report.skipped} skipped"
    )
    async with events.transaction():
        await CustomerImport.filter(id=import_id).update(
            status=status,
            created=report.created,
            updated=report.updated,
            skipped=report.skipped,
            problems=report.problems_json(),
            heartbeat_at=datetime.now(UTC),
            finished_at=datetime.now(UTC),
        )
        await record_activity(
            partner_id,
            ActivityVerb.CUSTOMERS_IMPORTED,
            summary,
            actor=actor,
            subject=("CustomerImport", import_id),
        )


async def get_customer_import(actor: Actor, import_id: int | None) -> CustomerImport | None:
    """One of the partner's imports (or dry runs), or None."""
    imports = scoped(CustomerImport, actor)
    return None if import_id is None else await imports.get_or_none(id=import_id)


async def fail_stalled_imports() -> int:
    """Mark FAILED the RUNNING imports whose process stopped sending heartbeats; how many."""
    stalled_before = datetime.now(UTC) - STALLED_AFTER
    return await CustomerImport.filter(
        status=ImportStatus.RUNNING, heartbeat_at__lt=stalled_before
    ).update(status=ImportStatus.FAILED, finished_at=datetime.now(UTC))


async def stop_running_imports() -> None:
    """Cancel this process's background imports (at shutdown); each is marked FAILED."""
    tasks = list(_running)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
