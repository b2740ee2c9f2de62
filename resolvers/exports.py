"""Exports: short-lived, single-use download links, and the files they stream.

Asking for an export stores a link (only its token's SHA-256, what to export and for whom)
and hands out the token; nothing is written yet. The first GET of the link
(`claim_download`, a conditional UPDATE, so two clicks download once) streams the file
from the database in keyset batches: constant memory whatever the size, and always the
data as it is when downloaded. Links live 10 minutes; the daily retention deletes old ones.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import orjson

from models.account import AccountHolder
from models.customer import Customer
from models.customer_data import DataExport, ExportKind
from models.partner import PartnerMember
from resolvers.actor import Actor
from resolvers.customer_csv import BOM, CsvWriter, header_row, join_tags
from resolvers.customers import CustomerFilter, require_customer
from resolvers.personal_data import account_document, customer_document
from resolvers.read_rules import CUSTOMERS, scoped, selected

LINK_LIFETIME = timedelta(minutes=10)
BATCH_ROWS = 1000
MAX_TOKEN_LENGTH = 100
# The customer columns of the CSV export, in resolvers/customer_csv.py COLUMNS' order.
CSV_COLUMNS = (
    "customer_number",
    "external_id",
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
    "language",
    "notes",
    "tags",
)
JSON_COLUMNS = (
    *CSV_COLUMNS,
    "display_name",
    "status",
    "source",
    "version",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class ExportLink:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Download:
    """A claimed link's file: its name, media type and content, streamed."""

    file_name: str
    media_type: str
    chunks: AsyncIterator[bytes]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _link(
    kind: ExportKind, parameters: Mapping[str, Any] | None = None, **owner: Any
) -> ExportLink:
    token = secrets.token_urlsafe(32)  # 256 bits
    expires_at = datetime.now(UTC) + LINK_LIFETIME
    await DataExport.create(
        token_hash=_hash(token),
        kind=kind,
        parameters=dict(parameters or {}),
        expires_at=expires_at,
        **owner,
    )
    return ExportLink(token, expires_at)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export_customers(actor: Actor, as_json: bool, wanted: CustomerFilter) -> ExportLink:
    """A link to the partner's customers that `wanted` selects (as customers(filter:) does),
    as CSV (the import's columns) or JSON."""
    member = actor.require_member()
    CUSTOMERS.conditions(asdict(wanted))  # a bad filter is VALIDATION now, not at download
    kind = ExportKind.CUSTOMERS_JSON if as_json else ExportKind.CUSTOMERS_CSV
    parameters = {name: _plain(value) for name, value in asdict(wanted).items() if value}
    return await _link(kind, parameters, partner_id=member.partner_id, member_id=member.id)


async def export_customer_data(actor: Actor, customer_id: int) -> ExportLink:
    """A link to everything held about one customer, as one JSON document (GDPR Art. 15/20)."""
    member = actor.require_member()
    customer = await require_customer(actor, customer_id, ("customerId",))
    return await _link(
        ExportKind.CUSTOMER_DATA,
        partner_id=member.partner_id,
        member_id=member.id,
        customer_id=customer.id,
    )


async def export_my_data(actor: Actor) -> ExportLink:
    """A link to the signed-in account holder's own data, as one JSON document."""
    account = actor.require_account()
    return await _link(ExportKind.ACCOUNT_DATA, account_id=account.id)


# ---------------------------------------------------------------- downloading


