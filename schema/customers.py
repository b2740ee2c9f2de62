"""Customers: the Customer type, its connection, queries and mutations.

The customer enums and inputs are in schema/customer_inputs.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models.customer import Customer as CustomerModel
from models.customer import CustomerKind, CustomerSource, CustomerStatus
from models.item import TaskStatus
from resolvers import activity, customers
from resolvers.pagination import Page
from schema.activity import ActivityConnection
from schema.context import Info
from schema.customer_inputs import (
    CustomerFilter,
    CustomerInput,
    CustomerOrder,
    CustomerPatch,
    customer_list,
    customer_pk,
)
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import pk_or_none, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import (
    CONNECTION_EDGES,
    EDGE_CURSOR,
    EDGE_NODE,
    After,
    Before,
    Connection,
    First,
    Last,
    Node,
    build_connection,
    page_request,
)

if TYPE_CHECKING:
    from schema.inquiries import Inquiry
    from schema.invitations import AccessInvitation
    from schema.items import Contract, Domain, Task

CustomerId = Annotated[strawberry.ID, strawberry.argument(description="The customer's global id.")]


@strawberry.type(description="A postal address; a part not known is null.")
class Address:
    street: str | None = strawberry.field(description="Street and number.")
    postal_code: str | None = strawberry.field(description="Postal code, as given.")
    city: str | None = strawberry.field(description="City or town.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2, upper case.")


@strawberry.type(description="A customer of the partner: a person or a company.")
class Customer(Node):
    customer_number: str = strawberry.field(
        description='"C-00001", ...: unique per partner, sequential, never reused.'
    )
    kind: CustomerKind = strawberry.field(description="PERSON or COMPANY.")
    display_name: str = strawberry.field(
        description="A COMPANY's company name; a PERSON's \"First Last\" (else company name, "
        "else e-mail)."
    )
    first_name: str | None = strawberry.field(description="Given name(s).")
    last_name: str | None = strawberry.field(description="Family name.")
    company_name: str | None = strawberry.field(
        description="The company's name; a COMPANY always has one."
    )
    email: str | None = strawberry.field(description="E-mail address, lower case.")
    phone: str | None = strawberry.field(description='E.164, e.g. "+390612345678".')
    address: Address | None = strawberry.field(
        description="Postal address; null when no part of it is known."
    )
    vat_id: str | None = strawberry.field(
        description="VAT identification number, upper case without spaces; not checked "
        "against any register."
    )
    language: str = strawberry.field(
        description='Preferred language, a lower-case code such as "it" or "de-ch"; "en" '
        "unless given."
    )
    notes: str | None = strawberry.field(description="The partner's internal notes, multi-line.")
    tags: list[str] = strawberry.field(description="The partner's labels, in the order given.")
    external_id: str | None = strawberry.field(
        description="The partner's own reference (e.g. from a previous system); unique per partner. CSV imports match rows on it first."
    )
    status: CustomerStatus = strawberry.field(description="ACTIVE or ARCHIVED.")
    source: CustomerSource = strawberry.field(description="How the customer came to be.")
    version: int = strawberry.field(
        description="Bumps on every change; send it as updateCustomer's expectedVersion."
    )
    created_at: datetime = strawberry.field(description="When the customer was created.")
    updated_at: datetime = strawberry.field(description="When the customer last changed.")
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
        self, info: Info, first: First = 20, after: After = None
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
        self,
        info: Info,
        status: Annotated[
            TaskStatus | None, strawberry.argument(description="Only tasks in this status.")
        ] = None,
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


@strawberry.type(description="A customer in a page of customers, with its cursor.")
class CustomerEdge:
    node: Customer = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of customers (Relay connection).")
class CustomerConnection(Connection):
    edges: list[CustomerEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[CustomerModel]) -> CustomerConnection:
        return build_connection(cls, CustomerEdge, page, Customer.from_model)


@strawberry.type(description="The result of a change to a customer.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def ok(cls, customer: CustomerModel) -> CustomerPayload:
        return cls(customer=Customer.from_model(customer), errors=[])


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        description="The partner's customers, ACTIVE and ARCHIVED unless filtered; by "
        "display name unless orderBy says otherwise."
    )
    async def customers(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[
            CustomerFilter | None,
            strawberry.argument(description="Only the customers that match; null: all."),
        ] = None,
        order_by: Annotated[
            CustomerOrder | None,
            strawberry.argument(description="The order; null: by displayName, ascending."),
        ] = None,
    ) -> CustomerConnection:
        page = await customers.list_customers(
            info.context.actor, *customer_list(first, after, last, before, filter, order_by)
        )
        return CustomerConnection.of(page)

    @strawberry.field(description="One of the partner's customers; null if the id names none.")
    async def customer(self, info: Info, id: CustomerId) -> Customer | None:
        found = await customers.get_customer(info.context.actor, pk_or_none(id, "Customer"))
        return Customer.from_model(found) if found else None

    @strawberry.field(
        description="Possible duplicates before a convert or connect: customers matching the "
        "e-mail, the phone or the name, best match first (at most 10; none without arguments)."
    )
    async def customer_matches(
        self,
        info: Info,
        email: Annotated[
            str | None,
            strawberry.argument(description="The same address, in any case; invalid: ignored."),
        ] = None,
        phone: Annotated[
            str | None,
            strawberry.argument(
                description="The same number, in international form (+39 06 1234 5678); a "
                "national or invalid number is ignored."
            ),
        ] = None,
        name: Annotated[
            str | None,
            strawberry.argument(
                description="Customers whose display name contains every word (the first 5 "
                "words of two letters or more)."
            ),
        ] = None,
    ) -> list[Customer]:
        found = await customers.customer_matches(info.context.actor, email, phone, name)
        return [Customer.from_model(customer) for customer in found]


@strawberry.type
class CustomerMutation:
    @mutation(description="Create a customer (source MANUAL) with the partner's next number.")
    async def create_customer(
        self,
        info: Info,
        input: Annotated[CustomerInput, strawberry.argument(description="The new customer.")],
    ) -> CustomerPayload:
        customer = await customers.create_customer(info.context.actor, given_fields(input))
        return CustomerPayload.ok(customer)

    @mutation(
        description="Change the fields given; a stale expectedVersion gives CONFLICT and changes nothing."
    )
    async def update_customer(
        self,
        info: Info,
        id: CustomerId,
        patch: Annotated[CustomerPatch, strawberry.argument(description="The fields to change.")],
        expected_version: Annotated[
            int | None,
            strawberry.argument(description="The version you read; null: no check."),
        ] = None,
    ) -> CustomerPayload:
        customer = await customers.update_customer(
            info.context.actor, customer_pk(id), given_fields(patch), expected_version
        )
        return CustomerPayload.ok(customer)

    @mutation(description="Set a customer ARCHIVED; its data stays (archived already: no change).")
    async def archive_customer(self, info: Info, id: CustomerId) -> CustomerPayload:
        return CustomerPayload.ok(
            await customers.archive_customer(info.context.actor, customer_pk(id))
        )

    @mutation(description="Set an archived customer ACTIVE again (active already: no change).")
    async def restore_customer(self, info: Info, id: CustomerId) -> CustomerPayload:
        return CustomerPayload.ok(
            await customers.restore_customer(info.context.actor, customer_pk(id))
        )
