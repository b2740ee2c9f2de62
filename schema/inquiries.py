"""Inquiries: the Inquiry type, its inputs, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.inquiry import Inquiry as InquiryModel
from models.inquiry import InquiryStatus
from resolvers import inquiries
from resolvers.pagination import Page
from schema.context import Info
from schema.customer_inputs import CustomerTarget, customer_target
from schema.customers import Customer
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import decode_id, pk_or_none, to_global_id
from schema.inputs import given_fields
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

register_enum(
    InquiryStatus,
    "NEW until converted (ASSIGNED, for good) or DISMISSED.",
    {
        "NEW": "Waiting for a decision; counted in newInquiryCount.",
        "ASSIGNED": "Assigned to a customer by convertInquiry, for good.",
        "DISMISSED": "Filed away by dismissInquiry; deleted after a retention period (90 days "
        "by default).",
    },
)
NEW_INQUIRY_ID = "The inquiry's global id; it must be NEW."


@strawberry.type(description="A contact request sent from the partner's public profile.")
class Inquiry(Node):
    status: InquiryStatus = strawberry.field(description="NEW, ASSIGNED or DISMISSED.")
    name: str = strawberry.field(description="The sender's name, as typed.")
    email: str = strawberry.field(description="The sender's address, lower case.")
    phone: str | None = strawberry.field(description="The sender's phone, E.164; null: none.")
    company_name: str | None = strawberry.field(description="The sender's company, if given.")
    message: str = strawberry.field(description="What they wrote, multi-line.")
    received_at: datetime = strawberry.field(description="When it arrived.")
    assigned_at: datetime | None = strawberry.field(description="Set when it became ASSIGNED.")
    dismissed_at: datetime | None = strawberry.field(description="Set when it became DISMISSED.")
    dismiss_reason: str | None = strawberry.field(description="Why, if the member said.")
    _customer_id: strawberry.Private[int | None]
    _assigned_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, inquiry: InquiryModel) -> Inquiry:
        return cls(
            id=to_global_id("Inquiry", inquiry.id),
            status=inquiry.status,
            name=inquiry.name,
            email=inquiry.email,
            phone=inquiry.phone,
            company_name=inquiry.company_name,
            message=inquiry.message,
            received_at=inquiry.received_at,
            assigned_at=inquiry.assigned_at,
            dismissed_at=inquiry.dismissed_at,
            dismiss_reason=inquiry.dismiss_reason,
            _customer_id=inquiry.customer_id,
            _assigned_by_id=inquiry.assigned_by_id,
        )

    @strawberry.field(description="Set once by convertInquiry, never changed again.")
    async def customer(self, info: Info) -> Customer | None:
        if self._customer_id is None:
            return None
        found = await info.context.loaders.customer.load(self._customer_id)
        return Customer.from_model(found) if found else None

    @strawberry.field(description="The member who assigned it; null unless ASSIGNED.")
    async def assigned_by(self, info: Info) -> PartnerMember | None:
        if self._assigned_by_id is None:
            return None
        found = await info.context.loaders.member.load(self._assigned_by_id)
        return PartnerMember.from_model(found) if found else None


@strawberry.type(description="An inquiry in a page of inquiries, with its cursor.")
class InquiryEdge:
    node: Inquiry = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of inquiries (Relay connection).")
class InquiryConnection(Connection):
    edges: list[InquiryEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[InquiryModel]) -> InquiryConnection:
        return build_connection(cls, InquiryEdge, page, Inquiry.from_model)


@strawberry.input(description="Narrows inquiries(...).")
class InquiryFilter:
    status: InquiryStatus | None = strawberry.field(
        default=None, description="Only inquiries in this status; null: all."
    )


@strawberry.input(description="A visitor's inquiry, sent with the form of a public profile.")
class SubmitInquiryInput:
    partner_slug: str = strawberry.field(
        description="The profile's address, in any case; the profile must be public."
    )
    name: str = strawberry.field(description="The sender's name, at most 200 characters.")
    email: str = strawberry.field(
        description="The sender's address: a valid one, at most 254 characters."
    )
    phone: str | None = strawberry.field(
        default=None, description="In international form, e.g. +39 06 1234 5678."
    )
    company_name: str | None = strawberry.field(default=None, description="At most 200 characters.")
    message: str = strawberry.field(description="At most 5,000 characters; line breaks allowed.")
    privacy_consent: bool = strawberry.field(description="Must be true.")
    website: str | None = strawberry.field(
        default=None, description="Honeypot: leave empty (real browsers hide the field)."
    )
    rendered_at: datetime | None = strawberry.field(
        default=None,
        description=(
            "When the form was shown. A form sent back within seconds (3 by default) or more "
            "than a day later, or without this, is taken for a bot (answered accepted, stored "
            "nowhere); forms always send it."
        ),
    )


@strawberry.input(description="Which inquiry, and the customer it goes to.")
class ConvertInquiryInput:
    inquiry_id: strawberry.ID = strawberry.field(description=NEW_INQUIRY_ID)
    target: CustomerTarget = strawberry.field(description="A new or an existing customer.")


@strawberry.input(description="Which inquiry to dismiss, and why.")
class DismissInquiryInput:
    inquiry_id: strawberry.ID = strawberry.field(description=NEW_INQUIRY_ID)
    reason: str | None = strawberry.field(
        default=None, description="Why, for the team: multi-line, at most 500 characters."
    )


@strawberry.type(description="The result of submitInquiry.")
class SubmitInquiryPayload:
    accepted: bool = strawberry.field(
        description="true when taken in (also when a spam trap caught it: bots learn nothing)."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


@strawberry.type(description="The result of converting or dismissing an inquiry.")
class InquiryPayload:
    inquiry: Inquiry | None = strawberry.field(description="The inquiry as it is now.")
    customer: Customer | None = strawberry.field(
        description="The customer it was assigned to; null after a dismiss."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


def inquiry_pk(global_id: str, path: tuple[str, ...] = ("inquiryId",)) -> int:
    return decode_id(global_id, "Inquiry", path)


@strawberry.type
class InquiryQuery:
    @strawberry.field(description="The partner's inquiries, newest first.")
    async def inquiries(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        filter: Annotated[
            InquiryFilter | None,
            strawberry.argument(description="Only the inquiries that match; null: all."),
        ] = None,
    ) -> InquiryConnection:
        status = filter.status if filter else None
        page = await inquiries.list_inquiries(
            info.context.actor, page_request(first, after), status
        )
        return InquiryConnection.of(page)

    @strawberry.field(description="One of the partner's inquiries; null if the id names none.")
    async def inquiry(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The inquiry's global id.")],
    ) -> Inquiry | None:
        found = await inquiries.get_inquiry(info.context.actor, pk_or_none(id, "Inquiry"))
        return Inquiry.from_model(found) if found else None


@strawberry.type
class InquiryMutation:
    @mutation(
        description="Send an inquiry to a public partner profile; rate-limited per client IP "
        "and per partner."
    )
    async def submit_inquiry(
        self,
        info: Info,
        input: Annotated[SubmitInquiryInput, strawberry.argument(description="The form.")],
    ) -> SubmitInquiryPayload:
        await inquiries.submit_inquiry(
            given_fields(input),
            client_ip=info.context.actor.client_ip,
            min_fill_seconds=info.context.settings.inquiry_min_fill_seconds,
            settings=info.context.settings,
        )
        return SubmitInquiryPayload(accepted=True, errors=[])

    @mutation(description="Assign a NEW inquiry to a new or existing customer, permanently.")
    async def convert_inquiry(
        self,
        info: Info,
        input: Annotated[
            ConvertInquiryInput, strawberry.argument(description="The inquiry and customer.")
        ],
    ) -> InquiryPayload:
        inquiry, customer = await inquiries.convert_inquiry(
            info.context.actor, inquiry_pk(input.inquiry_id), customer_target(input.target)
        )
        return InquiryPayload(
            inquiry=Inquiry.from_model(inquiry), customer=Customer.from_model(customer), errors=[]
        )

    @mutation(description="File a NEW inquiry away (spam, no fit).")
    async def dismiss_inquiry(
        self,
        info: Info,
        input: Annotated[
            DismissInquiryInput, strawberry.argument(description="The inquiry and reason.")
        ],
    ) -> InquiryPayload:
        inquiry = await inquiries.dismiss_inquiry(
            info.context.actor, inquiry_pk(input.inquiry_id), input.reason
        )
        return InquiryPayload(inquiry=Inquiry.from_model(inquiry), customer=None, errors=[])
