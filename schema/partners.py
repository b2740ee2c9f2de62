"""Partners, their public profile and their members."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import partner as models
from models.notification import NotificationKind
from models.partner import MemberRole
from models.team import MemberInvitationStatus
from resolvers import inquiries, invitations, partners, team
from resolvers.notifications import preferences_of
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import Node

if TYPE_CHECKING:
    from schema.team import MemberInvitation
    from schema.webhooks import WebhookEndpoint

strawberry.enum(MemberRole)
strawberry.enum(MemberInvitationStatus)


@strawberry.type(description="What visitors see on a partner's public page.")
class PartnerProfile:
    slug: str
    display_name: str
    headline: str | None
    description: str | None
    city: str | None
    services: list[str]
    is_public: bool

    @classmethod
    def from_model(cls, partner: models.Partner) -> PartnerProfile:
        return cls(
            slug=partner.slug,
            display_name=partner.display_name,
            headline=partner.headline,
            description=partner.description,
            city=partner.city,
            services=list(partner.services or []),
            is_public=partner.is_public,
        )


@strawberry.type(description="A web agency using PartnerDesk.")
class Partner(Node):
    slug: str
    name: str
    profile: PartnerProfile
    _pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, partner: models.Partner) -> Partner:
        return cls(
            id=to_global_id("Partner", partner.id),
            slug=partner.slug,
            name=partner.name,
            profile=PartnerProfile.from_model(partner),
            _pk=partner.id,
        )

    @strawberry.field(description='Pending access authorizations: the badge next to "Customers".')
    async def pending_invitation_count(self, info: Info) -> int:
        return await invitations.pending_invitation_count(info.context.actor)

    @strawberry.field(description="Inquiries still NEW.")
    async def new_inquiry_count(self, info: Info) -> int:
        return await inquiries.new_inquiry_count(info.context.actor)

    @strawberry.field(description="The team: active members, oldest first.")
    async def members(self, info: Info) -> list[PartnerMember]:
        return [PartnerMember.from_model(m) for m in await team.list_members(info.context.actor)]

    @strawberry.field(
        description="Where its events are sent (OWNER / ADMIN see them; a MEMBER gets [])."
    )
    async def webhook_endpoints(
        self, info: Info
    ) -> list[Annotated[WebhookEndpoint, strawberry.lazy("schema.webhooks")]]:
        from schema.webhooks import endpoints_of_partner

        return await endpoints_of_partner(info)

    @strawberry.field(
        description="Invitations to join the team, newest first (PENDING past its expiry reads "
        "as EXPIRED). OWNER and ADMIN see them; a MEMBER gets []."
    )
    async def member_invitations(
        self, info: Info, status: list[MemberInvitationStatus] | None = None
    ) -> list[Annotated[MemberInvitation, strawberry.lazy("schema.team")]]:
        from schema.team import MemberInvitation

        found = await team.list_member_invitations(info.context.actor, status)
        return [MemberInvitation.from_model(invitation) for invitation in found]


@strawberry.type(
    description="A person working for a partner. A removed member still appears where they "
    "decided, assigned or were assigned something, with their name, an empty e-mail and "
    "`removedAt`; `Partner.members` lists active members only."
)
class PartnerMember(Node):
    email: str
    name: str
    role: MemberRole
    email_verified: bool = strawberry.field(
        description="Whether the member has proved the address (a verification link, or "
        "joining through an invitation e-mail)."
    )
    joined_at: datetime
    removed_at: datetime | None = strawberry.field(description="Set once removed from the team.")
    _partner_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, member: models.PartnerMember) -> PartnerMember:
        return cls(
            id=to_global_id("PartnerMember", member.id),
            email="" if member.removed_at else member.email,
            name=member.name,
            role=member.role,
            email_verified=member.email_verified_at is not None,
            joined_at=member.created_at,
            removed_at=member.removed_at,
            _partner_id=member.partner_id,
        )

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        return Partner.from_model(await info.context.loaders.partner.load(self._partner_id))


@strawberry.type(
    description="Which e-mails a member wants (defaults: on for OWNER/ADMIN, off for MEMBER)."
)
class NotificationPreferences:
    new_inquiry: bool = strawberry.field(description="E-mail me when an inquiry arrives.")
    new_invitation: bool = strawberry.field(
        description="E-mail me when an access authorization arrives."
    )
    expiry_reminder: bool = strawberry.field(
        description="E-mail me when a pending authorization expires within 3 days."
    )
    language: str = strawberry.field(description="The language of my e-mails.")

    @classmethod
    def of(cls, member: models.PartnerMember) -> NotificationPreferences:
        wanted = preferences_of(member)
        return cls(
            new_inquiry=wanted[NotificationKind.NEW_INQUIRY],
            new_invitation=wanted[NotificationKind.NEW_INVITATION],
            expiry_reminder=wanted[NotificationKind.EXPIRY_REMINDER],
            language=member.language,
        )


@strawberry.input
class PartnerProfileInput:
    display_name: str | None = strawberry.UNSET
    headline: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    services: list[str] | None = strawberry.UNSET
    is_public: bool | None = strawberry.UNSET


@strawberry.type
class PartnerProfilePayload:
    profile: PartnerProfile | None
    errors: list[UserError]


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="A partner's public profile; null unless the profile is public.")
    async def partner_profile(self, slug: str) -> PartnerProfile | None:
        partner = await partners.public_profile(slug)
        return PartnerProfile.from_model(partner) if partner else None


@strawberry.type
class PartnerMutation:
    @mutation(description="Edit the public profile (OWNER or ADMIN).")
    async def update_partner_profile(
        self, info: Info, input: PartnerProfileInput
    ) -> PartnerProfilePayload:
        partner = await partners.update_partner_profile(info.context.actor, given_fields(input))
        return PartnerProfilePayload(profile=PartnerProfile.from_model(partner), errors=[])


PartnerRef = Annotated["Partner", strawberry.lazy("schema.partners")]
