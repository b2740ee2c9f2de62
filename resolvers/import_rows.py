"""What one CSV row of an import does: create a customer, update one, or nothing (and why).

Rows match existing customers on their external ID, then on e-mail; each row goes through
the validation createCustomer and updateCustomer use (resolvers/customers.py). A row that
would make the same file do something else on a second run (the same external ID, e-mail
or customer as an earlier row) is refused, so re-running a file changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tortoise.expressions import Q

from models.customer import Customer, CustomerKind
from resolvers.actor import Actor
from resolvers.customer_csv import (
    ADDRESS_KEYS,
    READ_ONLY_KEYS,
    column_key,
    is_blank,
    split_tags,
    unescape_cell,
)
from resolvers.customers import (
    GRAPHQL_NAMES,
    check_identity,
    clean_customer_fields,
    validate_new_customer,
)
from resolvers.read_rules import scoped
from resolvers.validation import Problems, clean_email, clean_text

KIND_WORDS = {
    CustomerKind.PERSON: {"person", "persona", "privato", "privat", "privatperson"},
    CustomerKind.COMPANY: {"company", "azienda", "societa", "firma", "unternehmen"},
}
# GraphQL input name -> column key (Python name), for the fields problems point at.
KEY_OF_FIELD = {graphql: key for key, graphql in GRAPHQL_NAMES.items()}
# The customer's fields an import compares and writes (not address: its four parts).
COMPARED = tuple(key for key in GRAPHQL_NAMES if key != "address")


@dataclass(frozen=True)
class Problem:
    row: int  # 1-based data row; 0 for the header
    field: str | None  # the column as the file names it
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Header:
    """Which column of the file holds which customer field."""

    keys: dict[int, str]  # column index -> field key
    labels: dict[str, str]  # field key -> the column's label in the file
    problems: list[Problem]
    width: int  # how many columns the header row has

    @classmethod
    def read(cls, cells: Sequence[str]) -> Header:
        keys: dict[int, str] = {}
        labels: dict[str, str] = {}
        problems: list[Problem] = []
        for index, raw in enumerate(cells):
            label = raw.strip()
            if not label:
                continue
            key = column_key(label)
            if key is None:
                problems.append(Problem(0, label, "Unknown column: its cells are not imported."))
            elif key in labels:
                message = f"A second “{labels[key]}” column: its cells are not imported."
                problems.append(Problem(0, label, message))
            else:
                keys[index] = key
                labels[key] = label
        while cells and not cells[-1].strip():
            cells = cells[:-1]  # a trailing delimiter adds no column
        return cls(keys, labels, problems, len(cells))

    @property
    def knows_a_field(self) -> bool:
        return any(key not in READ_ONLY_KEYS for key in self.labels)

    def label(self, key: str) -> str:
        return self.labels.get(key) or GRAPHQL_NAMES.get(key, key)


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass
class RowPlan:
    number: int
    action: Action
    values: dict[str, Any] = field(default_factory=dict)  # CREATE: all; UPDATE: the changes
    customer: Customer | None = None  # UPDATE / UNCHANGED: the matched customer
    merged: dict[str, Any] = field(default_factory=dict)  # UPDATE: the customer afterwards


@dataclass
class SeenRows:
    """What earlier rows of the file named, to refuse rows that would fight each other."""

    external_ids: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    emails_without_external_id: dict[str, int] = field(default_factory=dict)
    customers: dict[int, int] = field(default_factory=dict)

    def copy(self) -> SeenRows:
        return SeenRows(
            dict(self.external_ids),
            dict(self.emails),
            dict(self.emails_without_external_id),
            dict(self.customers),
        )


@dataclass
class _Row:
    number: int
    cells: dict[str, str]  # field key -> cell text, for the file's columns
    problems: Problems
    external_id: str | None = None
    email: str | None = None


def _cells(header: Header, record: Sequence[str]) -> dict[str, str] | str:
    """The row's cells by field key, or why the row cannot be read."""
    if any(cell.strip() for cell in record[header.width :]):
        return f"The row has more cells than the header has columns ({header.width})."
    return {
        key: unescape_cell(record[index]) if index < len(record) else ""
        for index, key in header.keys.items()
    }


