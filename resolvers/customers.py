"""Customer records: create, edit with optimistic locking, archive, restore, list, match."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

import events
from events.activity import Entry, record_activity, record_entries
from models.activity import ActivityVerb
from models.customer import Customer, CustomerKind, CustomerSource, CustomerStatus
from models.partner import Partner
from models.statements import insert_model, next_in_sequence
from resolvers.actor import Actor
from resolvers.conditions import equals
from resolvers.errors import Conflict, NotFound
from resolvers.pagination import Page, PageRequest, SortKey, keyset_page
from resolvers.read_rules import CUSTOMERS, fetch_selected, scoped, selected
from resolvers.validation import (
    Problems,
    clean_country,
    clean_email,
    clean_language,
    clean_phone,
    clean_tags,
    clean_text,
    lookup_key,
)

ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
# Python name -> GraphQL input name, for error paths and change summaries.
GRAPHQL_NAMES = {
    "kind": "kind",
    "first_name": "firstName",
    "last_name": "lastName",
    "company_name": "companyName",
    "email": "email",
    "phone": "phone",
    "address": "address",
    "vat_id": "vatId",
    "language": "language",
    "notes": "notes",
    "tags": "tags",
    "external_id": "externalId",
    "street": "street",
    "postal_code": "postalCode",
    "city": "city",
    "country": "country",
}


class CustomerSortField(StrEnum):
    """The orders of resolvers/read_rules.py CUSTOMERS, by name."""

    DISPLAY_NAME = "DISPLAY_NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    CUSTOMER_NUMBER = "CUSTOMER_NUMBER"


@dataclass(frozen=True)
class CustomerFilter:
    """The named filters of resolvers/read_rules.py CUSTOMERS; None means "any"."""

    search: str | None = None
    status: CustomerStatus | None = None
    source: CustomerSource | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class CustomerOrder:
    field: CustomerSortField = CustomerSortField.DISPLAY_NAME
    descending: bool = False


def format_customer_number(number: int) -> str:
    return f"C-{number:05d}"


def clean_customer_fields(
    problems: Problems, given: Mapping[str, Any], region: str | None
) -> dict[str, Any]:
    """Validate the customer fields present in `given` (Python names, address as a mapping)."""
    values: dict[str, Any] = {}
    text_limits = {
        "first_name": 100,
        "last_name": 100,
        "company_name": 200,
        "vat_id": 32,
        "external_id": 100,
    }
    for name, limit in text_limits.items():
        if name in given:
            values[name] = clean_text(
                problems,
                GRAPHQL_NAMES[name],
                given[name],
                max_length=limit,
                label=GRAPHQL_NAMES[name],
            )
    if values.get("vat_id"):
        values["vat_id"] = values["vat_id"].replace(" ", "").upper()
    if "kind" in given:
        if given["kind"] is None:
            problems.add("kind", "kind must be PERSON or COMPANY.")
        else:
            values["kind"] = CustomerKind(given["kind"])
    if "notes" in given:
        values["notes"] = clean_text(
            problems, "notes", given["notes"], max_length=10_000, multiline=True, label="Notes"
        )
    if "email" in given:
        values["email"] = clean_email(problems, "email", given["email"])
    if "address" in given:
        address = given["address"] or {}
        nested = problems.nested("address")
        values["street"] = clean_text(
            nested, "street", address.get("street"), max_length=200, label="Street"
        )
        values["postal_code"] = clean_text(
            nested, "postalCode", address.get("postal_code"), max_length=20, label="Postal code"
        )
        values["city"] = clean_text(
            nested, "city", address.get("city"), max_length=100, label="City"
        )
        values["country"] = clean_country(nested, "country", address.get("country"))
        region = values["country"] or region
    if "phone" in given:
        values["phone"] = clean_phone(problems, "phone", given["phone"], region=region)
    if "language" in given:
        values["language"] = clean_language(problems, "language", given["language"]) or "en"
    if "tags" in given:
        values["tags"] = clean_tags(problems, "tags", given["tags"])
    return values


def derived_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """Display name, sort key, tag index and search text, from the customer's fields."""
    full_name = " ".join(
        part for part in (record.get("first_name"), record.get("last_name")) if part
    )
    if record.get("kind") == CustomerKind.COMPANY:
        display_name = record.get("company_name") or full_name
    else:
        display_name = full_name or record.get("company_name") or record.get("email") or "—"
    phone = record.get("phone") or ""
    searchable = [
        display_name,
        full_name,
        record.get("company_name"),
        record.get("email"),
        phone,
        phone.lstrip("+"),
        record.get("customer_number"),
    ]
    tags = record.get("tags") or []
    return {
        "display_name": display_name[:255],
        "sort_name": display_name.lower()[:255],
        "tags_text": "".join(f"\n{tag.lower()}" for tag in tags) + ("\n" if tags else ""),
        "search_text": " ".join(part.lower() for part in searchable if part),
    }


