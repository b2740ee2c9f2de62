"""Notification e-mails to the team, each member's preferences, and the digest of bursts.

When an inquiry or an access authorization arrives (and when a pending one is about to
expire, resolvers/reminders.py), `notify_team` queues one e-mail per active member whose
preferences ask for that kind, in the member's language, in the same transaction as the
change, never to the person whose action caused it.

Bursts are folded, correctly with any number of processes: each (member, kind) has one
window row. Every notification bumps it in one conditional UPDATE (a new window opens when
the last is DIGEST_WINDOW old), which the database serialises per row, so the count each
transaction sees is exact. The first DIGEST_THRESHOLD notifications of a window are sent
one by one; later ones become digest entries, due when their window closes. The
housekeeping sweep (`send_due_digests`) claims each member's due entries of one kind with
one conditional UPDATE, so one sweep sends one digest for them, however many run at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.connection import get_connection

import events
from config import Settings
from mailers.identity_templates import NEW_INVITATION, NOTIFICATION_DIGEST
from mailers.outbox import queue_email
from mailers.templates import render
from models.account import AccountHolder
from models.invitation import AccessInvitation
from models.notification import DigestEntry, NotificationKind
from models.partner import MemberRole, Partner, PartnerMember
from models.statements import insert_model
from resolvers.actor import Actor
from resolvers.teams import Recipient, Team, team_of
from resolvers.validation import Problems, clean_language

DIGEST_THRESHOLD = 5
DIGEST_WINDOW = timedelta(minutes=10)
DEFAULT_ON_ROLES = (MemberRole.OWNER, MemberRole.ADMIN)
PREFERENCE_COLUMNS: dict[NotificationKind, str] = {
    NotificationKind.NEW_INQUIRY: "notify_new_inquiry",
    NotificationKind.NEW_INVITATION: "notify_new_invitation",
    NotificationKind.EXPIRY_REMINDER: "notify_expiry_reminder",
}
# GraphQL input name -> column
PREFERENCE_INPUTS = {
    "new_inquiry": "notify_new_inquiry",
    "new_invitation": "notify_new_invitation",
    "expiry_reminder": "notify_expiry_reminder",
}


def wants(member: PartnerMember | Recipient, kind: NotificationKind) -> bool:
    """Whether `member` asked for e-mails of `kind`: their choice, else their role's default
    (all on for OWNER and ADMIN, off for MEMBER)."""
    chosen = getattr(member, PREFERENCE_COLUMNS[kind])
    return bool(chosen) if chosen is not None else member.role in DEFAULT_ON_ROLES


def preferences_of(member: PartnerMember) -> dict[NotificationKind, bool]:
    return {kind: wants(member, kind) for kind in NotificationKind}


async def update_notification_preferences(actor: Actor, given: Mapping[str, Any]) -> PartnerMember:
    """Change the signed-in member's own preferences (and e-mail language); null leaves one as is."""
    member = actor.require_member()
    problems = Problems()
    values: dict[str, Any] = {
        PREFERENCE_INPUTS[name]: bool(value)
        for name, value in given.items()
        if name in PREFERENCE_INPUTS and value is not None
    }
    language = given.get("language")
    if language is not None and not language.strip():  # every member has one: never cleared
        problems.add("language", "Language must be a language code such as en, de or it.")
    elif language is not None:
        cleaned = clean_language(problems, "language", language)
        if cleaned is not None:
            values["language"] = cleaned
    problems.raise_if_any()
    if values:
        await PartnerMember.filter(id=member.id).update(**values)
    return await PartnerMember.get(id=member.id)


def dashboard_link(settings: Settings) -> str:
    return f"{settings.public_url}/dashboard"


