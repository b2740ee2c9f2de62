"""Customers: the Customer type, its inputs, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import strawberry

from models.customer import Customer as CustomerModel
from models.customer import CustomerKind, CustomerSource, CustomerStatus
from models.item import TaskStatus
from resolvers import activity, customers
from resolvers.customers import CustomerSortField
from resolvers.pagination import Page, PageRequest
from schema.activity import ActivityConnection
from schema.context import Info
from schema.errors import UserError
from schema.ids import decode_id, pk_or_none, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import Connection, Node, build_connection, page_request

if TYPE_CHECKING:
    from schema.inquiries import Inquiry
    from schema.invitations import AccessInvitation
    from schema.items import Contract, Domain, Task

strawberry.enum(CustomerKind)
strawberry.enum(CustomerStatus)
strawberry.enum(CustomerSource)
strawberry.enum(CustomerSortField)


@strawberry.enum
class SortDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.type
class Address:
    street: str | None
    postal_code: str | None
    city: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2, upper case.")


@strawberry.type(description="A customer of the partner: a person or a company.")
class Customer(Node):
    customer_number: str = strawberry.field(
        description="Unique per partner, sequential, never reused."
    )
    kind: CustomerKind
    display_name: str = strawberry.field(
        description='The company name for a COMPANY, else "First Last".'
    )
    first_name: str | None
    last_name: str | None
    company_name: str | None
    email: str | None
    phone: str | None = strawberry.field(description='E.164, e.g. "+390612345678".')
    address: Address | None
    vat_id: str | None
    language: str
    notes: str | None
    tags: list[str]
    external_id: str | None = strawberry.field(
        description="The partner's own reference (e.g. from a previous system); unique per partner. CSV imports match rows on it first."
    )
    status: CustomerStatus
    source: CustomerSource
    version: int = strawberry.field(
        description="Bumps on every change; send it as updateCustomer's expectedVersion."
    )
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[CustomerModel]

    @classmethod
    def from_model(cls, customer: CustomerModel) -> Customer:
        has_address = any((customer.street, customer.postal_code, customer.city, customer.country))
        return cls(
            id=to_global_id("Customer", customer.id),
            customer_number=customer.customer_number,
            kind=customer.kind,
            display_name=customer.display_name,
            first_name=customer.first_name,
            last_name=customer.last_name,
            company_name=customer.company_name,
            email=customer.email,
            phone=customer.phone,
            address=Address(
                street=customer.street,
                postal_code=customer.postal_code,
                city=customer.city,
                country=customer.country,
            )
            if has_address
            else None,
            vat_id=customer.vat_id,
            language=customer.language,
            notes=customer.notes,
            tags=list(customer.tags or []),
            external_id=customer.external_id,
            status=customer.status,
            source=customer.source,
            version=customer.version,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            _model=customer,
        )

    @strawberry.field(description="This customer's timeline, newest first.")
    async def activity(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ActivityConnection:
        page = await activity.customer_activity(
            info.context.actor, self._model, page_request(first, after)
        )
        return ActivityConnection.of(page)

    @strawberry.field(description="Domains assigned to this customer, by name.")
    async def domains(self, info: Info) -> list[Annotated[Domain, strawberry.lazy("schema.items")]]:
        from schema.items import Domain

        rows = await info.context.loaders.domains_of_customer.load(self._model.id)
        return [Domain.from_model(row) for row in rows]

    @strawberry.field(description="Contracts assigned to this customer, by start date.")
    async def contracts(
        self, info: Info
    ) -> list[Annotated[Contract, strawberry.lazy("schema.items")]]:
        from schema.items import Contract

        rows = await info.context.loaders.contracts_of_customer.load(self._model.id)
        return [Contract.from_model(row) for row in rows]

    @strawberry.field(description="Tasks for this customer, by due date; `status` narrows them.")
    async def tasks(
        self, info: Info, status: TaskStatus | None = None
    ) -> list[Annotated[Task, strawberry.lazy("schema.items")]]:
        from schema.items import Task

        rows = await info.context.loaders.tasks_of_customer.load(self._model.id)
        return [Task.from_model(row) for row in rows if status is None or row.status == status]

    @strawberry.field(description="Inquiries permanently assigned to this customer, oldest first.")
    async def inquiries(
        self, info: Info
    ) -> list[Annotated[Inquiry, strawberry.lazy("schema.inquiries")]]:
        from schema.inquiries import Inquiry

        rows = await info.context.loaders.inquiries_of_customer.load(self._model.id)
        return [Inquiry.from_model(row) for row in rows]

    @strawberry.field(
        # The contract's name for the customer's access invitation.
        name="accessAuthorization",
        description="The connected access authorization, if any (after a revoke: the REVOKED one).",
    )
    async def access_invitation(
        self, info: Info
    ) -> Annotated[AccessInvitation, strawberry.lazy("schema.invitations")] | None:
        from schema.invitations import AccessInvitation

        found = await info.context.loaders.invitation_of_customer.load(self._model.id)
        return AccessInvitation.from_model(found) if found else None


@strawberry.type
class CustomerEdge:
    node: Customer
    cursor: str


@strawberry.type
class CustomerConnection(Connection):
    edges: list[CustomerEdge]

    @classmethod
    def of(cls, page: Page[CustomerModel]) -> CustomerConnection:
        return build_connection(cls, CustomerEdge, page, Customer.from_model)


@strawberry.input
class AddressInput:
    street: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.input
class CustomerInput:
    kind: CustomerKind | None = CustomerKind.PERSON
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    company_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Required when kind = COMPANY."
    )
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="International form, or national with address.country.",
    )
    address: AddressInput | None = strawberry.UNSET
    vat_id: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Your own reference, at most 100 characters; unique per partner (CONFLICT if taken).",
    )


@strawberry.input(
    one_of=True,
    description=(
        "Either a new customer (fields may be left out: they are taken from the inquiry or "
        "account) or an existing one. A new customer is a COMPANY when it has a company name "
        "(taken over or given) or kind COMPANY is sent; kind PERSON is the input's default and "
        "cannot override that, so send companyName: null for a person. An existing customer's "
        "fields are never changed: only the link is added."
    ),
)
class CustomerTarget:
    new_customer: CustomerInput | None = strawberry.UNSET
    existing_customer_id: strawberry.ID | None = strawberry.UNSET


def customer_target(target: CustomerTarget) -> customers.CustomerTarget:
    """The resolver's view of a CustomerTarget; a foreign or malformed id is NOT_FOUND."""
    if isinstance(target.existing_customer_id, str):  # "" is an id too (a malformed one)
        return customers.CustomerTarget(
            existing_customer_id=customer_pk(
                target.existing_customer_id, ("target", "existingCustomerId")
            )
        )
    return customers.CustomerTarget(new_customer=given_fields(target.new_customer) or {})


