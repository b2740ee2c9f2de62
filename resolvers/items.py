"""Domains, contracts and tasks: create, edit tasks, assign to customers, list, fetch."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import idna
from tortoise.exceptions import IntegrityError

import events
from events.activity import record_activity
from models.activity import ActivityVerb
from models.customer import Customer
from models.item import Contract, Domain, Task, TaskPriority, TaskStatus
from models.partner import Partner, PartnerMember
from models.statements import next_in_sequence
from resolvers.actor import Actor
from resolvers.customers import require_customer
from resolvers.errors import Conflict, NotFound, ValidationFailed
from resolvers.money import clean_amount, clean_currency
from resolvers.pagination import Page, PageRequest, keyset_page
from resolvers.read_rules import READ_RULES, scoped, selected
from resolvers.validation import Problems, clean_text

Item = Domain | Contract | Task
ItemT = TypeVar("ItemT", Domain, Contract, Task)

# GraphQL type name -> model; the names are also the activity rows' subject types.
ITEM_MODELS: dict[str, type[Domain] | type[Contract] | type[Task]] = {
    "Domain": Domain,
    "Contract": Contract,
    "Task": Task,
}
ITEM = "Item"
MEMBER = "Partner member"

MAX_DOMAIN_LENGTH = 253
CONTRACT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]*")


@dataclass(frozen=True)
class ItemFilter:
    customer_id: int | None = None
    unassigned: bool | None = None
    search: str | None = None


# ---------------------------------------------------------------- validation


def clean_domain_name(problems: Problems, name: str, value: str | None) -> tuple[str, str] | None:
    """(unicode name, punycode name) of a domain, lower-case and IDNA (UTS 46) normalised."""
    # Generous cap on the raw text: UTS 46 may drop characters (soft hyphens), so the real
    # limit is checked on the normalised ASCII form.
    text = clean_text(
        problems, name, value, max_length=4 * MAX_DOMAIN_LENGTH, required=True, label="Domain name"
    )
    if text is None:
        return None
    try:
        ascii_name = idna.encode(text.lower(), uts46=True).decode("ascii")
        if ascii_name.endswith("."):
            ascii_name = ascii_name[:-1]  # the root of a fully qualified name
        unicode_name = idna.decode(ascii_name)
    except UnicodeError as error:  # idna.IDNAError and its subclasses
        problems.add(name, f"Domain name is not valid: {error}.")
        return None
    if len(ascii_name) > MAX_DOMAIN_LENGTH:
        problems.add(name, f"Domain name is longer than {MAX_DOMAIN_LENGTH} characters.")
        return None
    if "." not in ascii_name:
        problems.add(name, "Domain name needs at least one dot, e.g. example.com.")
        return None
    if ascii_name.rsplit(".", 1)[1].isdigit():
        problems.add(name, "Domain name must end in a top-level domain, not a number.")
        return None
    return unicode_name, ascii_name


def clean_contract(problems: Problems, given: Mapping[str, Any]) -> dict[str, Any]:
    """A whole contract's fields, validated (Python names; monthly_fee as a mapping)."""
    number = clean_text(
        problems,
        "contractNumber",
        given.get("contract_number"),
        max_length=40,
        label="Contract number",
    )
    if number is not None and not CONTRACT_NUMBER.fullmatch(number):
        problems.add(
            "contractNumber", "Contract number may hold letters, digits, spaces and . / _ -."
        )
    values: dict[str, Any] = {
        "contract_number": number,
        "product": clean_text(
            problems,
            "product",
            given.get("product"),
            max_length=200,
            required=True,
            label="Product",
        ),
        "starts_on": given.get("starts_on"),
        "ends_on": given.get("ends_on"),
        "fee_amount": None,
        "fee_currency": None,
    }
    if values["starts_on"] is None:
        problems.add("startsOn", "Start date is required.")
    elif values["ends_on"] is not None and values["ends_on"] < values["starts_on"]:
        problems.add("endsOn", "The end date must not be before the start date.")
    fee = given.get("monthly_fee")
    if fee is not None:
        nested = problems.nested("monthlyFee")
        values["fee_amount"] = clean_amount(nested, "amount", fee.get("amount"))
        values["fee_currency"] = clean_currency(nested, "currency", fee.get("currency"))
    return values


