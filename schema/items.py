"""Assignable items: the Domain, Contract and Task types, their queries and mutations.

Their enums and inputs are in schema/item_inputs.py; later changes in schema/item_changes.py.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from models import item as models
from models.customer import Customer as CustomerModel
from models.item import ContractStatus, DomainStatus, TaskPriority, TaskStatus
from resolvers import items
from resolvers.pagination import Page
from schema.context import Info
from schema.customers import Customer
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import decode_id, to_global_id
from schema.inputs import given_fields
from schema.item_inputs import (
    AssignInput,
    ContractInput,
    DomainInput,
    ItemFilter,
    TaskInput,
    TaskPatch,
    item_filter,
    item_ref,
    with_references,
)
from schema.mutations import mutation
from schema.partners import PartnerMember
from schema.relay import (
    CONNECTION_EDGES,
    EDGE_CURSOR,
    EDGE_NODE,
    After,
    Connection,
    First,
    Node,
    build_connection,
    page_request,
)

Filter = Annotated[
    ItemFilter | None, strawberry.argument(description="Only the items that match; null: all.")
]

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
    status: DomainStatus = strawberry.field(description="As the partner records it.")
    expires_on: date | None = strawberry.field(
        description="When the registration expires; null when not known."
    )
    created_at: datetime = strawberry.field(description="When it was added.")
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
    product: str = strawberry.field(description="What the contract is for.")
    status: ContractStatus = strawberry.field(description="As the partner records it.")
    starts_on: date = strawberry.field(description="When it starts.")
    ends_on: date | None = strawberry.field(description="When it ends; null: open-ended.")
    monthly_fee: Money | None = strawberry.field(description="The fee per month; null: none.")
    created_at: datetime = strawberry.field(description="When it was added.")
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
    title: str = strawberry.field(description="What is to be done, one line.")
    description: str | None = strawberry.field(description="Details, multi-line.")
    status: TaskStatus = strawberry.field(description="OPEN, IN_PROGRESS or DONE.")
    priority: TaskPriority = strawberry.field(description="LOW, NORMAL or HIGH.")
    due_on: date | None = strawberry.field(description="When it is due; null: no due date.")
    created_at: datetime = strawberry.field(description="When it was created.")
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

    @strawberry.field(description="The partner member who works on it; null: nobody.")
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


@strawberry.type(description="A domain in a page of domains, with its cursor.")
class DomainEdge:
    node: Domain = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of domains (Relay connection).")
class DomainConnection(Connection):
    edges: list[DomainEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[models.Domain]) -> DomainConnection:
        return build_connection(cls, DomainEdge, page, Domain.from_model)


@strawberry.type(description="A contract in a page of contracts, with its cursor.")
class ContractEdge:
    node: Contract = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of contracts (Relay connection).")
class ContractConnection(Connection):
    edges: list[ContractEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[models.Contract]) -> ContractConnection:
        return build_connection(cls, ContractEdge, page, Contract.from_model)


@strawberry.type(description="A task in a page of tasks, with its cursor.")
class TaskEdge:
    node: Task = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of tasks (Relay connection).")
class TaskConnection(Connection):
    edges: list[TaskEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[models.Task]) -> TaskConnection:
        return build_connection(cls, TaskEdge, page, Task.from_model)


# ---------------------------------------------------------------- payloads


@strawberry.type(description="The result of a change to a domain.")
class DomainPayload:
    domain: Domain | None = strawberry.field(description="The domain as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def ok(cls, domain: models.Domain) -> DomainPayload:
        return cls(domain=Domain.from_model(domain), errors=[])


@strawberry.type(description="The result of a change to a contract.")
class ContractPayload:
    contract: Contract | None = strawberry.field(description="The contract as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def ok(cls, contract: models.Contract) -> ContractPayload:
        return cls(contract=Contract.from_model(contract), errors=[])


@strawberry.type(description="The result of a change to a task.")
class TaskPayload:
    task: Task | None = strawberry.field(description="The task as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def ok(cls, task: models.Task) -> TaskPayload:
        return cls(task=Task.from_model(task), errors=[])


@strawberry.type(description="The result of assignItem.")
class AssignPayload:
    item: Node | None = strawberry.field(description="The Domain, Contract or Task, as it is now.")
    customer: Customer | None = strawberry.field(
        description="The customer it is assigned to now; null when unassigned."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def ok(cls, item: items.Item, customer: CustomerModel | None) -> AssignPayload:
        return cls(
            item=item_node(item),
            customer=Customer.from_model(customer) if customer else None,
            errors=[],
        )


# ---------------------------------------------------------------- roots


@strawberry.type
class ItemQuery:
    @strawberry.field(description="The partner's domains, oldest first.")
    async def domains(
        self, info: Info, first: First = 20, after: After = None, filter: Filter = None
    ) -> DomainConnection:
        wanted = item_filter(filter)
        return DomainConnection.of(
            await items.list_domains(info.context.actor, page_request(first, after), wanted)
        )

    @strawberry.field(description="The partner's contracts, oldest first.")
    async def contracts(
        self, info: Info, first: First = 20, after: After = None, filter: Filter = None
    ) -> ContractConnection:
        wanted = item_filter(filter)
        return ContractConnection.of(
            await items.list_contracts(info.context.actor, page_request(first, after), wanted)
        )

    @strawberry.field(
        description="The partner's tasks, oldest first; `status` narrows them further."
    )
    async def tasks(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        filter: Filter = None,
        status: Annotated[
            TaskStatus | None, strawberry.argument(description="Only tasks in this status.")
        ] = None,
    ) -> TaskConnection:
        wanted = item_filter(filter)
        return TaskConnection.of(
            await items.list_tasks(info.context.actor, page_request(first, after), wanted, status)
        )


@strawberry.type
class ItemMutation:
    @mutation(description="A new domain; the same name twice (in any spelling) is a CONFLICT.")
    async def create_domain(
        self,
        info: Info,
        input: Annotated[DomainInput, strawberry.argument(description="The new domain.")],
    ) -> DomainPayload:
        given = with_references(given_fields(input))
        return DomainPayload.ok(await items.create_domain(info.context.actor, given))

    @mutation(description="A new contract; a taken contractNumber is a CONFLICT.")
    async def create_contract(
        self,
        info: Info,
        input: Annotated[ContractInput, strawberry.argument(description="The new contract.")],
    ) -> ContractPayload:
        given = with_references(given_fields(input))
        return ContractPayload.ok(await items.create_contract(info.context.actor, given))

    @mutation(description="A new task (OPEN), for a customer and with an assignee if given.")
    async def create_task(
        self,
        info: Info,
        input: Annotated[TaskInput, strawberry.argument(description="The new task.")],
    ) -> TaskPayload:
        given = with_references(given_fields(input))
        return TaskPayload.ok(await items.create_task(info.context.actor, given))

    @mutation(description="Change the fields given; status DONE sets completedAt.")
    async def update_task(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The task's global id.")],
        patch: Annotated[TaskPatch, strawberry.argument(description="The fields to change.")],
    ) -> TaskPayload:
        task_id = decode_id(id, "Task", ("id",))
        given = with_references(given_fields(patch), ("patch",))
        return TaskPayload.ok(await items.update_task(info.context.actor, task_id, given))

    @mutation(
        description="Assign, re-assign or (customerId null) unassign an item; timelines record it."
    )
    async def assign_item(
        self,
        info: Info,
        input: Annotated[
            AssignInput, strawberry.argument(description="The item and the customer.")
        ],
    ) -> AssignPayload:
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
