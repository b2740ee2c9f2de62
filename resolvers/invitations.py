"""Access authorizations: send, list, withdraw, revoke; the partner's decisions on them (connect,
decline) are in resolvers/decisions.py.

Every decision is a conditional UPDATE from the state it leaves (PENDING, CONNECTED):
of any number of concurrent callers exactly one changes the row, on SQLite and on
PostgreSQL alike, and only that one goes on to write the customer, e-mail and activity.

Expiry is a state change, written where state changes: the periodic sweep
(resolvers/housekeeping.py) and a decision that finds its invitation overdue turn overdue
PENDING rows into EXPIRED, with their activity row. Reads never write: they show a PENDING
row past its expiry as EXPIRED (`effective_status`, and the read rules' status filter), so
what a client reads is always right, swept or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

import events
from config import Settings
from events.activity import record_activity
from models.account import AccountHolder
from models.activity import ActivityVerb
from models.invitation import (
    LIVE_STATUSES,
    AccessInvitation,
    AccessPermission,
    AccessScope,
    InvitationStatus,
)
from models.outbox import EmailDelivery
from resolvers.actor import Actor
from resolvers.errors import (
    AlreadyProcessed,
    Conflict,
    DomainError,
    EmailNotVerified,
    Expired,
    NotFound,
    ProfileNotPublic,
)
from resolvers.notifications import notify_invitation_received
from resolvers.pagination import Page, PageRequest, keyset_page
from resolvers.partners import public_profile
from resolvers.rate_limits import Limit, enforce
from resolvers.read_rules import (
    INVITATIONS,
    PENDING_INVITATIONS,
    scoped,
    selected,
    tenant,
)
from resolvers.validation import Problems, clean_text

MESSAGE_MAX_LENGTH = 2000
MY_INVITATIONS_LIMIT = 200
INVITATION_PATH = ("invitationId",)
ALL_PERMISSIONS = [permission.value for permission in AccessPermission]


def effective_status(invitation: AccessInvitation, now: datetime | None = None) -> InvitationStatus:
    """The status a client sees: PENDING past its expiry is EXPIRED, swept or not."""
    overdue = invitation.expires_at <= (now or datetime.now(UTC))
    if invitation.status == InvitationStatus.PENDING and overdue:
        return InvitationStatus.EXPIRED
    return invitation.status


async def expire_overdue(candidates: QuerySet[AccessInvitation] | None = None) -> int:
    """Turn overdue PENDING invitations (of `candidates`, else all) into EXPIRED, each with its
    activity row; how many. Safe to run concurrently: each row is expired once."""
    now = datetime.now(UTC)
    query = (candidates if candidates is not None else AccessInvitation.all()).filter(
        status=InvitationStatus.PENDING, expires_at__lte=now
    )
    overdue = await query.order_by("id").values("id", "partner_id", "expires_at", "account__name")
    if not overdue:
        return 0
    expired = 0
    async with events.transaction():
        for row in overdue:
            # Conditional: of two concurrent sweeps only one records the expiry.
            changed = await AccessInvitation.filter(
                id=row["id"], status=InvitationStatus.PENDING
            ).update(status=InvitationStatus.EXPIRED, closed_at=row["expires_at"])
            if changed:
                expired += 1
                await record_activity(
                    row["partner_id"],
                    ActivityVerb.INVITATION_EXPIRED,
                    f"Access authorization from {row['account__name']} expired",
                    subject=("AccessInvitation", row["id"]),
                )
    return expired


async def pending_invitation_count(actor: Actor) -> int:
    """The badge: PENDING authorizations that have not expired yet."""
    actor.require_member()
    return await selected(AccessInvitation, actor, PENDING_INVITATIONS).count()


def _clean_permissions(
    problems: Problems, scope: AccessScope | None, permissions: list[Any] | None
) -> list[str]:
    if scope is None:
        problems.add("scope", "scope must be FULL or PARTIAL.")
        return []
    if scope == AccessScope.FULL:
        return list(ALL_PERMISSIONS)
    wanted = {AccessPermission(permission).value for permission in permissions or []}
    if not wanted:
        problems.add("permissions", "A PARTIAL authorization needs at least one permission.")
    return [permission for permission in ALL_PERMISSIONS if permission in wanted]


async def send_access_invitation(
    actor: Actor, ttl_days: int, given: Mapping[str, Any], settings: Settings | None = None
) -> AccessInvitation:
    """A verified account holder authorizes a partner (public profile) for `ttl_days`; the
    partner's team is e-mailed as each member asked."""
    account = actor.require_account()
    if account.email_verified_at is None:
        raise EmailNotVerified("Confirm your e-mail address first (the link we sent you).")
    await enforce((Limit.INVITATION_PER_ACCOUNT, account.id))
    partner = await public_profile(given.get("partner_slug") or "")
    if partner is None:
        raise ProfileNotPublic(
            "This partner does not take authorizations: the profile is not public.",
            ("partnerSlug",),
        )
    problems = Problems()
    scope = given.get("scope")
    permissions = _clean_permissions(problems, scope, given.get("permissions"))
    message = clean_text(
        problems,
        "message",
        given.get("message"),
        max_length=MESSAGE_MAX_LENGTH,
        multiline=True,
        label="Message",
    )
    problems.raise_if_any()
    assert scope is not None
    # An overdue PENDING row still holds the live-authorization unique index until swept.
    await expire_overdue(scoped(AccessInvitation, actor))
    now = datetime.now(UTC)
    try:
        async with events.transaction():
            invitation = await AccessInvitation.create(
                partner_id=partner.id,
                account_id=account.id,
                requester_name=account.name,
                scope=scope,
                permissions=permissions,
                message=message,
                expires_at=now + timedelta(days=ttl_days),
            )
            await record_activity(
                partner.id,
                ActivityVerb.INVITATION_RECEIVED,
                f"Access authorization ({scope.value}) received from {account.name}",
                actor=actor,
                subject=("AccessInvitation", invitation.id),
            )
            await notify_invitation_received(settings, invitation, account)
    except IntegrityError:
        raise Conflict(
            "You already have a pending or connected authorization with this partner.",
            ("partnerSlug",),
        ) from None
    return invitation


