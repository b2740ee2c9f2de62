"""Access authorizations: AccessInvitation, EmailDelivery, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.customer import Customer as CustomerModel
from models.invitation import AccessInvitation as AccessInvitationModel
from models.invitation import AccessPermission, AccessScope, InvitationStatus
from models.outbox import EmailDelivery as EmailDeliveryModel
from models.outbox import EmailStatus
from resolvers import decisions, invitations
from resolvers.pagination import Page
from schema.auth import AccountHolder
from schema.context import Info
from schema.customer_inputs import CustomerTarget, customer_target
from schema.customers import Customer
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import decode_id, pk_or_none, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember, PartnerProfile
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
    AccessScope,
    "FULL grants every permission; PARTIAL names them.",
    {"FULL": "Every permission.", "PARTIAL": "Only the permissions listed."},
)
register_enum(
    AccessPermission,
    "What an access authorization lets the partner look after for the account holder.",
    {
        "DOMAINS": "Their domains.",
        "HOSTING": "Their hosting.",
        "EMAIL": "Their e-mail services.",
        "SSL": "Their SSL/TLS certificates.",
        "CONTRACTS": "Their contracts.",
        "INVOICES": "Their invoices.",
    },
)
register_enum(
    InvitationStatus,
    "PENDING until decided (CONNECTED, DECLINED), withdrawn, expired or, once connected, revoked.",
    {
        "PENDING": "Waiting for the partner's decision; counted in pendingInvitationCount.",
        "CONNECTED": "Accepted: connectCustomer linked it to a customer.",
        "DECLINED": "Rejected by declineInvitation; the account holder was e-mailed.",
        "WITHDRAWN": "Taken back by the account holder before a decision.",
        "EXPIRED": "Not decided in time (30 days after sending, by default).",
        "REVOKED": "Ended by the account holder after it was CONNECTED.",
    },
)
register_enum(
    EmailStatus,
    "QUEUED in the outbox, then SENT or FAILED.",
    {
        "QUEUED": "Waiting in the outbox for its (next) attempt.",
        "SENT": "Accepted by the mail server.",
        "FAILED": "Given up: refused for good, or out of attempts or time; see lastError.",
    },
)
INVITATION_ID = "The access authorization's global id."
PENDING_INVITATION_ID = "The access authorization's global id; it must be PENDING."


@strawberry.type(description="An e-mail in the outbox: queued with the change, delivered later.")
class EmailDelivery(Node):
    status: EmailStatus = strawberry.field(description="QUEUED, SENT or FAILED.")
    to: str = strawberry.field(description="The recipient's address.")
    subject: str = strawberry.field(description="The subject line.")
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    last_error: str | None = strawberry.field(
        description=(
            "Why the last attempt failed, in short, with the SMTP reply code "
            '("The mail server is unavailable; retrying (451)"); never the server\'s own words.'
        )
    )
    queued_at: datetime = strawberry.field(description="When the change queued it.")
    sent_at: datetime | None = strawberry.field(description="Set once SENT.")

    @classmethod
    def from_model(cls, email: EmailDeliveryModel) -> EmailDelivery:
        return cls(
            id=to_global_id("EmailDelivery", email.id),
            status=email.status,
            to=email.to_address,
            subject=email.subject,
            attempts=email.attempts,
            last_error=email.last_error,
            queued_at=email.queued_at,
            sent_at=email.sent_at,
        )


@strawberry.type(
    description=(
        "An access authorization an account holder sent to a partner; decided once. "
        "Visible to the partner's members and to the account holder."
    )
)
class AccessInvitation(Node):
    status: InvitationStatus = strawberry.field(
        description="Always current: a PENDING authorization past expiresAt reads EXPIRED."
    )
    scope: AccessScope = strawberry.field(description="FULL or PARTIAL.")
    permissions: list[AccessPermission] = strawberry.field(
        description="All of them when scope = FULL."
    )
    message: str | None = strawberry.field(description="The account holder's message, if any.")
    received_at: datetime = strawberry.field(description="When the account holder sent it.")
    expires_at: datetime = strawberry.field(
        description="When it expires unless decided (30 days after sending, by default)."
    )
    decided_at: datetime | None = strawberry.field(
        description="When a member connected or declined it."
    )
    decline_message: str | None = strawberry.field(
        description="The personal message added on decline."
    )
    closed_at: datetime | None = strawberry.field(
        description="When it was withdrawn, expired or revoked."
    )
    _pk: strawberry.Private[int]
    _partner_id: strawberry.Private[int]
    _account_id: strawberry.Private[int]
    _requester_name: strawberry.Private[str]
    _decided_by_id: strawberry.Private[int | None]
    _decline_email_id: strawberry.Private[int | None]
    _customer_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, invitation: AccessInvitationModel) -> AccessInvitation:
        status = invitations.effective_status(invitation)
        return cls(
            id=to_global_id("AccessInvitation", invitation.id),
            status=status,
            scope=invitation.scope,
            permissions=[AccessPermission(permission) for permission in invitation.permissions],
            message=invitation.message,
            received_at=invitation.received_at,
            expires_at=invitation.expires_at,
            decided_at=invitation.decided_at,
            decline_message=invitation.decline_message,
            # An expiry not swept yet closed the invitation at expires_at all the same.
            closed_at=invitation.closed_at
            or (invitation.expires_at if status == InvitationStatus.EXPIRED else None),
            _pk=invitation.id,
            _partner_id=invitation.partner_id,
            _account_id=invitation.account_id,
            _requester_name=invitation.requester_name,
            _decided_by_id=invitation.decided_by_id,
            _decline_email_id=invitation.decline_email_id,
            _customer_id=invitation.customer_id,
        )

    def _seen_by_partner(self, info: Info) -> bool:
        member = info.context.actor.member
        return member is not None and member.partner_id == self._partner_id

    @strawberry.field(
        description=(
            "Who sent it. Once it is withdrawn, declined, expired or revoked, the partner "
            "sees only the name it was sent with (see AccountHolder)."
        )
    )
    async def requester(self, info: Info) -> AccountHolder:
        actor = info.context.actor
        if not invitations.requester_visible(
            actor, self._partner_id, self._account_id, self.status
        ):
            return AccountHolder.closed_requester(self._pk, self._requester_name)
        return AccountHolder.from_model(await info.context.loaders.account.load(self._account_id))

    @strawberry.field(description="The partner it was sent to, as its public profile.")
    async def partner_profile(self, info: Info) -> PartnerProfile:
        return PartnerProfile.from_model(await info.context.loaders.partner.load(self._partner_id))

    @strawberry.field(
        description="The member who connected or declined it; null until then, and for the "
        "account holder."
    )
    async def decided_by(self, info: Info) -> PartnerMember | None:
        if self._decided_by_id is None or not self._seen_by_partner(info):
            return None
        found = await info.context.loaders.member.load(self._decided_by_id)
        return PartnerMember.from_model(found) if found else None

    @strawberry.field(description="The decline e-mail and its delivery state (partner only).")
    async def decline_email(self, info: Info) -> EmailDelivery | None:
        if self._decline_email_id is None or not self._seen_by_partner(info):
            return None
        found = await info.context.loaders.email.load(self._decline_email_id)
        return EmailDelivery.from_model(found) if found else None

    @strawberry.field(description="Set by connectCustomer (partner only).")
    async def customer(self, info: Info) -> Customer | None:
        if self._customer_id is None or not self._seen_by_partner(info):
            return None
        found = await info.context.loaders.customer.load(self._customer_id)
        return Customer.from_model(found) if found else None


@strawberry.type(description="An access authorization in a page of them, with its cursor.")
class AccessInvitationEdge:
    node: AccessInvitation = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of access authorizations (Relay connection).")
class AccessInvitationConnection(Connection):
    edges: list[AccessInvitationEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[AccessInvitationModel]) -> AccessInvitationConnection:
        return build_connection(cls, AccessInvitationEdge, page, AccessInvitation.from_model)


@strawberry.input(description="Narrows invitations(...).")
class InvitationFilter:
    status: list[InvitationStatus] | None = strawberry.field(
        default=None,
        description="Any of these, as read (PENDING past expiry is EXPIRED); null or empty for all.",
    )


@strawberry.input(description="An access authorization for a partner.")
class SendAccessInvitationInput:
    partner_slug: str = strawberry.field(
        description="The partner's profile address, in any case; the profile must be public."
    )
    scope: AccessScope = strawberry.field(description="FULL or PARTIAL.")
    permissions: list[AccessPermission] | None = strawberry.field(
        default=None, description="Required and non-empty when scope = PARTIAL; ignored for FULL."
    )
    message: str | None = strawberry.field(
        default=None, description="At most 2,000 characters; line breaks allowed."
    )


@strawberry.input(description="Which authorization, and the customer it connects to.")
class ConnectCustomerInput:
    invitation_id: strawberry.ID = strawberry.field(description=PENDING_INVITATION_ID)
    target: CustomerTarget = strawberry.field(
        description="A new customer, or an existing one not connected to another authorization."
    )


@strawberry.input(description="Which authorization to decline, with an optional message.")
class DeclineInvitationInput:
    invitation_id: strawberry.ID = strawberry.field(description=PENDING_INVITATION_ID)
    personal_message: str | None = strawberry.field(
        default=None,
        description="Plain text added to the decline e-mail; at most 2,000 characters, line breaks allowed.",
    )


@strawberry.input(description="Which access authorization.")
class InvitationIdInput:
    invitation_id: strawberry.ID = strawberry.field(description=INVITATION_ID)


@strawberry.type(description="The result of a change to an access authorization.")
class InvitationPayload:
    invitation: AccessInvitation | None = strawberry.field(
        description="The authorization as it is now."
    )
    customer: Customer | None = strawberry.field(
        description="connectCustomer: the customer it is connected to; otherwise null."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def of(
        cls, invitation: AccessInvitationModel, customer: CustomerModel | None = None
    ) -> InvitationPayload:
        return cls(
            invitation=AccessInvitation.from_model(invitation),
            customer=Customer.from_model(customer) if customer else None,
            errors=[],
        )


@strawberry.type(description="The result of declineInvitation.")
class DeclineInvitationPayload:
    invitation: AccessInvitation | None = strawberry.field(
        description="The authorization, now DECLINED."
    )
    email: EmailDelivery | None = strawberry.field(description="The queued decline e-mail.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


def invitation_pk(global_id: str) -> int:
    return decode_id(global_id, "AccessInvitation", ("invitationId",), what="Invitation")


@strawberry.type
class InvitationQuery:
    @strawberry.field(description="Undecided, unexpired authorizations, newest first.")
    async def pending_invitations(
        self, info: Info, first: First = 20, after: After = None
    ) -> AccessInvitationConnection:
        page = await invitations.list_pending_invitations(
            info.context.actor, page_request(first, after)
        )
        return AccessInvitationConnection.of(page)

    @strawberry.field(description='The badge next to "Customers": pending, unexpired ones.')
    async def pending_invitation_count(self, info: Info) -> int:
        return await invitations.pending_invitation_count(info.context.actor)

    @strawberry.field(description="All of the partner's authorizations, newest first.")
    async def invitations(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        filter: Annotated[
            InvitationFilter | None,
            strawberry.argument(description="Only the authorizations that match; null: all."),
        ] = None,
    ) -> AccessInvitationConnection:
        statuses = filter.status if filter else None
        page = await invitations.list_invitations(
            info.context.actor, page_request(first, after), statuses
        )
        return AccessInvitationConnection.of(page)

    @strawberry.field(
        description="One of the partner's access authorizations; null if the id names none."
    )
    async def invitation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=INVITATION_ID)],
    ) -> AccessInvitation | None:
        pk = pk_or_none(id, "AccessInvitation")
        found = await invitations.get_partner_invitation(info.context.actor, pk)
        return AccessInvitation.from_model(found) if found else None

    @strawberry.field(
        description="For account holders: the authorizations I sent, newest first (the latest 200)."
    )
    async def my_invitations(self, info: Info) -> list[AccessInvitation]:
        found = await invitations.my_invitations(info.context.actor)
        return [AccessInvitation.from_model(invitation) for invitation in found]


@strawberry.type
class InvitationMutation:
    @mutation(
        description="Authorize a partner through its public profile: needs a verified e-mail "
        "address, one live (PENDING or CONNECTED) authorization per partner; rate-limited."
    )
    async def send_access_invitation(
        self,
        info: Info,
        input: Annotated[
            SendAccessInvitationInput, strawberry.argument(description="The authorization.")
        ],
    ) -> InvitationPayload:
        settings = info.context.settings
        invitation = await invitations.send_access_invitation(
            info.context.actor, settings.invitation_ttl_days, given_fields(input), settings
        )
        return InvitationPayload.of(invitation)

    @mutation(description="Take back one of my PENDING authorizations.")
    async def withdraw_invitation(
        self,
        info: Info,
        input: Annotated[InvitationIdInput, strawberry.argument(description="Which one.")],
    ) -> InvitationPayload:
        invitation_id = invitation_pk(input.invitation_id)
        return InvitationPayload.of(
            await invitations.withdraw_invitation(info.context.actor, invitation_id)
        )

    @mutation(
        description="End one of my CONNECTED authorizations; the partner's customer keeps its data."
    )
    async def revoke_access(
        self,
        info: Info,
        input: Annotated[InvitationIdInput, strawberry.argument(description="Which one.")],
    ) -> InvitationPayload:
        invitation_id = invitation_pk(input.invitation_id)
        return InvitationPayload.of(
            await invitations.revoke_access(info.context.actor, invitation_id)
        )

    @mutation(
        description="Accept a PENDING authorization into a new or existing customer; e-mails the account holder."
    )
    async def connect_customer(
        self,
        info: Info,
        input: Annotated[
            ConnectCustomerInput,
            strawberry.argument(description="The authorization and the customer."),
        ],
    ) -> InvitationPayload:
        invitation, customer = await decisions.connect_customer(
            info.context.actor,
            invitation_pk(input.invitation_id),
            customer_target(input.target),
        )
        return InvitationPayload.of(invitation, customer)

    @mutation(
        description="Reject a PENDING authorization; the decline e-mail is queued with the decision."
    )
    async def decline_invitation(
        self,
        info: Info,
        input: Annotated[
            DeclineInvitationInput,
            strawberry.argument(description="The authorization and the message."),
        ],
    ) -> DeclineInvitationPayload:
        invitation, email = await decisions.decline_invitation(
            info.context.actor, invitation_pk(input.invitation_id), input.personal_message
        )
        return DeclineInvitationPayload(
            invitation=AccessInvitation.from_model(invitation),
            email=EmailDelivery.from_model(email),
            errors=[],
        )
