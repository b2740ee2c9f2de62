"""The agency's team: invitations, joining, roles, removal and the one OWNER.

Who may call what is resolvers/permissions.py's (ADMIN: invite, revoke, remove; OWNER:
roles and ownership); the rules that depend on the target are here. A partner always has
exactly one OWNER: role changes never touch the OWNER's row, the OWNER cannot be removed,
and ownership moves in one transaction whose first step is a conditional UPDATE of the
caller's own row (OWNER -> ADMIN), so of two concurrent transfers only one finds an owner.

A removed member's row stays, so that what they decided, assigned or were assigned still
names them; its address is replaced by a placeholder under the reserved `.invalid` domain
(the person can be invited again, by any partner), its password made unusable, and every
token revoked at once, with their open websockets (SESSIONS_REVOKED {"member_id": id}).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

import events
from config import Settings
from events.activity import record_activity
from mailers.identity_templates import MEMBER_INVITATION
from mailers.outbox import queue_email
from models.activity import ActivityVerb
from models.identity import IdentityToken
from models.partner import MemberRole, Partner, PartnerMember
from models.team import MemberInvitation, MemberInvitationStatus
from resolvers.actor import Actor
from resolvers.auth import IssuedToken, issue_token, revoke_all_tokens
from resolvers.errors import (
    AlreadyProcessed,
    Conflict,
    Expired,
    Forbidden,
    InvalidToken,
    LastOwner,
    NotFound,
    ValidationFailed,
)
from resolvers.password_rules import check_new_password
from resolvers.passwords import hash_password
from resolvers.read_rules import (
    ACTIVE_MEMBERS,
    MEMBER_INVITATIONS,
    MEMBERS,
    PENDING_MEMBER_INVITATIONS,
    selected,
)
from resolvers.validation import Problems, clean_email, clean_language, clean_text
from resolvers.verification import link, lookup_hash, new_secret

MEMBER_PATH = ("memberId",)
INVITATION_PATH = ("memberInvitationId",)
INVITABLE_ROLES = (MemberRole.ADMIN, MemberRole.MEMBER)
# What a removed member's password hash becomes: Argon2 refuses it, so nothing matches.
UNUSABLE_PASSWORD = "!removed"


def _active(actor: Actor) -> QuerySet[PartnerMember]:
    return selected(PartnerMember, actor, ACTIVE_MEMBERS)


def effective_invitation_status(
    invitation: MemberInvitation, now: datetime | None = None
) -> MemberInvitationStatus:
    """PENDING past its expiry reads as EXPIRED."""
    overdue = invitation.expires_at <= (now or datetime.now(UTC))
    if invitation.status == MemberInvitationStatus.PENDING and overdue:
        return MemberInvitationStatus.EXPIRED
    return invitation.status


async def list_members(actor: Actor) -> list[PartnerMember]:
    """The partner's active members, oldest first."""
    return list(await _active(actor).order_by(*(key.field for key in MEMBERS.order())))


async def list_member_invitations(
    actor: Actor, statuses: Sequence[MemberInvitationStatus] | None = None
) -> list[MemberInvitation]:
    """The partner's member invitations, newest first (OWNER and ADMIN; a MEMBER gets none)."""
    member = actor.require_member()
    if member.role == MemberRole.MEMBER:
        return []
    conditions = MEMBER_INVITATIONS.conditions({"statuses": list(statuses or [])})
    query = selected(MemberInvitation, actor, conditions)
    return list(await query.order_by(*(key.field for key in MEMBER_INVITATIONS.order())))


async def get_member_invitation(actor: Actor, invitation_id: int) -> MemberInvitation | None:
    """One of the partner's member invitations (OWNER and ADMIN), or None."""
    member = actor.require_member()
    if member.role == MemberRole.MEMBER:
        return None
    return await selected(MemberInvitation, actor).get_or_none(id=invitation_id)


