"""Access authorizations: AccessInvitation, EmailDelivery, queries and mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.customer import Customer as CustomerModel
from models.invitation import AccessInvitation as AccessInvitationModel
from models.invitation import AccessPermission, AccessScope, InvitationStatus
from models.outbox import EmailDelivery as EmailDeliveryModel
from models.outbox import EmailStatus
from resolvers import invitations
from resolvers.pagination import Page
from schema.auth import AccountHolder
from schema.context import Info
from schema.customers import Customer, CustomerTarget, customer_target
from schema.errors import UserError
from schema.ids import decode_id, pk_or_none, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember, PartnerProfile
from schema.relay import Connection, Node, build_connection, page_request

strawberry.enum(AccessScope, description="FULL grants every permission; PARTIAL names them.")
strawberry.enum(AccessPermission)
strawberry.enum(
    InvitationStatus,
    description="PENDING until decided (CONNECTED, DECLINED), withdrawn, expired or, once connected, revoked.",
)
strawberry.enum(EmailStatus, description="QUEUED in the outbox, then SENT or FAILED.")


@strawberry.type(description="An e-mail in the outbox: queued with the change, delivered later.")
class EmailDelivery(Node):
    status: EmailStatus
    to: str
    subject: str
    attempts: int
    last_error: str | None = strawberry.field(
        description=(
            "Why the last attempt failed, in short, with the SMTP reply code "
            '("The mail server is unavailable; retrying (451)"); never the server\'s own words.'
        )
    )
    queued_at: datetime
    sent_at: datetime | None

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
    scope: AccessScope
    permissions: list[AccessPermission] = strawberry.field(
        description="All of them when scope = FULL."
    )
    message: str | None = strawberry.field(description="From the account holder.")
    received_at: datetime
    expires_at: datetime
    decided_at: datetime | None
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

    @strawberry.field(description="Null for the account holder.")
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


@strawberry.type
class AccessInvitationEdge:
    node: AccessInvitation
    cursor: str


@strawberry.type
class AccessInvitationConnection(Connection):
    edges: list[AccessInvitationEdge]

    @classmethod
    def of(cls, page: Page[AccessInvitationModel]) -> AccessInvitationConnection:
        return build_connection(cls, AccessInvitationEdge, page, AccessInvitation.from_model)


@strawberry.input
class InvitationFilter:
    status: list[InvitationStatus] | None = strawberry.field(
        default=None, description="Any of these; null or empty for all."
    )


@strawberry.input
class SendAccessInvitationInput:
    partner_slug: str
    scope: AccessScope
    permissions: list[AccessPermission] | None = strawberry.field(
        default=None, description="Required and non-empty when scope = PARTIAL; ignored for FULL."
    )
    message: str | None = strawberry.field(
        default=None, description="At most 2,000 characters; line breaks allowed."
    )


@strawberry.input
class ConnectCustomerInput:
    invitation_id: strawberry.ID
    target: CustomerTarget


@strawberry.input
class DeclineInvitationInput:
    invitation_id: strawberry.ID
    personal_message: str | None = strawberry.field(
        default=None,
        description="Plain text added to the decline e-mail; at most 2,000 characters, line breaks allowed.",
    )


@strawberry.input
class InvitationIdInput:
    invitation_id: strawberry.ID


@strawberry.type
class InvitationPayload:
    invitation: AccessInvitation | None
    customer: Customer | None
    errors: list[UserError]

    @classmethod
    def of(
        cls, invitation: AccessInvitationModel, customer: CustomerModel | None = None
    ) -> InvitationPayload:
        return cls(
            invitation=AccessInvitation.from_model(invitation),
            customer=Customer.from_model(customer) if customer else None,
            errors=[],
        )


@strawberry.type
class DeclineInvitationPayload:
    invitation: AccessInvitation | None
    email: EmailDelivery | None = strawberry.field(description="The queued decline e-mail.")
    errors: list[UserError]


def invitation_pk(global_id: str) -> int:
    return decode_id(global_id, "AccessInvitation", ("invitationId",), what="Invitation")


@strawberry.type
class InvitationQuery:
    @strawberry.field(description="Undecided, unexpired authorizations, newest first.")
    async def pending_invitations(
        self, info: Info, first: int | None = 20, after: str | None = None
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
        first: int | None = 20,
        after: str | None = None,
        filter: InvitationFilter | None = None,
    ) -> AccessInvitationConnection:
        statuses = filter.status if filter else None
        page = await invitations.list_invitations(
            info.context.actor, page_request(first, after), statuses
        )
        return AccessInvitationConnection.of(page)

    @strawberry.field
    async def invitation(self, info: Info, id: strawberry.ID) -> AccessInvitation | None:
        pk = pk_or_none(id, "AccessInvitation")
        found = await invitations.get_partner_invitation(info.context.actor, pk)
        return AccessInvitation.from_model(found) if found else None

    @strawberry.field(
        description="Realm ACCOUNT: the authorizations I sent, newest first (200 at most)."
    )
    async def my_invitations(self, info: Info) -> list[AccessInvitation]:
        found = await invitations.my_invitations(info.context.actor)
        return [AccessInvitation.from_model(invitation) for invitation in found]


@strawberry.type
class InvitationMutation:
    @mutation(description="Realm ACCOUNT: authorize a partner (public profile).")
    async def send_access_invitation(
        self, info: Info, input: SendAccessInvitationInput
    ) -> InvitationPayload:
        settings = info.context.settings
        invitation = await invitations.send_access_invitation(
            info.context.actor, settings.invitation_ttl_days, given_fields(input), settings
        )
        return InvitationPayload.of(invitation)

    @mutation(description="Realm ACCOUNT: take back a PENDING authorization.")
    async def withdraw_invitation(self, info: Info, input: InvitationIdInput) -> InvitationPayload:
        invitation_id = invitation_pk(input.invitation_id)
        return InvitationPayload.of(
            await invitations.withdraw_invitation(info.context.actor, invitation_id)
        )

    @mutation(
        description="Realm ACCOUNT: end a CONNECTED authorization; the partner's customer keeps its data."
    )
    async def revoke_access(self, info: Info, input: InvitationIdInput) -> InvitationPayload:
        invitation_id = invitation_pk(input.invitation_id)
        return InvitationPayload.of(
            await invitations.revoke_access(info.context.actor, invitation_id)
        )

    @mutation(
        description="Accept a PENDING authorization into a new or existing customer; e-mails the account holder."
    )
    async def connect_customer(self, info: Info, input: ConnectCustomerInput) -> InvitationPayload:
        invitation, customer = await invitations.connect_customer(
            info.context.actor,
            invitation_pk(input.invitation_id),
            customer_target(input.target),
        )
        return InvitationPayload.of(invitation, customer)

    @mutation(
        description="Reject a PENDING authorization; the decline e-mail is queued with the decision."
    )
    async def decline_invitation(
        self, info: Info, input: DeclineInvitationInput
    ) -> DeclineInvitationPayload:
        invitation, email = await invitations.decline_invitation(
            info.context.actor, invitation_pk(input.invitation_id), input.personal_message
        )
        return DeclineInvitationPayload(
            invitation=AccessInvitation.from_model(invitation),
            email=EmailDelivery.from_model(email),
            errors=[],
        )
