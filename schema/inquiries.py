"""Inquiries: the Inquiry type, its inputs, queries and mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.inquiry import Inquiry as InquiryModel
from models.inquiry import InquiryStatus
from resolvers import inquiries
from resolvers.pagination import Page
from schema.context import Info
from schema.customers import Customer, CustomerTarget, customer_target
from schema.errors import UserError
from schema.ids import decode_id, pk_or_none, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember
from schema.relay import Connection, Node, build_connection, page_request

strawberry.enum(InquiryStatus, description="NEW until converted (ASSIGNED, for good) or DISMISSED.")


@strawberry.type(description="A contact request sent from the partner's public profile.")
class Inquiry(Node):
    status: InquiryStatus
    name: str
    email: str
    phone: str | None
    company_name: str | None
    message: str
    received_at: datetime
    assigned_at: datetime | None
    dismissed_at: datetime | None
    dismiss_reason: str | None
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

    @strawberry.field
    async def assigned_by(self, info: Info) -> PartnerMember | None:
        if self._assigned_by_id is None:
            return None
        found = await info.context.loaders.member.load(self._assigned_by_id)
        return PartnerMember.from_model(found) if found else None


@strawberry.type
class InquiryEdge:
    node: Inquiry
    cursor: str


@strawberry.type
class InquiryConnection(Connection):
    edges: list[InquiryEdge]

    @classmethod
    def of(cls, page: Page[InquiryModel]) -> InquiryConnection:
        return build_connection(cls, InquiryEdge, page, Inquiry.from_model)


@strawberry.input
class InquiryFilter:
    status: InquiryStatus | None = None


@strawberry.input
class SubmitInquiryInput:
    partner_slug: str
    name: str
    email: str
    phone: str | None = None
    company_name: str | None = None
    message: str = strawberry.field(description="At most 5,000 characters; line breaks allowed.")
    privacy_consent: bool = strawberry.field(description="Must be true.")
    website: str | None = strawberry.field(
        default=None, description="Honeypot: leave empty (real browsers hide the field)."
    )
    rendered_at: datetime | None = strawberry.field(
        default=None,
        description=(
            "When the form was shown. A form sent back within seconds, or without this, is "
            "taken for a bot (answered accepted, stored nowhere); forms always send it."
        ),
    )


@strawberry.input
class ConvertInquiryInput:
    inquiry_id: strawberry.ID
    target: CustomerTarget


@strawberry.input
class DismissInquiryInput:
    inquiry_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class SubmitInquiryPayload:
    accepted: bool
    errors: list[UserError]


@strawberry.type
class InquiryPayload:
    inquiry: Inquiry | None
    customer: Customer | None
    errors: list[UserError]


def inquiry_pk(global_id: str, path: tuple[str, ...] = ("inquiryId",)) -> int:
    return decode_id(global_id, "Inquiry", path)


@strawberry.type
class InquiryQuery:
    @strawberry.field(description="The partner's inquiries, newest first.")
    async def inquiries(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: InquiryFilter | None = None,
    ) -> InquiryConnection:
        status = filter.status if filter else None
        page = await inquiries.list_inquiries(
            info.context.actor, page_request(first, after), status
        )
        return InquiryConnection.of(page)

    @strawberry.field
    async def inquiry(self, info: Info, id: strawberry.ID) -> Inquiry | None:
        found = await inquiries.get_inquiry(info.context.actor, pk_or_none(id, "Inquiry"))
        return Inquiry.from_model(found) if found else None


@strawberry.type
class InquiryMutation:
    @mutation(description="Public (no token): send an inquiry to a public partner profile.")
    async def submit_inquiry(self, info: Info, input: SubmitInquiryInput) -> SubmitInquiryPayload:
        await inquiries.submit_inquiry(
            given_fields(input),
            client_ip=info.context.actor.client_ip,
            min_fill_seconds=info.context.settings.inquiry_min_fill_seconds,
            settings=info.context.settings,
        )
        return SubmitInquiryPayload(accepted=True, errors=[])

    @mutation(description="Assign a NEW inquiry to a new or existing customer, permanently.")
    async def convert_inquiry(self, info: Info, input: ConvertInquiryInput) -> InquiryPayload:
        inquiry, customer = await inquiries.convert_inquiry(
            info.context.actor, inquiry_pk(input.inquiry_id), customer_target(input.target)
        )
        return InquiryPayload(
            inquiry=Inquiry.from_model(inquiry), customer=Customer.from_model(customer), errors=[]
        )

    @mutation(description="File a NEW inquiry away (spam, no fit).")
    async def dismiss_inquiry(self, info: Info, input: DismissInquiryInput) -> InquiryPayload:
        inquiry = await inquiries.dismiss_inquiry(
            info.context.actor, inquiry_pk(input.inquiry_id), input.reason
        )
        return InquiryPayload(inquiry=Inquiry.from_model(inquiry), customer=None, errors=[])