async def claim_download(token: str) -> Download | None:
    """The file behind a link, once: None for a token that is unknown, used or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = datetime.now(UTC)
    token_hash = _hash(token)
    claimed = await DataExport.filter(
        token_hash=token_hash, used_at=None, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        return None
    export = await DataExport.get(token_hash=token_hash)
    stamp = now.strftime("%Y%m%d-%H%M")
    if export.kind == ExportKind.ACCOUNT_DATA:
        account = await AccountHolder.get_or_none(id=export.account_id)
        if account is None:
            return None
        return Download(
            f"my-data-{stamp}.json", "application/json", _document(account_document(account))
        )
    member = await PartnerMember.get_or_none(id=export.member_id)
    if member is None:
        return None
    actor = Actor(member=member)
    if export.kind == ExportKind.CUSTOMER_DATA:
        customer = await scoped(Customer, actor).get_or_none(id=export.customer_id)
        if customer is None:
            return None
        name = f"customer-{customer.customer_number}-{stamp}.json"
        return Download(name, "application/json", _document(customer_document(actor, customer)))
    wanted = _filter(export.parameters)
    if export.kind == ExportKind.CUSTOMERS_JSON:
        return Download(
            f"customers-{stamp}.json", "application/json", _customers_json(actor, wanted)
        )
    return Download(
        f"customers-{stamp}.csv", "text/csv; charset=utf-8", _customers_csv(actor, wanted)
    )


def _filter(parameters: Mapping[str, Any]) -> CustomerFilter:
    values = dict(parameters)
    for name in ("created_after", "created_before"):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    return CustomerFilter(**values)


async def _document(parts: AsyncIterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    """A JSON object written member by member, as `parts` yields them."""
    yield b"{"
    first = True
    async for name, value in parts:
        yield (
            (b"" if first else b",")
            + orjson.dumps(name)
            + b":"
            + orjson.dumps(value, default=_plain)
        )
        first = False
    yield b"}"


async def _customer_rows(
    actor: Actor, wanted: CustomerFilter, columns: tuple[str, ...]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The selected customers in customer-number order, BATCH_ROWS at a time (keyset)."""
    conditions = CUSTOMERS.conditions(asdict(wanted))  # checked when the link was made
    last = 0
    while True:
        batch = (
            await selected(Customer, actor, conditions)
            .filter(number__gt=last)
            .order_by("number")
            .limit(BATCH_ROWS)
            .values("number", *columns)
        )
        if not batch:
            return
        last = batch[-1]["number"]
        yield batch


def _csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column == "tags":
        return join_tags(value if isinstance(value, list) else orjson.loads(value))
    return str(_plain(value))


async def _customers_csv(actor: Actor, wanted: CustomerFilter) -> AsyncIterator[bytes]:
    writer = CsvWriter()
    yield (BOM + writer.rows([header_row()])).encode()
    async for batch in _customer_rows(actor, wanted, CSV_COLUMNS):
        rows = [[_csv_cell(column, row[column]) for column in CSV_COLUMNS] for row in batch]
        yield writer.rows(rows).encode()


def customer_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A customer as the JSON exports write it (the names of the GraphQL API)."""
    tags = row["tags"]
    return {
        "customerNumber": row["customer_number"],
        "externalId": row["external_id"],
        "kind": _plain(row["kind"]),
        "displayName": row["display_name"],
        "firstName": row["first_name"],
        "lastName": row["last_name"],
        "companyName": row["company_name"],
        "email": row["email"],
        "phone": row["phone"],
        "address": {
            "street": row["street"],
            "postalCode": row["postal_code"],
            "city": row["city"],
            "country": row["country"],
        },
        "vatId": row["vat_id"],
        "language": row["language"],
        "notes": row["notes"],
        "tags": tags if isinstance(tags, list) else orjson.loads(tags or "[]"),
        "status": _plain(row["status"]),
        "source": _plain(row["source"]),
        "version": row["version"],
        "createdAt": _plain(row["created_at"]),
        "updatedAt": _plain(row["updated_at"]),
    }


async def _customers_json(actor: Actor, wanted: CustomerFilter) -> AsyncIterator[bytes]:
    exported_at = orjson.dumps(datetime.now(UTC).isoformat())
    yield b'{"exportedAt":' + exported_at + b',"customers":['
    first = True
    async for batch in _customer_rows(actor, wanted, JSON_COLUMNS):
        body = b",".join(orjson.dumps(customer_json(row)) for row in batch)
        yield (b"" if first else b",") + body
        first = False
    yield b"]}"
