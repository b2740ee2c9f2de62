"""Assignable items: their enums, the input objects clients send, and what those mean to
resolvers/ (global ids decoded to primary keys).

schema/items.py (the Domain, Contract and Task types, queries and mutations) and
schema/item_changes.py build on this module.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from models.item import ContractStatus, DomainStatus, TaskPriority, TaskStatus
from resolvers import items
from resolvers.errors import NotFound
from schema.enums import register_enum
from schema.ids import decode_id, parse_global_id, pk_or_no_row

register_enum(
    DomainStatus,
    "A domain's state as the partner records it; nothing changes it by itself.",
    {
        "ACTIVE": "Registered and in use; new domains start here.",
        "PENDING": "Not active yet, e.g. being registered or transferred.",
        "EXPIRED": "No longer registered.",
    },
)
register_enum(
    ContractStatus,
    "A contract's state as the partner records it; nothing changes it by itself, not even "
    "endsOn passing.",
    {
        "ACTIVE": "Running; new contracts start here.",
        "CANCELLED": "Cancelled.",
        "ENDED": "Over.",
    },
)
register_enum(
    TaskStatus,
    "Where a task stands.",
    {
        "OPEN": "Not started; new tasks start here.",
        "IN_PROGRESS": "Being worked on.",
        "DONE": "Finished; completedAt says when.",
    },
)
register_enum(
    TaskPriority,
    "How urgent a task is.",
    {
        "LOW": "Less urgent than usual.",
        "NORMAL": "The default.",
        "HIGH": "More urgent than usual.",
    },
)

ASSIGN_RIGHT_AWAY = "Assign it right away to this customer of the partner (global id)."
TASK_TITLE = "One line, at most 200 characters."
TASK_DESCRIPTION = "Multi-line, at most 5,000 characters."


@strawberry.input(description="A new domain of the partner.")
class DomainInput:
    name: str = strawberry.field(
        description="Unicode or punycode, with a dot and a top-level domain; stored lower-case "
        "and IDNA-normalised, at most 253 characters as punycode."
    )
    expires_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="When the registration expires, if known."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=ASSIGN_RIGHT_AWAY
    )


@strawberry.input(description="An amount of money.")
class MoneyInput:
    amount: str = strawberry.field(
        description="Not negative, with a dot as decimal point, at most 10 digits before it "
        'and 4 after: "49.90".'
    )
    currency: str = strawberry.field(description='Current ISO 4217 code, any case, e.g. "EUR".')


@strawberry.input(description="A new contract of the partner; it starts ACTIVE.")
class ContractInput:
    contract_number: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unique per partner: at most 40 letters, digits, spaces and . / _ -, "
        'starting with a letter or digit; left out, the next "V-00001"-style number.',
    )
    product: str = strawberry.field(description="What it is for, at most 200 characters.")
    starts_on: date = strawberry.field(description="When it starts.")
    ends_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="When it ends, not before startsOn."
    )
    monthly_fee: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="The fee per month, if any."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=ASSIGN_RIGHT_AWAY
    )


@strawberry.input(description="A new task of the partner's team; it starts OPEN.")
class TaskInput:
    title: str = strawberry.field(description=TASK_TITLE)
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description=TASK_DESCRIPTION
    )
    priority: TaskPriority | None = strawberry.field(
        default=TaskPriority.NORMAL, description="NORMAL unless given; not null."
    )
    due_on: date | None = strawberry.field(default=strawberry.UNSET, description="When it is due.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The customer it is for (global id)."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Who works on it: a PartnerMember of your partner."
    )


@strawberry.input(
    description="Only the fields given change; null clears description, dueOn and assigneeId."
)
class TaskPatch:
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{TASK_TITLE} Not null."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description=TASK_DESCRIPTION
    )
    status: TaskStatus | None = strawberry.field(
        default=strawberry.UNSET, description="DONE sets completedAt; leaving DONE clears it."
    )
    priority: TaskPriority | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    due_on: date | None = strawberry.field(default=strawberry.UNSET, description="When it is due.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Who works on it: a PartnerMember of your partner."
    )


@strawberry.input(
    description="Assign an item (Domain, Contract or Task id) to a customer; customerId null unassigns it."
)
class AssignInput:
    item_id: strawberry.ID = strawberry.field(
        description="The Domain, Contract or Task (global id)."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer to assign it to (global id); null unassigns it."
    )


@strawberry.input(description="Narrows a list of items; every filter given must match.")
class ItemFilter:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only items of this customer."
    )
    unassigned: bool | None = strawberry.field(
        default=None,
        description="true: only items without a customer (not with customerId); false: only "
        "assigned ones.",
    )
    search: str | None = strawberry.field(
        default=None,
        description="Every word must match: domain name; contract number or product; task "
        "title, description (at most 200 characters, the first 8 words).",
    )


def with_references(given: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """`given` with customerId / assigneeId global ids replaced by primary keys (else NotFound)."""
    if given.get("customer_id") is not None:
        given["customer_id"] = decode_id(given["customer_id"], "Customer", (*prefix, "customerId"))
    if given.get("assignee_id") is not None:
        given["assignee_id"] = decode_id(
            given["assignee_id"], "PartnerMember", (*prefix, "assigneeId"), items.MEMBER
        )
    return given


def item_filter(filter: ItemFilter | None) -> items.ItemFilter:
    """What an ItemFilter asks for, in the resolvers' terms."""
    if filter is None:
        return items.ItemFilter()
    # An id that names no customer of ours looks up NO_ROW: the resolver scopes the caller
    # first (a visitor learns nothing about the id), then answers NOT_FOUND.
    customer_id = (
        None if filter.customer_id is None else pk_or_no_row(filter.customer_id, "Customer")
    )
    return items.ItemFilter(
        customer_id=customer_id, unassigned=filter.unassigned, search=filter.search
    )


def item_ref(global_id: str) -> tuple[str, int]:
    """(type name, primary key) of a Domain, Contract or Task global id, else NotFound at itemId."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] not in items.ITEM_MODELS:
        raise NotFound(items.ITEM, ("itemId",))
    return parsed