def _clean_task(problems: Problems, given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the task fields present in `given` (Python names)."""
    values: dict[str, Any] = {}
    if "title" in given:
        values["title"] = clean_text(
            problems, "title", given["title"], max_length=200, required=True, label="Title"
        )
    if "description" in given:
        values["description"] = clean_text(
            problems,
            "description",
            given["description"],
            max_length=5000,
            multiline=True,
            label="Description",
        )
    if "priority" in given:
        if given["priority"] is None:
            problems.add("priority", "priority must be LOW, NORMAL or HIGH.")
        else:
            values["priority"] = TaskPriority(given["priority"])
    if "status" in given:
        if given["status"] is None:
            problems.add("status", "status must be OPEN, IN_PROGRESS or DONE.")
        else:
            values["status"] = TaskStatus(given["status"])
    if "due_on" in given:
        due_on = given["due_on"]
        assert due_on is None or isinstance(due_on, date)
        values["due_on"] = due_on
    return values


# ---------------------------------------------------------------- references and activity


async def _assignable_customer(
    actor: Actor, customer_id: int | None, path: tuple[str, ...]
) -> Customer | None:
    return None if customer_id is None else await require_customer(actor, customer_id, path)


async def _member(actor: Actor, member_id: int, path: tuple[str, ...]) -> PartnerMember:
    member = await scoped(PartnerMember, actor).get_or_none(id=member_id)
    if member is None:
        raise NotFound(MEMBER, path)
    return member


def item_type(item: Item) -> str:
    """The GraphQL type name of an item (also its activity subject type)."""
    return type(item).__name__


def describe(item: Item) -> str:
    if isinstance(item, Domain):
        return f"Domain {item.name}"
    if isinstance(item, Contract):
        return f"Contract {item.contract_number} ({item.product})"
    return f"Task “{item.title}”"


async def _record_assignment(actor: Actor, item: Item, customer: Customer, assigned: bool) -> None:
    """One ITEM_ASSIGNED / ITEM_UNASSIGNED row on `customer`'s timeline (caller's transaction)."""
    if assigned:
        verb, summary = (
            ActivityVerb.ITEM_ASSIGNED,
            f"{describe(item)} assigned to {customer.display_name}",
        )
    else:
        verb, summary = (
            ActivityVerb.ITEM_UNASSIGNED,
            f"{describe(item)} unassigned from {customer.display_name}",
        )
    await record_activity(
        item.partner_id,
        verb,
        summary,
        actor=actor,
        customer_id=customer.id,
        subject=(item_type(item), item.id),
    )


# ---------------------------------------------------------------- domains


async def create_domain(actor: Actor, given: Mapping[str, Any]) -> Domain:
    """A new domain of the partner, optionally assigned to a customer right away."""
    partner_id = actor.require_partner_id()
    customer = await _assignable_customer(actor, given.get("customer_id"), ("customerId",))
    problems = Problems()
    names = clean_domain_name(problems, "name", given.get("name"))
    problems.raise_if_any()
    assert names is not None
    name, ascii_name = names
    taken = Conflict(f"The domain {name} exists already.", ("name",))
    if await scoped(Domain, actor).filter(ascii_name=ascii_name).exists():
        raise taken
    async with events.transaction():
        try:
            domain = await Domain.create(
                partner_id=partner_id,
                customer_id=customer.id if customer else None,
                name=name,
                ascii_name=ascii_name,
                expires_on=given.get("expires_on"),
            )
        except IntegrityError:
            raise taken from None  # created concurrently since the check above
        if customer is not None:
            await _record_assignment(actor, domain, customer, assigned=True)
    return domain


async def get_domain(actor: Actor, domain_id: int) -> Domain | None:
    """The partner's domain, or None (also for another partner's id)."""
    return await scoped(Domain, actor).get_or_none(id=domain_id)


# ---------------------------------------------------------------- contracts


def format_contract_number(number: int) -> str:
    return f"V-{number:05d}"


async def allocate_contract_number(partner_id: int) -> int:
    """The partner's next contract sequence number; call inside a transaction (row lock)."""
    return await next_in_sequence(Partner._meta.db_table, "contract_seq", partner_id)