async def invite_member(
    settings: Settings, actor: Actor, email: str, role: MemberRole, language: str | None = None
) -> MemberInvitation:
    """Invite an address to the team as ADMIN or MEMBER; a pending invitation to the same
    address is replaced (its link stops working)."""
    inviter = actor.require_member()
    problems = Problems()
    address = clean_email(problems, "email", email, required=True)
    language_clean = clean_language(problems, "language", language) or inviter.language
    if role not in INVITABLE_ROLES:
        problems.add("role", "Invite as ADMIN or MEMBER; ownership moves with transferOwnership.")
    problems.raise_if_any()
    assert address is not None
    if await PartnerMember.exists(email=address, removed_at=None):
        raise Conflict("This address already belongs to a partner member.", ("email",))
    partner = await Partner.get(id=inviter.partner_id)
    token, token_hash = new_secret()
    now = datetime.now(UTC)
    hours = settings.member_invitation_ttl_hours
    try:
        async with events.transaction():
            earlier = selected(MemberInvitation, actor).filter(
                email=address, status=MemberInvitationStatus.PENDING
            )
            await earlier.filter(expires_at__lte=now).update(
                status=MemberInvitationStatus.EXPIRED, closed_at=now
            )
            await earlier.update(status=MemberInvitationStatus.REVOKED, closed_at=now)
            invitation = await MemberInvitation.create(
                partner_id=inviter.partner_id,
                email=address,
                role=role,
                language=language_clean,
                token_hash=token_hash,
                invited_by_id=inviter.id,
                expires_at=now + timedelta(hours=hours),
            )
            await queue_email(
                template=MEMBER_INVITATION,
                language=language_clean,
                to_address=address,
                to_name=None,
                values={
                    "inviter": inviter.name,
                    "partner": partner.display_name,
                    "role": role.value,
                    "link": link(settings, "accept-invitation", token),
                    "hours": str(hours),
                },
                partner_id=partner.id,
            )
            await record_activity(
                partner.id,
                ActivityVerb.MEMBER_INVITED,
                f"{address} invited to the team as {role.value}",
                actor=actor,
                subject=("MemberInvitation", invitation.id),
            )
    except IntegrityError:  # a concurrent invitation to the same address won
        raise Conflict("This address was just invited; try again.", ("email",)) from None
    return invitation


async def revoke_member_invitation(actor: Actor, invitation_id: int) -> MemberInvitation:
    """Withdraw a pending member invitation; its link stops working."""
    invitation = await get_member_invitation(actor, invitation_id)
    if invitation is None:
        raise NotFound("Member invitation", INVITATION_PATH)
    status = effective_invitation_status(invitation)
    if status == MemberInvitationStatus.EXPIRED:
        raise Expired("This invitation has expired already.", INVITATION_PATH)
    revoked = (
        await selected(MemberInvitation, actor, PENDING_MEMBER_INVITATIONS)
        .filter(id=invitation.id)
        .update(status=MemberInvitationStatus.REVOKED, closed_at=datetime.now(UTC))
    )
    if not revoked:
        raise AlreadyProcessed(
            f"This invitation is no longer pending (status {status.value}).", INVITATION_PATH
        )
    return await MemberInvitation.get(id=invitation.id)


async def accept_member_invitation(
    settings: Settings, token: str, name: str, password: str
) -> IssuedToken:
    """Join the team with the e-mail's token: the member is created (their address is
    verified: the token reached it) and signed in. One token makes one member."""
    token_hash = lookup_hash(token)
    invitation = None
    if token_hash is not None:
        invitation = await MemberInvitation.get_or_none(
            token_hash=token_hash,
            status=MemberInvitationStatus.PENDING,
            expires_at__gt=datetime.now(UTC),
        )
    if invitation is None:
        raise InvalidToken()
    problems = Problems()
    name_clean = clean_text(problems, "name", name, max_length=200, required=True, label="Name")
    check_new_password(problems, "password", password, invitation.email)
    problems.raise_if_any()
    if await PartnerMember.exists(email=invitation.email, removed_at=None):
        raise Conflict("This address already belongs to a partner member.", ("token",))
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    try:
        async with events.transaction():
            won = await MemberInvitation.filter(
                id=invitation.id, status=MemberInvitationStatus.PENDING, expires_at__gt=now
            ).update(status=MemberInvitationStatus.ACCEPTED, closed_at=now)
            if not won:
                raise InvalidToken()
            member = await PartnerMember.create(
                partner_id=invitation.partner_id,
                email=invitation.email,
                name=name_clean,
                role=invitation.role,
                language=invitation.language,
                password_hash=password_hash,
                email_verified_at=now,
            )
            await MemberInvitation.filter(id=invitation.id).update(member_id=member.id)
            joined = Actor(member=member)
            await record_activity(
                member.partner_id,
                ActivityVerb.MEMBER_JOINED,
                f"{member.name} joined the team as {member.role.value}",
                actor=joined,
                subject=("PartnerMember", member.id),
            )
            return await issue_token(settings.token_ttl_hours, member=member)
    except IntegrityError:  # another partner's invitation to this address was accepted first
        raise Conflict("This address already belongs to a partner member.", ("token",)) from None