async def list_pending_invitations(actor: Actor, page: PageRequest) -> Page[AccessInvitation]:
    """The partner's undecided, unexpired authorizations, newest first."""
    actor.require_member()
    query = selected(AccessInvitation, actor, PENDING_INVITATIONS)
    return await keyset_page(query, INVITATIONS.order(), page)


async def list_invitations(
    actor: Actor, page: PageRequest, statuses: list[InvitationStatus] | None = None
) -> Page[AccessInvitation]:
    """The partner's authorizations in any (or the given, as clients see them) status, newest first."""
    actor.require_member()
    query = selected(AccessInvitation, actor, INVITATIONS.conditions({"statuses": statuses}))
    return await keyset_page(query, INVITATIONS.order(), page)


async def get_invitation(actor: Actor, invitation_id: int | None) -> AccessInvitation | None:
    """The invitation if the caller is its account holder or a member of its partner, else None."""
    invitations = scoped(AccessInvitation, actor)
    return None if invitation_id is None else await invitations.get_or_none(id=invitation_id)


async def get_partner_invitation(
    actor: Actor, invitation_id: int | None
) -> AccessInvitation | None:
    """The partner's invitation (partner members only), or None."""
    actor.require_member()
    return await get_invitation(actor, invitation_id)


async def my_invitations(actor: Actor) -> list[AccessInvitation]:
    """The authorizations the signed-in account holder sent, newest first."""
    actor.require_account()
    query = scoped(AccessInvitation, actor)
    return list(await query.order_by("-id").limit(MY_INVITATIONS_LIMIT))


def requester_visible(
    actor: Actor, partner_id: int, account_id: int, status: InvitationStatus
) -> bool:
    """Whether `actor` may read the account holder behind an authorization in (effective)
    `status`: the account holder always; its partner's members only while it is live.

    Once it is withdrawn, declined, expired or revoked, the partner keeps the name it was
    sent with (requester_name) and nothing that identifies the account.
    """
    column, value = tenant(AccessInvitation, actor)
    if column == "account_id":
        return value == account_id
    return value == partner_id and status in LIVE_STATUSES


