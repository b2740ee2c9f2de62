"""The agency's team: member invitations, roles, removal, ownership, notification preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import team as models
from models.partner import MemberRole
from models.team import MemberInvitationStatus
from resolvers import notifications, team
from schema.auth import PASSWORD_RULES, AuthPayload, OkPayload
from schema.context import Info
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import decode_id, pk_or_no_row, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember
from schema.relay import Node


@strawberry.type(description="An invitation to join a partner's team, sent by e-mail.")
class MemberInvitation(Node):
    email: str = strawberry.field(description="The invited address, lower case.")
    role: MemberRole = strawberry.field(description="The role they get: ADMIN or MEMBER.")
    status: MemberInvitationStatus = strawberry.field(
        description="PENDING past its expiry reads as EXPIRED."
    )
    created_at: datetime = strawberry.field(description="When it was sent.")
    expires_at: datetime = strawberry.field(
        description="When its link stops working (7 days after sending, by default)."
    )
    _invited_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, invitation: models.MemberInvitation) -> MemberInvitation:
        return cls(
            id=to_global_id("MemberInvitation", invitation.id),
            email=invitation.email,
            role=invitation.role,
            status=team.effective_invitation_status(invitation),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            _invited_by_id=invitation.invited_by_id,
        )

    @strawberry.field(description="The member who sent it.")
    async def invited_by(self, info: Info) -> PartnerMember | None:
        if self._invited_by_id is None:
            return None
        found = await info.context.loaders.member.load(self._invited_by_id)
        return PartnerMember.from_model(found) if found else None


@strawberry.type(description="The result of inviting a member or revoking an invitation.")
class MemberInvitationPayload:
    member_invitation: MemberInvitation | None = strawberry.field(
        description="The invitation as it is now."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


@strawberry.type(description="The result of a change to a member.")
class MemberPayload:
    member: PartnerMember | None = strawberry.field(description="The member as it is now.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def of(cls, member: object) -> MemberPayload:
        return cls(member=PartnerMember.from_model(member), errors=[])  # type: ignore[arg-type]


@strawberry.input(description="Whom to invite, and as what.")
class InviteMemberInput:
    email: str = strawberry.field(
        description="Their address; CONFLICT if it belongs to a partner member already."
    )
    role: MemberRole = strawberry.field(description="ADMIN or MEMBER; OWNER only by transfer.")
    language: str | None = strawberry.field(
        default=None,
        description="Language of the invitation e-mail and of the new member's e-mails "
        "(default: the inviter's).",
    )


@strawberry.input(description="Which member invitation.")
class MemberInvitationIdInput:
    member_invitation_id: strawberry.ID = strawberry.field(description="Its global id.")


@strawberry.input(description="Joining a team: the invitation's token, and the new login.")
class AcceptMemberInvitationInput:
    token: str = strawberry.field(
        description="From the invitation e-mail's link: /accept-invitation?token=…"
    )
    name: str = strawberry.field(description="Your name, at most 200 characters.")
    password: str = strawberry.field(description=PASSWORD_RULES)


@strawberry.input(description="Which member.")
class MemberIdInput:
    member_id: strawberry.ID = strawberry.field(description="The PartnerMember's global id.")


@strawberry.input(description="A member and their new role.")
class ChangeMemberRoleInput:
    member_id: strawberry.ID = strawberry.field(description="The PartnerMember's global id.")
    role: MemberRole = strawberry.field(description="ADMIN or MEMBER.")


@strawberry.input(description="Only the fields given change; null leaves a field as it is.")
class NotificationPreferencesInput:
    new_inquiry: bool | None = strawberry.field(
        default=strawberry.UNSET, description="E-mail me when an inquiry arrives."
    )
    new_invitation: bool | None = strawberry.field(
        default=strawberry.UNSET, description="E-mail me when an access authorization arrives."
    )
    expiry_reminder: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="E-mail me when a pending authorization expires within 3 days.",
    )
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description='Language of my e-mails ("en", "de", "it", ...).'
    )


def _member_pk(global_id: str) -> int:
    return decode_id(global_id, "PartnerMember", ("memberId",), "Member")


@strawberry.type
class TeamMutation:
    @mutation(
        description="Invite an address to the team by e-mail; a pending invitation to the same "
        "address is replaced."
    )
    async def invite_member(
        self,
        info: Info,
        input: Annotated[InviteMemberInput, strawberry.argument(description="Whom, as what.")],
    ) -> MemberInvitationPayload:
        invitation = await team.invite_member(
            info.context.settings, info.context.actor, input.email, input.role, input.language
        )
        return MemberInvitationPayload(
            member_invitation=MemberInvitation.from_model(invitation), errors=[]
        )

    @mutation(description="Withdraw a pending member invitation; its link stops working.")
    async def revoke_member_invitation(
        self,
        info: Info,
        input: Annotated[
            MemberInvitationIdInput, strawberry.argument(description="Which invitation.")
        ],
    ) -> MemberInvitationPayload:
        invitation_pk = pk_or_no_row(input.member_invitation_id, "MemberInvitation")
        invitation = await team.revoke_member_invitation(info.context.actor, invitation_pk)
        return MemberInvitationPayload(
            member_invitation=MemberInvitation.from_model(invitation), errors=[]
        )

    @mutation(
        description="Join the team with the invitation e-mail's token (single use); signs in."
    )
    async def accept_member_invitation(
        self,
        info: Info,
        input: Annotated[
            AcceptMemberInvitationInput,
            strawberry.argument(description="The token, name and password."),
        ],
    ) -> AuthPayload:
        issued = await team.accept_member_invitation(
            info.context.settings, input.token, input.name, input.password
        )
        return AuthPayload.issued(issued)

    @mutation(description="Make a member ADMIN or MEMBER.")
    async def change_member_role(
        self,
        info: Info,
        input: Annotated[
            ChangeMemberRoleInput, strawberry.argument(description="The member and role.")
        ],
    ) -> MemberPayload:
        member_pk = _member_pk(input.member_id)
        return MemberPayload.of(
            await team.change_member_role(info.context.actor, member_pk, input.role)
        )

    @mutation(
        description="Remove a member other than the OWNER; signs them out everywhere at once."
    )
    async def remove_member(
        self,
        info: Info,
        input: Annotated[MemberIdInput, strawberry.argument(description="Which member.")],
    ) -> OkPayload:
        await team.remove_member(info.context.actor, _member_pk(input.member_id))
        return OkPayload(ok=True, errors=[])

    @mutation(description="Hand ownership to another member; the old owner becomes ADMIN.")
    async def transfer_ownership(
        self,
        info: Info,
        input: Annotated[MemberIdInput, strawberry.argument(description="The new owner.")],
    ) -> MemberPayload:
        member_pk = _member_pk(input.member_id)
        return MemberPayload.of(await team.transfer_ownership(info.context.actor, member_pk))

    @mutation(description="Change my own notification preferences (and e-mail language).")
    async def update_notification_preferences(
        self,
        info: Info,
        input: Annotated[
            NotificationPreferencesInput, strawberry.argument(description="What to change.")
        ],
    ) -> MemberPayload:
        member = await notifications.update_notification_preferences(
            info.context.actor, given_fields(input)
        )
        return MemberPayload.of(member)
