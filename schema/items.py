"""Assignable items: the Domain, Contract and Task types, their inputs, queries and mutations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from models import item as models
from models.customer import Customer as CustomerModel
from models.item import ContractStatus, DomainStatus, TaskPriority, TaskStatus
from resolvers import items
from resolvers.errors import NotFound
from resolvers.pagination import Page
from schema.context import Info
from schema.customers import Customer
from schema.errors import UserError
from schema.ids import decode_id, parse_global_id, pk_or_no_row, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember
from schema.relay import Connection, Node, build_connection, page_request

strawberry.enum(DomainStatus)
strawberry.enum(ContractStatus)
strawberry.enum(TaskStatus)
strawberry.enum(TaskPriority)

CENTS = Decimal("0.01")


def format_amount(amount: Decimal) -> str:
    """A decimal string with at least two decimal places: 49 -> "49.00", 12.3450 -> "12.345"."""
    normalized = Decimal(amount).normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        normalized = normalized.quantize(CENTS)
    return f"{normalized:f}"


async def _load_customer(info: Info, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    found = await info.context.loaders.customer.load(customer_id)
    return Customer.from_model(found) if found else None


@strawberry.type(description="A domain name of the partner, assignable to one customer.")
class Domain(Node):
    name: str = strawberry.field(
        description='Lower-case, IDNA-normalised unicode form, e.g. "bücher.example".'
    )
    ascii_name: str = strawberry.field(
        description='Punycode (ASCII) form, e.g. "xn--bcher-kva.example".'
    )
    status: DomainStatus
    expires_on: date | None
    created_at: datetime
    _customer_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, domain: models.Domain) -> Domain:
        return cls(
            id=to_global_id("Domain", domain.id),
            name=domain.name,
            ascii_name=domain.ascii_name,
            status=domain.status,
            expires_on=domain.expires_on,
            created_at=domain.created_at,
            _customer_id=domain.customer_id,
        )

    @strawberry.field(description="The customer the domain is assigned to; null while unassigned.")
    async def customer(self, info: Info) -> Customer | None:
        return await _load_customer(info, self._customer_id)


@strawberry.type(description="An amount of money: a decimal string and an ISO 4217 currency.")
class Money:
    amount: str = strawberry.field(
        description='Decimal string with at least two decimal places, e.g. "49.00".'
    )
    currency: str = strawberry.field(description='ISO 4217 code, upper case, e.g. "EUR".')


@strawberry.type(
    description="A contract of the partner (hosting, maintenance, ...), assignable to one customer."
)
class Contract(Node):
    contract_number: str = strawberry.field(
        description='Unique per partner; generated as "V-00001", ... when not given.'
    )
    product: str
    status: ContractStatus
    starts_on: date
    ends_on: date | None
    monthly_fee: Money | None
    created_at: datetime
    _customer_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, contract: models.Contract) -> Contract:
        fee = None
        if contract.fee_amount is not None and contract.fee_currency:
            fee = Money(
                amount=format_amount(contract.fee_amount), currency=contract.fee_currency.upper()
            )
        return cls(
            id=to_global_id("Contract", contract.id),
            contract_number=contract.contract_number,
            product=contract.product,
            status=contract.status,
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            monthly_fee=fee,
            created_at=contract.created_at,
            _customer_id=contract.customer_id,
        )

    @strawberry.field(
        description="The customer the contract is assigned to; null while unassigned."
    )
    async def customer(self, info: Info) -> Customer | None:
        return await _load_customer(info, self._customer_id)


@strawberry.type(description="A to-do of the partner's team, optionally for a customer.")
class Task(Node):
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_on: date | None
    created_at: datetime
    completed_at: datetime | None = strawberry.field(
        description="Set when the task became DONE; null otherwise."
    )
    _customer_id: strawberry.Private[int | None]
    _assignee_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, task: models.Task) -> Task:
        return cls(
            id=to_global_id("Task", task.id),
            title=task.title,
            description=task.description,
            status=task.status,
            priority=task.priority,
            due_on=task.due_on,
            created_at=task.created_at,
            completed_at=task.completed_at,
            _customer_id=task.customer_id,
            _assignee_id=task.assignee_id,
        )

    @strawberry.field(description="The customer the task is for; null while unassigned.")
    async def customer(self, info: Info) -> Customer | None:
        return await _load_customer(info, self._customer_id)

    @strawberry.field(description="The partner member who works on it.")
    async def assignee(self, info: Info) -> PartnerMember | None:
        if self._assignee_id is None:
            return None
        found = await info.context.loaders.member.load(self._assignee_id)
        return PartnerMember.from_model(found) if found else None


def item_node(item: items.Item) -> Domain | Contract | Task:
    if isinstance(item, models.Domain):
        return Domain.from_model(item)
    if isinstance(item, models.Contract):
        return Contract.from_model(item)
    return Task.from_model(item)


@strawberry.type
class DomainEdge:
    node: Domain
    cursor: str


@strawberry.type
class DomainConnection(Connection):
    edges: list[DomainEdge]

    @classmethod
    def of(cls, page: Page[models.Domain]) -> DomainConnection:
        return build_connection(cls, DomainEdge, page, Domain.from_model)


@strawberry.type
class ContractEdge:
    node: Contract
    cursor: str


@strawberry.type
class ContractConnection(Connection):
    edges: list[ContractEdge]

    @classmethod
    def of(cls, page: Page[models.Contract]) -> ContractConnection:
        return build_connection(cls, ContractEdge, page, Contract.from_model)


@strawberry.type
class TaskEdge:
    node: Task
    cursor: str


@strawberry.type
class TaskConnection(Connection):
    edges: list[TaskEdge]

    @classmethod
    def of(cls, page: Page[models.Task]) -> TaskConnection:
        return build_connection(cls, TaskEdge, page, Task.from_model)


# ---------------------------------------------------------------- inputs


@strawberry.input
class DomainInput:
    name: str = strawberry.field(
        description="Unicode or punycode; stored lower-case and IDNA-normalised."
    )
    expires_on: date | None = strawberry.UNSET
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Assign it right away."
    )


@strawberry.input(description="An amount of money.")
class MoneyInput:
    amount: str = strawberry.field(
        description='Decimal with a dot, at most 4 decimal places, not negative: "49.90".'
    )
    currency: str = strawberry.field(description='Current ISO 4217 code, e.g. "EUR".')


@strawberry.input
class ContractInput:
    contract_number: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='Unique per partner; left out, the next "V-00001"-style number.',
    )
    product: str
    starts_on: date
    ends_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Not before startsOn."
    )
    monthly_fee: MoneyInput | None = strawberry.UNSET
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Assign it right away."
    )


@strawberry.input
class TaskInput:
    title: str = strawberry.field(description="At most 200 characters.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Multi-line, at most 5,000 characters."
    )
    priority: TaskPriority | None = TaskPriority.NORMAL
    due_on: date | None = strawberry.UNSET
    customer_id: strawberry.ID | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A PartnerMember of your partner."
    )


@strawberry.input(
    description="Only the fields given change; null clears description, dueOn and assigneeId."
)
class TaskPatch:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: TaskStatus | None = strawberry.field(
        default=strawberry.UNSET, description="DONE sets completedAt; leaving DONE clears it."
    )
    priority: TaskPriority | None = strawberry.UNSET
    due_on: date | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input(
    description="Assign an item (Domain, Contract or Task id) to a customer; customerId null unassigns it."
)
class AssignInput:
    item_id: strawberry.ID
    customer_id: strawberry.ID | None = None


@strawberry.input
class ItemFilter:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only items of this customer."
    )
    unassigned: bool | None = strawberry.field(
        default=None, description="true: only items without a customer; false: only assigned ones."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Every word must match: domain name; contract number or product; task title, description.",
    )


def _with_references(given: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """`given` with customerId / assigneeId global ids replaced by primary keys (else NotFound)."""
    if given.get("customer_id") is not None:
        given["customer_id"] = decode_id(given["customer_id"], "Customer", (*prefix, "customerId"))
    if given.get("assignee_id") is not None:
        given["assignee_id"] = decode_id(
            given["assignee_id"], "PartnerMember", (*prefix, "assigneeId"), items.MEMBER
        )
    return given


def _item_filter(filter: ItemFilter | None) -> items.ItemFilter:
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


# ---------------------------------------------------------------- payloads


@strawberry.type
class DomainPayload:
    domain: Domain | None
    errors: list[UserError]

    @classmethod
    def ok(cls, domain: models.Domain) -> DomainPayload:
        return cls(domain=Domain.from_model(domain), errors=[])


@strawberry.type
class ContractPayload:
    contract: Contract | None
    errors: list[UserError]

    @classmethod
    def ok(cls, contract: models.Contract) -> ContractPayload:
        return cls(contract=Contract.from_model(contract), errors=[])


@strawberry.type
class TaskPayload:
    task: Task | None
    errors: list[UserError]

    @classmethod
    def ok(cls, task: models.Task) -> TaskPayload:
        return cls(task=Task.from_model(task), errors=[])


@strawberry.type
class AssignPayload:
    item: Node | None = strawberry.field(description="The Domain, Contract or Task, as it is now.")
    customer: Customer | None = strawberry.field(
        description="The customer it is assigned to now; null when unassigned."
    )
    errors: list[UserError]

    @classmethod
    def ok(cls, item: items.Item, customer: CustomerModel | None) -> AssignPayload:
        return cls(
            item=item_node(item),
            customer=Customer.from_model(customer) if customer else None,
            errors=[],
        )


def item_ref(global_id: str) -> tuple[str, int]:
    """(type name, primary key) of a Domain, Contract or Task global id, else NotFound at itemId."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] not in items.ITEM_MODELS:
        raise NotFound(items.ITEM, ("itemId",))
    return parsed