async def _next_free_contract_number(actor: Actor) -> str:
    # A contract entered by hand may already carry the number the sequence arrives at: skip it.
    while True:
        number = format_contract_number(await allocate_contract_number(actor.require_partner_id()))
        if not await scoped(Contract, actor).filter(contract_number=number).exists():
            return number


async def create_contract(actor: Actor, given: Mapping[str, Any]) -> Contract:
    """A new contract; without a contractNumber it gets the partner's next one ("V-00001")."""
    partner_id = actor.require_partner_id()
    customer = await _assignable_customer(actor, given.get("customer_id"), ("customerId",))
    problems = Problems()
    values = clean_contract(problems, given)
    problems.raise_if_any()
    number = values.pop("contract_number")

    def taken(number: str) -> Conflict:
        return Conflict(f"Contract number {number} is taken.", ("contractNumber",))

    if number is not None and await scoped(Contract, actor).filter(contract_number=number).exists():
        raise taken(number)
    async with events.transaction():
        if number is None:
            number = await _next_free_contract_number(actor)
        try:
            contract = await Contract.create(
                partner_id=partner_id,
                customer_id=customer.id if customer else None,
                contract_number=number,
                **values,
            )
        except IntegrityError:
            raise taken(number) from None
        if customer is not None:
            await _record_assignment(actor, contract, customer, assigned=True)
    return contract


async def get_contract(actor: Actor, contract_id: int) -> Contract | None:
    """The partner's contract, or None (also for another partner's id)."""
    return await scoped(Contract, actor).get_or_none(id=contract_id)


# ---------------------------------------------------------------- tasks


async def create_task(actor: Actor, given: Mapping[str, Any]) -> Task:
    """A new OPEN task, optionally for a customer and with an assignee of the same partner."""
    partner_id = actor.require_partner_id()
    customer = await _assignable_customer(actor, given.get("customer_id"), ("customerId",))
    if given.get("assignee_id") is not None:
        await _member(actor, given["assignee_id"], ("assigneeId",))
    problems = Problems()
    values = _clean_task(
        problems, {"priority": TaskPriority.NORMAL, **given, "title": given.get("title")}
    )
    problems.raise_if_any()
    async with events.transaction():
        task = await Task.create(
            partner_id=partner_id,
            customer_id=customer.id if customer else None,
            assignee_id=given.get("assignee_id"),
            **values,
        )
        if customer is not None:
            await _record_assignment(actor, task, customer, assigned=True)
    return task


async def get_task(actor: Actor, task_id: int) -> Task | None:
    """The partner's task, or None (also for another partner's id)."""
    return await scoped(Task, actor).get_or_none(id=task_id)


# Task columns -> GraphQL patch names, in the patch's order, for the change summary.
TASK_PATCH_NAMES = {
    "title": "title",
    "description": "description",
    "priority": "priority",
    "status": "status",
    "due_on": "dueOn",
    "assignee_id": "assigneeId",
}