async def _require_active_member(actor: Actor, member_id: int) -> PartnerMember:
    member = await _active(actor).get_or_none(id=member_id)
    if member is None:
        raise NotFound("Member", MEMBER_PATH)
    return member


async def _still_owner(actor: Actor) -> None:
    """Inside the transaction: the caller is still the OWNER; their row stays locked until
    commit (PostgreSQL), so a concurrent transfer waits for this change."""
    caller = actor.require_member()
    held = (
        await _active(actor)
        .filter(id=caller.id, role=MemberRole.OWNER)
        .update(role=MemberRole.OWNER)
    )
    if not held:
        raise Forbidden("Only the partner's OWNER can do this.")


async def change_member_role(actor: Actor, member_id: int, role: MemberRole) -> PartnerMember:
    """Make a member ADMIN or MEMBER (OWNER only); the OWNER's own role moves only by transfer."""
    target = await _require_active_member(actor, member_id)
    if role not in INVITABLE_ROLES:
        raise ValidationFailed.at(
            ("role",), "Role must be ADMIN or MEMBER; ownership moves with transferOwnership."
        )
    if target.role == MemberRole.OWNER:
        raise LastOwner(
            "The partner would be left without an owner: transfer ownership first.", MEMBER_PATH
        )
    if target.role == role:
        return target
    async with events.transaction():
        await _still_owner(actor)
        changed = (
            await _active(actor).filter(id=target.id, role__not=MemberRole.OWNER).update(role=role)
        )
        if not changed:
            raise LastOwner("This member has become the owner meanwhile.", MEMBER_PATH)
        await record_activity(
            target.partner_id,
            ActivityVerb.MEMBER_ROLE_CHANGED,
            f"{target.name} is now {role.value} (was {target.role.value})",
            actor=actor,
            subject=("PartnerMember", target.id),
        )
    return await PartnerMember.get(id=target.id)


async def remove_member(actor: Actor, member_id: int) -> None:
    """Remove a member (OWNER or ADMIN; never the OWNER): signed out everywhere at once."""
    caller = actor.require_member()
    target = await _require_active_member(actor, member_id)
    if target.role == MemberRole.OWNER:
        if target.id == caller.id:
            raise LastOwner(
                "The partner would be left without an owner: transfer ownership first.",
                MEMBER_PATH,
            )
        raise Forbidden("An admin cannot remove the partner's owner.", MEMBER_PATH)
    now = datetime.now(UTC)
    async with events.transaction():
        removed = (
            await _active(actor)
            .filter(id=target.id, role__not=MemberRole.OWNER)
            .update(
                removed_at=now,
                email=f"removed-{target.id}@removed.invalid",
                password_hash=UNUSABLE_PASSWORD,
            )
        )
        if not removed:
            raise NotFound("Member", MEMBER_PATH)
        await revoke_all_tokens(target)
        await IdentityToken.filter(member_id=target.id, used_at=None, revoked_at=None).update(
            revoked_at=now
        )
        await record_activity(
            target.partner_id,
            ActivityVerb.MEMBER_REMOVED,
            f"{target.name} was removed from the team",
            actor=actor,
            subject=("PartnerMember", target.id),
        )


async def transfer_ownership(actor: Actor, member_id: int) -> PartnerMember:
    """Make another active member the OWNER; the caller becomes ADMIN."""
    caller = actor.require_member()
    target = await _require_active_member(actor, member_id)
    if target.id == caller.id:
        raise ValidationFailed.at(MEMBER_PATH, "You are the owner already.")
    async with events.transaction():
        demoted = (
            await _active(actor)
            .filter(id=caller.id, role=MemberRole.OWNER)
            .update(role=MemberRole.ADMIN)
        )
        if not demoted:
            raise Forbidden("Only the partner's OWNER can do this.")
        promoted = await _active(actor).filter(id=target.id).update(role=MemberRole.OWNER)
        if not promoted:
            raise NotFound("Member", MEMBER_PATH)
        await record_activity(
            target.partner_id,
            ActivityVerb.OWNERSHIP_TRANSFERRED,
            f"{caller.name} handed ownership to {target.name}",
            actor=actor,
            subject=("PartnerMember", target.id),
        )
    return await PartnerMember.get(id=target.id)
