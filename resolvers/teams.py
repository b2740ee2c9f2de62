"""A partner's active team as the system reads it to notify them: one plain query.

The notification e-mails (resolvers/notifications.py) are written on the partner's behalf,
where no member is signed in, so this read is not an actor's: it takes the partner by id,
or by the slug of its public profile, where the inquiry form's one read also tells whether
the profile takes inquiries at all. The statement is the read rules' `team_sql` (active
members, public profiles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.partner import MemberRole
from models.statements import fetch_rows
from resolvers.conditions import equals
from resolvers.read_rules import PUBLIC_PROFILES, team_sql
from resolvers.validation import lookup_key


@dataclass(frozen=True)
class Recipient:
    """An active member, with the columns the notification e-mails need (the names of
    PartnerMember's, so the preference rules read either)."""

    id: int
    name: str
    email: str
    language: str
    role: MemberRole
    notify_new_inquiry: bool | None
    notify_new_invitation: bool | None
    notify_expiry_reminder: bool | None


@dataclass(frozen=True)
class Team:
    partner_id: int
    partner_name: str  # the partner's display name, as e-mails show it
    members: tuple[Recipient, ...]


_MEMBER_COLUMNS = (
    "id",
    "name",
    "email",
    "language",
    "role",
    "notify_new_inquiry",
    "notify_new_invitation",
    "notify_expiry_reminder",
)


def _recipient(row: dict[str, Any]) -> Recipient:
    def choice(column: str) -> bool | None:  # SQLite hands booleans back as 0 and 1
        value = row[f"member_{column}"]
        return None if value is None else bool(value)

    return Recipient(
        id=int(row["member_id"]),
        name=str(row["member_name"]),
        email=str(row["member_email"]),
        language=str(row["member_language"]),
        role=MemberRole(row["member_role"]),
        notify_new_inquiry=choice("notify_new_inquiry"),
        notify_new_invitation=choice("notify_new_invitation"),
        notify_expiry_reminder=choice("notify_expiry_reminder"),
    )


def _team(rows: list[dict[str, Any]]) -> Team | None:
    if not rows:
        return None
    members = tuple(_recipient(row) for row in rows if row["member_id"] is not None)
    return Team(int(rows[0]["partner_id"]), str(rows[0]["partner_name"]), members)


async def team_of(partner_id: int) -> Team:
    """The partner and its active team."""
    team = _team(await fetch_rows(*team_sql(_MEMBER_COLUMNS, equals(id=partner_id))))
    if team is None:
        raise LookupError(f"no partner {partner_id}")
    return team


async def public_team(slug: str) -> Team | None:
    """The partner behind a public profile, with its active team; None when no public
    profile has that slug (the inquiry form's one read before it writes)."""
    key = lookup_key((slug or "").strip().lower(), 63)
    if not key:
        return None
    return _team(
        await fetch_rows(*team_sql(_MEMBER_COLUMNS, (*equals(slug=key), *PUBLIC_PROFILES)))
    )