async def update_task(actor: Actor, task_id: int, patch: Mapping[str, Any]) -> Task:
    """Change the given fields; DONE stamps completedAt, leaving DONE clears it."""
    task = await get_task(actor, task_id)
    if task is None:
        raise NotFound("Task", ("id",))
    if patch.get("assignee_id") is not None:
        await _member(actor, patch["assignee_id"], ("patch", "assigneeId"))
    problems = Problems(("patch",))
    values = _clean_task(problems, patch)
    problems.raise_if_any()
    if "assignee_id" in patch:
        values["assignee_id"] = patch["assignee_id"]
    if "status" in values:
        if values["status"] == TaskStatus.DONE and task.status != TaskStatus.DONE:
            values["completed_at"] = datetime.now(UTC)
        elif values["status"] != TaskStatus.DONE:
            values["completed_at"] = None
    changed = {name: value for name, value in values.items() if getattr(task, name) != value}
    if not changed:
        return task  # nothing changes, so nothing is recorded
    async with events.transaction():
        # Conditional on the values we read, so a concurrent edit of the same fields is not
        # overwritten and the activity row describes a change that really happened.
        as_read = {name: getattr(task, name) for name in changed}
        updated = await scoped(Task, actor).filter(id=task.id, **as_read).update(**changed)
        if not updated:
            raise Conflict("The task was changed meanwhile; reload and retry.", ("id",))
        task = await Task.get(id=task.id)
        fields = ", ".join(graphql for name, graphql in TASK_PATCH_NAMES.items() if name in changed)
        await record_activity(
            task.partner_id,
            ActivityVerb.ITEM_UPDATED,
            f"{describe(task)} changed: {fields}",
            actor=actor,
            customer_id=task.customer_id,
            subject=(item_type(task), task.id),
        )
    return task


# ---------------------------------------------------------------- assignment


async def get_item(actor: Actor, type_name: str, item_id: int) -> Item | None:
    """The partner's Domain, Contract or Task by GraphQL type name and id, or None."""
    model = ITEM_MODELS.get(type_name)
    if model is None:
        return None
    return await scoped(model, actor).get_or_none(id=item_id)


async def assign_item(
    actor: Actor, type_name: str, item_id: int, customer_id: int | None
) -> tuple[Item, Customer | None]:
    """(Re-)assign an item to a customer or unassign it (None); the timelines record it."""
    actor.require_partner_id()
    item = await get_item(actor, type_name, item_id)
    if item is None:
        raise NotFound(ITEM, ("itemId",))
    customer = await _assignable_customer(actor, customer_id, ("customerId",))
    previous_id = item.customer_id
    if previous_id == customer_id:
        return item, customer  # nothing changes, so nothing is recorded
    previous = await scoped(Customer, actor).get_or_none(id=previous_id) if previous_id else None
    model = ITEM_MODELS[type_name]
    async with events.transaction():
        # Conditional on the customer we read, so a concurrent re-assignment is not overwritten
        # and every timeline row describes a change that really happened.
        updated = (
            await scoped(model, actor)
            .filter(id=item.id, customer_id=previous_id)
            .update(customer_id=customer_id)
        )
        if not updated:
            raise Conflict("The item was re-assigned meanwhile; reload and retry.", ("itemId",))
        if previous is not None:
            await _record_assignment(actor, item, previous, assigned=False)
        if customer is not None:
            await _record_assignment(actor, item, customer, assigned=True)
    item.customer_id = customer_id
    return item, customer


# ---------------------------------------------------------------- lists


async def _item_page(
    actor: Actor, model: type[ItemT], page: PageRequest, filter: ItemFilter, **more: Any
) -> Page[ItemT]:
    """One keyset page of the partner's items of `model`, oldest first, filtered as read_rules.py says."""
    if filter.customer_id is not None:
        if filter.unassigned:
            raise ValidationFailed.at(
                ("filter", "unassigned"), "Give either customerId or unassigned: true, not both."
            )
        await require_customer(actor, filter.customer_id, ("filter", "customerId"))
    rules = READ_RULES[model]
    query = selected(model, actor, rules.conditions({**vars(filter), **more}))
    return await keyset_page(query, rules.order(), page)


async def list_domains(actor: Actor, page: PageRequest, filter: ItemFilter) -> Page[Domain]:
    """One keyset page of the partner's domains; search matches the name."""
    return await _item_page(actor, Domain, page, filter)


async def list_contracts(actor: Actor, page: PageRequest, filter: ItemFilter) -> Page[Contract]:
    """One keyset page of the partner's contracts; search: number, product."""
    return await _item_page(actor, Contract, page, filter)


async def list_tasks(
    actor: Actor, page: PageRequest, filter: ItemFilter, status: TaskStatus | None = None
) -> Page[Task]:
    """One keyset page of the partner's tasks; search: title, description."""
    return await _item_page(actor, Task, page, filter, status=status)