async def requester_of_partner(actor: Actor, account_id: int) -> AccountHolder | None:
    """An account holder, while they have a live authorization (PENDING and unexpired, or
    CONNECTED) with the signed-in member's partner."""
    actor.require_member()
    live = INVITATIONS.conditions({"live_from_account": account_id})
    if not await selected(AccessInvitation, actor, live).exists():
        return None
    return await AccountHolder.get_or_none(id=account_id)


async def get_email_delivery(actor: Actor, email_id: int) -> EmailDelivery | None:
    """One of the partner's outbox e-mails (decline and confirmation mails)."""
    return await scoped(EmailDelivery, actor).get_or_none(id=email_id)


async def _require_own_invitation(actor: Actor, invitation_id: int) -> AccessInvitation:
    actor.require_account()
    invitation = await get_invitation(actor, invitation_id)
    if invitation is None:
        raise NotFound("Invitation", INVITATION_PATH)
    return invitation


async def require_pending(invitation: AccessInvitation) -> None:
    """Raise unless the invitation can still be decided; an overdue one is recorded as
    EXPIRED first (a decision is a state change, so it applies the expiry it finds)."""
    if effective_status(invitation) == InvitationStatus.PENDING:
        return
    if invitation.status == InvitationStatus.PENDING:
        await expire_overdue(AccessInvitation.filter(id=invitation.id))
    raise not_pending(invitation)


def not_pending(invitation: AccessInvitation) -> DomainError:
    status = effective_status(invitation)
    if status == InvitationStatus.EXPIRED:
        return Expired(
            f"This authorization expired on {invitation.expires_at:%Y-%m-%d}.", INVITATION_PATH
        )
    return AlreadyProcessed(
        f"This authorization was already decided (status {status.value}).", INVITATION_PATH
    )


async def withdraw_invitation(actor: Actor, invitation_id: int) -> AccessInvitation:
    """The account holder takes back an authorization the partner has not decided yet."""
    invitation = await _require_own_invitation(actor, invitation_id)
    await require_pending(invitation)
    now = datetime.now(UTC)
    async with events.transaction():
        won = (
            await selected(AccessInvitation, actor, PENDING_INVITATIONS)
            .filter(id=invitation.id)
            .update(status=InvitationStatus.WITHDRAWN, closed_at=now)
        )
        if not won:
            raise not_pending(await AccessInvitation.get(id=invitation.id))
        await record_activity(
            invitation.partner_id,
            ActivityVerb.INVITATION_WITHDRAWN,
            f"Access authorization from {actor.display_name} withdrawn",
            actor=actor,
            subject=("AccessInvitation", invitation.id),
        )
    return await AccessInvitation.get(id=invitation.id)


async def revoke_access(actor: Actor, invitation_id: int) -> AccessInvitation:
    """The account holder ends a CONNECTED authorization; the customer keeps its data."""
    invitation = await _require_own_invitation(actor, invitation_id)
    now = datetime.now(UTC)
    async with events.transaction():
        won = (
            await scoped(AccessInvitation, actor)
            .filter(id=invitation.id, status=InvitationStatus.CONNECTED)
            .update(status=InvitationStatus.REVOKED, closed_at=now)
        )
        if not won:
            current = await AccessInvitation.get(id=invitation.id)
            if effective_status(current) == InvitationStatus.PENDING:
                raise Conflict(
                    "This authorization is still pending: withdraw it instead.", INVITATION_PATH
                )
            raise AlreadyProcessed(
                f"Only a connected authorization can be revoked (status {effective_status(current).value}).",
                INVITATION_PATH,
            )
        await record_activity(
            invitation.partner_id,
            ActivityVerb.ACCESS_REVOKED,
            f"Access authorization from {actor.display_name} revoked",
            actor=actor,
            customer_id=invitation.customer_id,
            subject=("AccessInvitation", invitation.id),
        )
    return await AccessInvitation.get(id=invitation.id)