# ---------------------------------------------------------------- roots


@strawberry.type
class ItemQuery:
    @strawberry.field(description="The partner's domains, oldest first.")
    async def domains(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: ItemFilter | None = None,
    ) -> DomainConnection:
        item_filter = _item_filter(filter)
        return DomainConnection.of(
            await items.list_domains(info.context.actor, page_request(first, after), item_filter)
        )

    @strawberry.field(description="The partner's contracts, oldest first.")
    async def contracts(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: ItemFilter | None = None,
    ) -> ContractConnection:
        item_filter = _item_filter(filter)
        return ContractConnection.of(
            await items.list_contracts(info.context.actor, page_request(first, after), item_filter)
        )

    @strawberry.field(
        description="The partner's tasks, oldest first; `status` narrows them further."
    )
    async def tasks(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: ItemFilter | None = None,
        status: TaskStatus | None = None,
    ) -> TaskConnection:
        item_filter = _item_filter(filter)
        return TaskConnection.of(
            await items.list_tasks(
                info.context.actor, page_request(first, after), item_filter, status
            )
        )


@strawberry.type
class ItemMutation:
    @mutation(description="A new domain; the same name twice (in any spelling) is a CONFLICT.")
    async def create_domain(self, info: Info, input: DomainInput) -> DomainPayload:
        given = _with_references(given_fields(input))
        return DomainPayload.ok(await items.create_domain(info.context.actor, given))

    @mutation(description="A new contract; a taken contractNumber is a CONFLICT.")
    async def create_contract(self, info: Info, input: ContractInput) -> ContractPayload:
        given = _with_references(given_fields(input))
        return ContractPayload.ok(await items.create_contract(info.context.actor, given))

    @mutation()
    async def create_task(self, info: Info, input: TaskInput) -> TaskPayload:
        given = _with_references(given_fields(input))
        return TaskPayload.ok(await items.create_task(info.context.actor, given))

    @mutation(description="Change the fields given; status DONE sets completedAt.")
    async def update_task(self, info: Info, id: strawberry.ID, patch: TaskPatch) -> TaskPayload:
        task_id = decode_id(id, "Task", ("id",))
        given = _with_references(given_fields(patch), ("patch",))
        return TaskPayload.ok(await items.update_task(info.context.actor, task_id, given))

    @mutation(
        description="Assign, re-assign or (customerId null) unassign an item; timelines record it."
    )
    async def assign_item(self, info: Info, input: AssignInput) -> AssignPayload:
        type_name, item_id = item_ref(input.item_id)
        customer_id = (
            decode_id(input.customer_id, "Customer", ("customerId",))
            if input.customer_id is not None
            else None
        )
        item, customer = await items.assign_item(
            info.context.actor, type_name, item_id, customer_id
        )
        return AssignPayload.ok(item, customer)
