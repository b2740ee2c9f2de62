"""The agency's team: member invitations, roles, removal, ownership, notification preferences."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import team as models
from models.partner import MemberRole
from models.team import MemberInvitationStatus
from resolvers import notifications, team
from schema.auth import AuthPayload, OkPayload
from schema.context import Info
from schema.errors import UserError
from schema.ids import decode_id, pk_or_no_row, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.partners import PartnerMember
from schema.relay import Node


@strawberry.type(description="An invitation to join a partner's team, sent by e-mail.")
class MemberInvitation(Node):
    email: str
    role: MemberRole
    status: MemberInvitationStatus = strawberry.field(
        description="PENDING past its expiry reads as EXPIRED."
    )
    created_at: datetime
    expires_at: datetime
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

    @strawberry.field
    async def invited_by(self, info: Info) -> PartnerMember | None:
        if self._invited_by_id is None:
            return None
        found = await info.context.loaders.member.load(self._invited_by_id)
        return PartnerMember.from_model(found) if found else None


@strawberry.type
class MemberInvitationPayload:
    member_invitation: MemberInvitation | None
    errors: list[UserError]


@strawberry.type
class MemberPayload:
    member: PartnerMember | None
    errors: list[UserError]

    @classmethod
    def of(cls, member: object) -> MemberPayload:
        return cls(member=PartnerMember.from_model(member), errors=[])  # type: ignore[arg-type]


@strawberry.input
class InviteMemberInput:
    email: str
    role: MemberRole = strawberry.field(description="ADMIN or MEMBER; OWNER only by transfer.")
    language: str | None = strawberry.field(
        default=None,
        description="Language of the invitation e-mail and of the new member's e-mails "
        "(default: the inviter's).",
    )


@strawberry.input
class MemberInvitationIdInput:
    member_invitation_id: strawberry.ID


@strawberry.input
class AcceptMemberInvitationInput:
    token: str = strawberry.field(description="From the invitation e-mail's link.")
    name: str
    password: str = strawberry.field(
        description="12-128 characters, not the e-mail address, not a common password."
    )


@strawberry.input
class MemberIdInput:
    member_id: strawberry.ID


@strawberry.input
class ChangeMemberRoleInput:
    member_id: strawberry.ID
    role: MemberRole = strawberry.field(description="ADMIN or MEMBER.")


@strawberry.input
class NotificationPreferencesInput:
    new_inquiry: bool | None = strawberry.UNSET
    new_invitation: bool | None = strawberry.UNSET
    expiry_reminder: bool | None = strawberry.UNSET
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description='Language of my e-mails ("en", "de", "it", ...).'
    )


def _member_pk(global_id: str) -> int:
    return decode_id(global_id, "PartnerMember", ("memberId",), "Member")


@strawberry.type
class TeamMutation:
    @mutation(description="Invite an address to the team (OWNER / ADMIN); replaces a pending one.")
    async def invite_member(self, info: Info, input: InviteMemberInput) -> MemberInvitationPayload:
        invitation = await team.invite_member(
            info.context.settings, info.context.actor, input.email, input.role, input.language
        )
        return MemberInvitationPayload(
            member_invitation=MemberInvitation.from_model(invitation), errors=[]
        )

    @mutation(description="Withdraw a pending member invitation (OWNER / ADMIN).")
    async def revoke_member_invitation(
        self, info: Info, input: MemberInvitationIdInput
    ) -> MemberInvitationPayload:
        invitation_pk = pk_or_no_row(input.member_invitation_id, "MemberInvitation")
        invitation = await team.revoke_member_invitation(info.context.actor, invitation_pk)
        return MemberInvitationPayload(
            member_invitation=MemberInvitation.from_model(invitation), errors=[]
        )

    @mutation(description="Public: join the team with the invitation e-mail's token; signs in.")
    async def accept_member_invitation(
        self, info: Info, input: AcceptMemberInvitationInput
    ) -> AuthPayload:
        issued = await team.accept_member_invitation(
            info.context.settings, input.token, input.name, input.password
        )
        return AuthPayload.issued(issued)

    @mutation(description="Make a member ADMIN or MEMBER (OWNER only).")
    async def change_member_role(self, info: Info, input: ChangeMemberRoleInput) -> MemberPayload:
        member_pk = _member_pk(input.member_id)
        return MemberPayload.of(
            await team.change_member_role(info.context.actor, member_pk, input.role)
        )

    @mutation(description="Remove a member (OWNER / ADMIN); signs them out everywhere at once.")
    async def remove_member(self, info: Info, input: MemberIdInput) -> OkPayload:
        await team.remove_member(info.context.actor, _member_pk(input.member_id))
        return OkPayload(ok=True, errors=[])

    @mutation(description="Hand ownership to another member (OWNER); the old owner becomes ADMIN.")
    async def transfer_ownership(self, info: Info, input: MemberIdInput) -> MemberPayload:
        member_pk = _member_pk(input.member_id)
        return MemberPayload.of(await team.transfer_ownership(info.context.actor, member_pk))

    @mutation(description="Change my own notification preferences (and e-mail language).")
    async def update_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> MemberPayload:
        member = await notifications.update_notification_preferences(
            info.context.actor, given_fields(input)
        )
        return MemberPayload.of(member)
