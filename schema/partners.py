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
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import Node

if TYPE_CHECKING:
    from schema.team import MemberInvitation
    from schema.webhooks import WebhookEndpoint

register_enum(
    MemberRole,
    "A partner member's role; a partner has exactly one OWNER.",
    {
        "OWNER": "What an ADMIN may, plus changing roles and handing ownership over.",
        "ADMIN": "What a MEMBER may, plus the public profile, inviting and removing members, "
        "webhooks and erasing customers.",
        "MEMBER": "Works with customers, items, inquiries, access authorizations, imports and "
        "exports.",
    },
)
register_enum(
    MemberInvitationStatus,
    "Where an invitation to join the team stands.",
    {
        "PENDING": "Sent, not used yet, not expired.",
        "ACCEPTED": "Used: the invited person joined the team.",
        "REVOKED": "Withdrawn, or replaced by a newer invitation to the same address.",
        "EXPIRED": "Not used in time.",
    },
)


@strawberry.type(description="What visitors see on a partner's public page.")
class PartnerProfile:
    slug: str = strawberry.field(
        description="Its address: 3-63 lower-case letters, digits or hyphens."
    )
    display_name: str = strawberry.field(description="The name visitors see.")
    headline: str | None = strawberry.field(description="One line under the name.")
    description: str | None = strawberry.field(description="About the partner, multi-line.")
    city: str | None = strawberry.field(description="Where the partner is.")
    services: list[str] = strawberry.field(description="What the partner offers, in its order.")
    is_public: bool = strawberry.field(
        description="Whether visitors see it and may send inquiries and access authorizations."
    )

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
    slug: str = strawberry.field(description="Unique; the address of its public profile.")
    name: str = strawberry.field(
        description="The name it registered with; the profile's displayName may differ."
    )
    profile: PartnerProfile = strawberry.field(description="Its public profile, also while hidden.")
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
        self,
        info: Info,
        status: Annotated[
            list[MemberInvitationStatus] | None,
            strawberry.argument(description="Any of these statuses; null or empty: all."),
        ] = None,
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
    email: str = strawberry.field(
        description="Login e-mail address, lower case; empty once removed."
    )
    name: str = strawberry.field(description="Their name.")
    role: MemberRole = strawberry.field(description="OWNER, ADMIN or MEMBER.")
    email_verified: bool = strawberry.field(
        description="Whether the member has proved the address (a verification link, or "
        "joining through an invitation e-mail)."
    )
    joined_at: datetime = strawberry.field(
        description="When they registered the partner or accepted their invitation."
    )
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

    @strawberry.field(description="The partner they work for.")
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


@strawberry.input(
    description="Only the fields given change; null clears headline, description and city, "
    "and empties services. Text is trimmed."
)
class PartnerProfileInput:
    display_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 200 characters; not null."
    )
    headline: str | None = strawberry.field(
        default=strawberry.UNSET, description="One line, at most 200 characters."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Multi-line, at most 5,000 characters."
    )
    city: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 100 characters."
    )
    services: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the list: at most 30, of at most 80 characters; duplicates are "
        "dropped.",
    )
    is_public: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="true shows the profile to visitors and opens it to inquiries and "
        "authorizations; not null.",
    )


@strawberry.type(description="The result of updatePartnerProfile.")
class PartnerProfilePayload:
    profile: PartnerProfile | None = strawberry.field(description="The profile as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


@strawberry.type
class PartnerQuery:
    @strawberry.field(
        description="A partner's public profile, for anyone (no token needed); null unless the "
        "profile is public."
    )
    async def partner_profile(
        self,
        slug: Annotated[
            str, strawberry.argument(description="The profile's address, in any case.")
        ],
    ) -> PartnerProfile | None:
        partner = await partners.public_profile(slug)
        return PartnerProfile.from_model(partner) if partner else None


@strawberry.type
class PartnerMutation:
    @mutation(description="Edit the partner's public profile.")
    async def update_partner_profile(
        self,
        info: Info,
        input: Annotated[
            PartnerProfileInput, strawberry.argument(description="The fields to change.")
        ],
    ) -> PartnerProfilePayload:
        partner = await partners.update_partner_profile(info.context.actor, given_fields(input))
        return PartnerProfilePayload(profile=PartnerProfile.from_model(partner), errors=[])


PartnerRef = Annotated["Partner", strawberry.lazy("schema.partners")]