# The name bench/ imports (bench/seed.py, bench/reference.py).
_derived = derived_fields


def check_identity(problems: Problems, record: Mapping[str, Any]) -> None:
    """A company needs its name, a person a first or last name."""
    name_fields = {"firstName", "lastName", "companyName"}
    if any(problem.path and problem.path[-1] in name_fields for problem in problems.found):
        return  # a rejected name already has its error
    if record.get("kind") == CustomerKind.COMPANY:
        if not record.get("company_name"):
            problems.add("companyName", "Company name is required for a company.")
    elif not (record.get("first_name") or record.get("last_name")):
        problems.add("lastName", "A person needs a first or last name.")


def validate_new_customer(problems: Problems, given: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned fields for a new customer; errors go to `problems` (with its path prefix)."""
    values = clean_customer_fields(problems, {"kind": CustomerKind.PERSON, **given}, region=None)
    values.setdefault("language", "en")
    values.setdefault("tags", [])
    check_identity(problems, values)
    return values


def _external_id_taken(path: tuple[str, ...]) -> Conflict:
    return Conflict("Another customer has this external ID.", path)


async def _check_external_id(
    actor: Actor, external_id: str | None, path: tuple[str, ...], customer_id: int | None = None
) -> None:
    """A friendly early CONFLICT; the partial unique index (migration 0011) is what decides."""
    if external_id is None:
        return
    taken = scoped(Customer, actor).filter(external_id=external_id)
    if customer_id is not None:
        taken = taken.exclude(id=customer_id)
    if await taken.exists():
        raise _external_id_taken(path)


@dataclass(frozen=True)
class CustomerTarget:
    """Where a convert or connect goes: a new customer (fields given) or an existing one."""

    new_customer: Mapping[str, Any] | None = None
    existing_customer_id: int | None = None


def new_customer_fields(source: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a customer made from an inquiry or account: `source`, overridden by `given`.

    A company name makes a COMPANY unless the input asks for COMPANY anyway; `kind` PERSON
    is the input's default and cannot be told apart from "not given", so a person with
    a company name is had by clearing `companyName` (or editing the customer later).
    """
    fields = {name: value for name, value in source.items() if value is not None}
    fields.update({name: value for name, value in given.items() if name != "kind"})
    has_company = bool((fields.get("company_name") or "").strip())
    asked_company = given.get("kind") == CustomerKind.COMPANY
    fields["kind"] = CustomerKind.COMPANY if asked_company or has_company else CustomerKind.PERSON
    return fields


async def prepare_target(
    actor: Actor, target: CustomerTarget, source: Mapping[str, Any]
) -> tuple[Customer | None, dict[str, Any]]:
    """(the existing customer, or None and the validated fields of the new one), before any write.

    `source` holds the fields taken over from an inquiry or account; the input overrides them.
    """
    if target.existing_customer_id is not None:
        path = ("target", "existingCustomerId")
        return await require_customer(actor, target.existing_customer_id, path), {}
    problems = Problems(("target", "newCustomer"))
    values = validate_new_customer(problems, new_customer_fields(source, target.new_customer or {}))
    problems.raise_if_any()
    external_id_path = ("target", "newCustomer", "externalId")
    await _check_external_id(actor, values.get("external_id"), external_id_path)
    return None, values


async def allocate_customer_number(partner_id: int) -> int:
    """The partner's next customer number; call inside a transaction (the row lock orders them)."""
    return await next_in_sequence(Partner._meta.db_table, "customer_seq", partner_id)


async def insert_customer(
    partner_id: int, values: Mapping[str, Any], source: CustomerSource
) -> Customer:
    """Insert a validated customer with the next number (caller's transaction); the caller
    records `customer_created(...)` with the other activity rows of its change."""
    number = await allocate_customer_number(partner_id)
    record = {**values, "customer_number": format_customer_number(number)}
    try:
        fields = {"partner_id": partner_id, "number": number, "source": source}
        return await insert_model(Customer, {**fields, **record, **derived_fields(record)})
    except IntegrityError:  # the same external ID, given to another customer concurrently
        raise _external_id_taken(("externalId",)) from None


def customer_created(customer: Customer, summary: str) -> Entry:
    """The activity row of a new customer; `summary` names it as {name}."""
    return Entry(
        ActivityVerb.CUSTOMER_CREATED,
        summary.format(name=customer.display_name),
        customer_id=customer.id,
        subject=("Customer", customer.id),
    )


async def create_customer(actor: Actor, given: Mapping[str, Any]) -> Customer:
    """A new MANUAL customer with the partner's next customer number."""
    partner_id = actor.require_partner_id()
    problems = Problems()
    values = validate_new_customer(problems, given)
    problems.raise_if_any()
    await _check_external_id(actor, values.get("external_id"), ("externalId",))
    async with events.transaction():
        customer = await insert_customer(partner_id, values, CustomerSource.MANUAL)
        await record_entries(
            partner_id, [customer_created(customer, "Customer {name} created")], actor=actor
        )
    return customer


async def get_customer(actor: Actor, customer_id: int | None) -> Customer | None:
    """The partner's customer, or None (also for another partner's id, or an id that names
    nothing). A visitor is refused whatever the id."""
    if customer_id is None:
        return None
    found = await fetch_selected(Customer, actor, equals(id=customer_id))
    return found[0] if found else None


async def require_customer(
    actor: Actor, customer_id: int, path: tuple[str, ...] = ("id",)
) -> Customer:
    customer = await get_customer(actor, customer_id)
    if customer is None:
        raise NotFound("Customer", path)
    return customer


async def update_customer(
    actor: Actor, customer_id: int, patch: Mapping[str, Any], expected_version: int | None
) -> Customer:
    """Change the given fields; a stale `expected_version` gives CONFLICT and changes nothing."""
    customer = await require_customer(actor, customer_id)
    if expected_version is not None and expected_version != customer.version:
        raise Conflict(
            f"The customer was changed meanwhile (version {customer.version}, you sent {expected_version}); reload and retry.",
            ("expectedVersion",),
        )
    problems = Problems(("patch",))
    current = {
        name: getattr(customer, name)
        for name in (*GRAPHQL_NAMES, "customer_number")
        if name != "address"
    }
    changes = clean_customer_fields(problems, patch, region=customer.country)
    merged = {**current, **changes}
    check_identity(problems, merged)
    problems.raise_if_any()
    changed = [name for name, value in changes.items() if current.get(name) != value]
    if not changed:
        return customer
    values = {name: changes[name] for name in changed}
    if "external_id" in values:
        path = ("patch", "externalId")
        await _check_external_id(actor, values["external_id"], path, customer.id)
    try:
        return await _write_update(actor, customer, values, merged, changed)
    except IntegrityError:  # the same external ID, given to another customer concurrently
        raise _external_id_taken(("patch", "externalId")) from None


async def _write_update(
    actor: Actor,
    customer: Customer,
    values: Mapping[str, Any],
    merged: Mapping[str, Any],
    changed: list[str],
) -> Customer:
    now = datetime.now(UTC)
    async with events.transaction():
        updated = (
            await scoped(Customer, actor)
            .filter(id=customer.id, version=customer.version)
            .update(**values, **derived_fields(merged), version=F("version") + 1, updated_at=now)
        )
        if not updated:
            raise Conflict(
                "The customer was changed meanwhile; reload and retry.", ("expectedVersion",)
            )
        summary = ", ".join(
            sorted(
                {
                    GRAPHQL_NAMES[name] if name not in ADDRESS_FIELDS else "address"
                    for name in changed
                }
            )
        )
        await record_activity(
            customer.partner_id,
            ActivityVerb.CUSTOMER_UPDATED,
            f"Customer {derived_fields(merged)['display_name']} changed: {summary}",
            actor=actor,
            customer_id=customer.id,
            subject=("Customer", customer.id),
        )
    return await Customer.get(id=customer.id)


async def _set_status(
    actor: Actor, customer_id: int, status: CustomerStatus, verb: ActivityVerb, summary: str
) -> Customer:
    customer = await require_customer(actor, customer_id)
    if customer.status == status:
        return customer  # archiving an archived customer changes nothing
    async with events.transaction():
        updated = await Customer.filter(id=customer.id, version=customer.version).update(
            status=status, version=F("version") + 1, updated_at=datetime.now(UTC)
        )
        if not updated:
            raise Conflict("The customer was changed meanwhile; reload and retry.", ("id",))
        await record_activity(
            customer.partner_id,
            verb,
            summary.format(name=customer.display_name),
            actor=actor,
            customer_id=customer.id,
            subject=("Customer", customer.id),
        )
    return await Customer.get(id=customer.id)


async def archive_customer(actor: Actor, customer_id: int) -> Customer:
    """Archive: hidden from the default working set, data kept."""
    return await _set_status(
        actor,
        customer_id,
        CustomerStatus.ARCHIVED,
        ActivityVerb.CUSTOMER_ARCHIVED,
        "Customer {name} archived",
    )


async def restore_customer(actor: Actor, customer_id: int) -> Customer:
    return await _set_status(
        actor,
        customer_id,
        CustomerStatus.ACTIVE,
        ActivityVerb.CUSTOMER_RESTORED,
        "Customer {name} restored",
    )


def customer_order_keys(order: CustomerOrder) -> tuple[SortKey, ...]:
    return CUSTOMERS.order(order.field.value, order.descending)


async def list_customers(
    actor: Actor, page: PageRequest, filter: CustomerFilter, order: CustomerOrder
) -> Page[Customer]:
    """One keyset page of the partner's customers."""
    query = selected(Customer, actor, CUSTOMERS.conditions(filter))
    return await keyset_page(query, customer_order_keys(order), page)


async def customer_matches(
    actor: Actor, email: str | None, phone: str | None, name: str | None
) -> list[Customer]:
    """Possible duplicates of a person about to become a customer, best match first."""
    customers = scoped(Customer, actor)
    lenient = Problems()  # a suggestion query ignores what it cannot normalise
    conditions = []
    email_clean = clean_email(lenient, "email", email) if email else None
    if email_clean:
        conditions.append(Q(email=email_clean))
    phone_clean = clean_phone(lenient, "phone", phone) if phone else None
    if phone_clean:
        conditions.append(Q(phone=phone_clean))
    usable_name = lookup_key(name, 200) or ""
    words = [word for word in usable_name.lower().split() if len(word) > 1][:5]
    if words:
        conditions.append(Q(*[Q(sort_name__contains=word) for word in words], join_type=Q.AND))
    if not conditions:
        return []
    candidates = await customers.filter(Q(*conditions, join_type=Q.OR)).limit(50)

    def score(customer: Customer) -> tuple[int, int]:
        points = 0
        points += 4 if email_clean and customer.email == email_clean else 0
        points += 3 if phone_clean and customer.phone == phone_clean else 0
        points += sum(1 for word in words if word in customer.sort_name)
        return (-points, customer.id)

    return sorted(candidates, key=score)[:10]
