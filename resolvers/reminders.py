"""Reminders of pending access authorizations that expire soon, sent by the housekeeping sweep.

One reminder per authorization: the sweep that sets `reminder_sent_at` (a conditional
UPDATE from NULL) queues the team's e-mails in the same transaction, so two sweeps running
at once (two workers, two servers) send it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import events
from config import Settings
from mailers.identity_templates import EXPIRY_REMINDER
from models.invitation import AccessInvitation, InvitationStatus
from models.notification import NotificationKind
from resolvers.notifications import notify_team
from resolvers.teams import team_of

REMIND_BEFORE = timedelta(days=3)


async def send_expiry_reminders(settings: Settings) -> int:
    """Remind the team of each pending authorization expiring within 3 days, once; how many."""
    now = datetime.now(UTC)
    due = (
        await AccessInvitation.filter(
            status=InvitationStatus.PENDING,
            reminder_sent_at=None,
            expires_at__gt=now,
            expires_at__lte=now + REMIND_BEFORE,
        )
        .order_by("id")
        .values("id", "partner_id", "expires_at", "requester_name", "account__email")
    )
    reminded = 0
    for row in due:
        async with events.transaction():
            claimed = await AccessInvitation.filter(
                id=row["id"], status=InvitationStatus.PENDING, reminder_sent_at=None
            ).update(reminder_sent_at=now)
            if not claimed:
                continue  # another sweep reminded of it
            await notify_team(
                settings,
                await team_of(row["partner_id"]),
                NotificationKind.EXPIRY_REMINDER,
                EXPIRY_REMINDER,
                {"sender": row["requester_name"], "date": f"{row['expires_at']:%Y-%m-%d}"},
                caused_by_email=row["account__email"],
            )
            reminded += 1
    return reminded