def _kind(problems: Problems, text: str) -> CustomerKind | None:
    word = text.strip().casefold()
    for kind, words in KIND_WORDS.items():
        if word == kind.value.casefold() or word in words:
            return kind
    problems.add("kind", "Kind must be PERSON or COMPANY.")
    return None


def _given(row: _Row, existing: Customer | None) -> dict[str, Any]:
    """The row's fields as createCustomer and updateCustomer take them (Python names)."""
    cells = row.cells
    given: dict[str, Any] = {}
    for key, text in cells.items():
        if key in READ_ONLY_KEYS or key in ADDRESS_KEYS or key == "kind":
            continue
        if key == "tags":
            given["tags"] = split_tags(text)
        else:
            given[key] = text or None
    if any(key in cells for key in ADDRESS_KEYS):
        given["address"] = {
            key: (cells[key] or None) if key in cells else getattr(existing, key, None)
            for key in ADDRESS_KEYS
        }
    kind = _kind(row.problems, cells["kind"]) if cells.get("kind", "").strip() else None
    if kind is not None:
        given["kind"] = kind
    elif existing is None:
        # Without a Kind, a row naming a company and no person is a company.
        person = cells.get("first_name", "").strip() or cells.get("last_name", "").strip()
        company = cells.get("company_name", "").strip()
        given["kind"] = CustomerKind.COMPANY if company and not person else CustomerKind.PERSON
    return given


def _plan(row: _Row, existing: Customer | None) -> RowPlan:
    given = _given(row, existing)
    if existing is None:
        values = validate_new_customer(row.problems, given)
        if row.problems.found:
            return RowPlan(row.number, Action.REFUSED)
        return RowPlan(row.number, Action.CREATE, values)
    current = {key: getattr(existing, key) for key in COMPARED}
    region = existing.country
    changes = clean_customer_fields(row.problems, given, region)
    merged = {**current, **changes, "customer_number": existing.customer_number}
    check_identity(row.problems, merged)
    if row.problems.found:
        return RowPlan(row.number, Action.REFUSED, customer=existing)
    changed = {key: value for key, value in changes.items() if current.get(key) != value}
    if not changed:
        return RowPlan(row.number, Action.UNCHANGED, customer=existing)
    return RowPlan(row.number, Action.UPDATE, changed, existing, merged)


