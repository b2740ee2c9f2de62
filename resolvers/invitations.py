"""Access authorizations: send, list, connect to a customer, decline, withdraw, revoke."""

from __future__ import annotations

from datetime import UTC, datetime

from models.invitation import AccessInvitation, InvitationStatus
from resolvers.actor import Actor


async def pending_invitation_count(actor: Actor) -> int:
    """The badge: PENDING authorizations that have not expired yet."""
    return await AccessInvitation.filter(
        partner_id=actor.require_partner_id(), status=InvitationStatus.PENDING, expires_at__gt=datetime.now(UTC)
    ).count()