async def notify_team(
    settings: Settings,
    team: Team,
    kind: NotificationKind,
    template: str,
    values: Mapping[str, str | None],
    *,
    caused_by_email: str | None = None,
) -> int:
    """Queue `template` to every active member of the team who wants `kind` (inside the
    change's events.transaction()); how many members were notified (e-mail or digest entry)."""
    skip = (caused_by_email or "").strip().casefold()
    notified = 0
    for member in team.members:
        if not wants(member, kind) or member.email.casefold() == skip:
            continue
        member_values = {
            **values,
            "recipient": member.name,
            "partner": team.partner_name,
            "link": dashboard_link(settings),
        }
        count, window_closes = await _count_in_window(member.id, kind)
        if count <= DIGEST_THRESHOLD:
            await queue_email(
                template=template,
                language=member.language,
                to_address=member.email,
                to_name=member.name,
                values=member_values,
                partner_id=team.partner_id,
            )
        else:
            await insert_model(
                DigestEntry,
                {
                    "member_id": member.id,
                    "kind": kind,
                    "summary": render(template, member.language, member_values).subject[:500],
                    "created_at": datetime.now(UTC),
                    "due_at": window_closes,
                },
            )
        notified += 1
    return notified


async def notify_invitation_received(
    settings: Settings | None, invitation: AccessInvitation, account: AccountHolder
) -> int:
    """The team's e-mails about an access authorization that has just arrived."""
    return await notify_team(
        settings or Settings(),
        await team_of(invitation.partner_id),
        NotificationKind.NEW_INVITATION,
        NEW_INVITATION,
        {
            "sender": account.name,
            "scope": invitation.scope.value,
            "date": f"{invitation.expires_at:%Y-%m-%d}",
        },
        caused_by_email=account.email,
    )


def _sql(postgres: bool, sql: str) -> str:
    """`sql` written with $1, $2, ... in the connection's placeholder style."""
    return sql if postgres else sql.replace("$", "?")


def _as_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def _count_in_window(member_id: int, kind: NotificationKind) -> tuple[int, datetime]:
    """Count one notification of `kind` to the member: (its number in the current window,
    when that window closes). One row per (member, kind), created or bumped in one upsert,
    which the database serialises per row."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    now = datetime.now(UTC)
    rows = await connection.execute_query_dict(
        _sql(
            postgres,
            'INSERT INTO notification_window AS w (member_id, kind, opened_at, "count")'
            " VALUES ($3, $4, $2, 1) ON CONFLICT (member_id, kind) DO UPDATE SET"
            ' "count" = CASE WHEN w.opened_at > $1 THEN w."count" + 1 ELSE 1 END,'
            " opened_at = CASE WHEN w.opened_at > $1 THEN w.opened_at ELSE $2 END"
            ' RETURNING "count", opened_at',
        ),
        [now - DIGEST_WINDOW, now, member_id, kind.value],
    )
    return int(rows[0]["count"]), _as_datetime(rows[0]["opened_at"]) + DIGEST_WINDOW


async def send_due_digests(settings: Settings) -> int:
    """One digest e-mail per (member, kind) whose window has closed; how many were queued.

    Safe with several sweeps at once: a conditional UPDATE claims each group's entries."""
    now = datetime.now(UTC)
    groups = (
        await DigestEntry.filter(sent_at=None, due_at__lte=now)
        .distinct()
        .values_list("member_id", "kind")
    )
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    queued = 0
    for member_id, kind in sorted(set(groups)):
        async with events.transaction():
            claimed = await get_connection("default").execute_query_dict(
                _sql(
                    postgres,
                    "UPDATE digest_entry SET sent_at = $1 WHERE member_id = $2 AND kind = $3"
                    " AND sent_at IS NULL AND due_at <= $1 RETURNING id, summary",
                ),
                [now, member_id, str(kind)],
            )
            member = await PartnerMember.get_or_none(id=member_id, removed_at=None)
            if not claimed or member is None or not wants(member, NotificationKind(kind)):
                continue
            partner = await Partner.get(id=member.partner_id)
            summaries = [row["summary"] for row in sorted(claimed, key=lambda row: row["id"])]
            await queue_email(
                template=NOTIFICATION_DIGEST,
                language=member.language,
                to_address=member.email,
                to_name=member.name,
                values={
                    "recipient": member.name,
                    "partner": partner.display_name,
                    "count": str(len(summaries)),
                    "message": "\n".join(f"- {summary}" for summary in summaries),
                    "link": dashboard_link(settings),
                },
                partner_id=partner.id,
            )
            queued += 1
    return queued