@strawberry.input(description="Only the fields given change; null clears a field.")
class CustomerPatch:
    kind: CustomerKind | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    company_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    vat_id: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unique per partner (CONFLICT if taken); null clears it.",
    )


@strawberry.input
class CustomerOrder:
    field: CustomerSortField
    direction: SortDirection | None = SortDirection.ASC


@strawberry.input
class CustomerFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Matches name, company, e-mail, phone and customer number; every word must match.",
    )
    status: CustomerStatus | None = None
    source: CustomerSource | None = None
    tag: str | None = None
    created_after: datetime | None = strawberry.field(
        default=None, description="Only customers created at or after this moment."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Only customers created before this moment."
    )


@strawberry.type
class CustomerPayload:
    customer: Customer | None
    errors: list[UserError]

    @classmethod
    def ok(cls, customer: CustomerModel) -> CustomerPayload:
        return cls(customer=Customer.from_model(customer), errors=[])


def customer_list(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: CustomerFilter | None,
    order_by: CustomerOrder | None,
) -> tuple[PageRequest, customers.CustomerFilter, customers.CustomerOrder]:
    """What `customers(...)`'s arguments ask for, in the resolvers' terms. The compiled read
    path reads the arguments through this too, so both paths mean the same by them."""
    order = customers.CustomerOrder()
    if order_by is not None:
        order = customers.CustomerOrder(order_by.field, order_by.direction == SortDirection.DESC)
    return page_request(first, after, last, before), customer_filter(filter), order


def customer_filter(filter: CustomerFilter | None) -> customers.CustomerFilter:
    """What a CustomerFilter asks for, in the resolvers' terms (lists and exports alike)."""
    wanted = filter or CustomerFilter()
    return customers.CustomerFilter(
        search=wanted.search,
        status=wanted.status,
        source=wanted.source,
        tag=wanted.tag,
        created_after=wanted.created_after,
        created_before=wanted.created_before,
    )


def customer_pk(global_id: str, path: tuple[str, ...] = ("id",)) -> int:
    return decode_id(global_id, "Customer", path)


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="The partner's customers, default order by display name.")
    async def customers(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder | None = None,
    ) -> CustomerConnection:
        page = await customers.list_customers(
            info.context.actor, *customer_list(first, after, last, before, filter, order_by)
        )
        return CustomerConnection.of(page)

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        found = await customers.get_customer(info.context.actor, pk_or_none(id, "Customer"))
        return Customer.from_model(found) if found else None

    @strawberry.field(
        description="Possible duplicates before a convert or connect, best match first."
    )
    async def customer_matches(
        self,
        info: Info,
        email: str | None = None,
        phone: str | None = None,
        name: str | None = None,
    ) -> list[Customer]:
        found = await customers.customer_matches(info.context.actor, email, phone, name)
        return [Customer.from_model(customer) for customer in found]


@strawberry.type
class CustomerMutation:
    @mutation()
    async def create_customer(self, info: Info, input: CustomerInput) -> CustomerPayload:
        customer = await customers.create_customer(info.context.actor, given_fields(input))
        return CustomerPayload.ok(customer)

    @mutation(
        description="Change the fields given; a stale expectedVersion gives CONFLICT and changes nothing."
    )
    async def update_customer(
        self,
        info: Info,
        id: strawberry.ID,
        patch: CustomerPatch,
        expected_version: int | None = None,
    ) -> CustomerPayload:
        customer = await customers.update_customer(
            info.context.actor, customer_pk(id), given_fields(patch), expected_version
        )
        return CustomerPayload.ok(customer)

    @mutation()
    async def archive_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        return CustomerPayload.ok(
            await customers.archive_customer(info.context.actor, customer_pk(id))
        )

    @mutation()
    async def restore_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        return CustomerPayload.ok(
            await customers.restore_customer(info.context.actor, customer_pk(id))
        )