class BatchPlanner:
    """Plans the rows of an import batch by batch, remembering what earlier rows named."""

    def __init__(self, actor: Actor, header: Header) -> None:
        self.actor = actor
        self.header = header
        self.seen = SeenRows()

    def _problem(self, row: int, key: str | None, message: str) -> Problem:
        return Problem(row, self.header.label(key) if key else None, message)

    async def plan(
        self, records: Sequence[tuple[int, Sequence[str]]]
    ) -> tuple[list[RowPlan], list[Problem]]:
        """What each of the numbered records does, and the problems of the refused ones."""
        rows: list[_Row] = []
        problems: list[Problem] = []
        plans: list[RowPlan] = []
        for number, record in records:
            if is_blank(record):
                continue
            cells = _cells(self.header, record)
            if isinstance(cells, str):
                problems.append(Problem(number, None, cells))
                plans.append(RowPlan(number, Action.REFUSED))
                continue
            rows.append(self._identified(number, cells))
        by_external_id, by_email = await self._matches(rows)
        for row in rows:
            refusal = self._refusal(row, by_external_id, by_email)
            existing = None if refusal else self._match(row, by_external_id, by_email)
            if refusal is None and existing is not None:
                earlier = self.seen.customers.get(existing.id)
                if earlier is not None:
                    refusal = (None, f"The row is for the same customer as row {earlier}.")
                else:
                    self.seen.customers[existing.id] = row.number
            self._remember(row)
            if refusal is not None:
                problems.append(self._problem(row.number, *refusal))
                plans.append(RowPlan(row.number, Action.REFUSED))
                continue
            plan = _plan(row, existing)
            for found in row.problems.found:
                key = KEY_OF_FIELD.get(found.path[-1]) if found.path else None
                problems.append(self._problem(row.number, key, found.message))
            plans.append(plan)
        plans.sort(key=lambda plan: plan.number)
        problems.sort(key=lambda problem: problem.row)  # stable: a row's keep their order
        return plans, problems

    def _identified(self, number: int, cells: dict[str, str]) -> _Row:
        row = _Row(number, cells, Problems())
        # Errors are _plan's to report, with the row's other fields.
        if "external_id" in cells:
            row.external_id = clean_text(
                Problems(), "externalId", cells["external_id"], max_length=100
            )
        if "email" in cells:
            row.email = clean_email(Problems(), "email", cells["email"])
        return row

    async def _matches(
        self, rows: Sequence[_Row]
    ) -> tuple[dict[str, Customer], dict[str, list[Customer]]]:
        """The partner's customers the rows may match, by external ID and by e-mail."""
        external_ids = {row.external_id for row in rows if row.external_id}
        emails = {row.email for row in rows if row.email}
        if not external_ids and not emails:
            return {}, {}
        by_external_id: dict[str, Customer] = {}
        by_email: dict[str, list[Customer]] = {}
        named = Q(external_id__in=external_ids) | Q(email__in=emails)
        for customer in await scoped(Customer, self.actor).filter(named).order_by("id"):
            if customer.external_id in external_ids:
                by_external_id[customer.external_id] = customer
            if customer.email in emails:
                by_email.setdefault(customer.email, []).append(customer)
        return by_external_id, by_email

    def _refusal(
        self,
        row: _Row,
        by_external_id: Mapping[str, Customer],
        by_email: Mapping[str, list[Customer]],
    ) -> tuple[str | None, str] | None:
        """(field, message) when an earlier row of the file names the same thing."""
        seen = self.seen
        if row.external_id and row.external_id in seen.external_ids:
            earlier = seen.external_ids[row.external_id]
            return "external_id", f"The same external ID is on row {earlier} already."
        if row.email and not row.external_id and row.email in seen.emails:
            earlier = seen.emails[row.email]
            return (
                "email",
                f"The same e-mail is on row {earlier} already; give both rows an External ID to import both.",
            )
        if (
            row.external_id
            and row.email
            and row.external_id not in by_external_id
            and row.email in seen.emails_without_external_id
        ):
            earlier = seen.emails_without_external_id[row.email]
            return "email", f"The row is for the same customer as row {earlier} (same e-mail)."
        return None

    @staticmethod
    def _match(
        row: _Row,
        by_external_id: Mapping[str, Customer],
        by_email: Mapping[str, list[Customer]],
    ) -> Customer | None:
        """The existing customer a row is for: by external ID, else by e-mail (for a row with
        an external ID, only a customer without one), the oldest first."""
        if row.external_id and row.external_id in by_external_id:
            return by_external_id[row.external_id]
        candidates = by_email.get(row.email or "", [])
        if row.external_id:
            candidates = [customer for customer in candidates if not customer.external_id]
        else:
            candidates = sorted(candidates, key=lambda customer: customer.external_id is not None)
        return candidates[0] if candidates else None

    def _remember(self, row: _Row) -> None:
        seen = self.seen
        if row.external_id:
            seen.external_ids.setdefault(row.external_id, row.number)
        if row.email:
            seen.emails.setdefault(row.email, row.number)
            if not row.external_id:
                seen.emails_without_external_id.setdefault(row.email, row.number)
