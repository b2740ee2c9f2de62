"""The partner's decisions on an access authorization: connect it to a new or existing
customer, or decline it with an optional personal message.

Each decision is one conditional UPDATE from PENDING (`_decide`): of any number of
concurrent callers exactly one changes the row, on SQLite and on PostgreSQL alike, and only
that one goes on to write the customer, the e-mail and the activity rows. The account
holder's own actions (send, withdraw, revoke) and the reads are in resolvers/invitations.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

import events
from events.activity import Entry, record_activity, record_entries
from mailers.outbox import queue_email
from mailers.templates import INVITATION_CONNECTED, INVITATION_DECLINED
from models.account import AccountHolder
from models.activity import ActivityVerb
from models.customer import Customer, CustomerSource
from models.invitation import AccessInvitation, InvitationStatus
from models.outbox import EmailDelivery
from resolvers.actor import Actor
from resolvers.conditions import equals
from resolvers.customers import CustomerTarget, customer_created, insert_customer, prepare_target
from resolvers.errors import Conflict, NotFound
from resolvers.invitations import INVITATION_PATH, MESSAGE_MAX_LENGTH, not_pending, require_pending
from resolvers.read_rules import PENDING_INVITATIONS, fetch_selected, update_selected
from resolvers.validation import Problems, clean_text, split_name


async def _require_decidable(actor: Actor, invitation_id: int) -> AccessInvitation:
    """The partner's PENDING invitation with its account holder and partner, in one read;
    NOT_FOUND, EXPIRED (recording the expiry it finds) or ALREADY_PROCESSED otherwise."""
    actor.require_member()
    found = await fetch_selected(
        AccessInvitation, actor, equals(id=invitation_id), related=("account", "partner")
    )
    if not found:
        raise NotFound("Invitation", INVITATION_PATH)
    invitation = found[0]
    await require_pending(invitation)
    return invitation


async def _decide(actor: Actor, invitation: AccessInvitation, **changes: Any) -> None:
    """Take the decision on a PENDING authorization, or raise: exactly one caller wins."""
    won = await update_selected(
        AccessInvitation, actor, (*PENDING_INVITATIONS, *equals(id=invitation.id)), changes
    )
    if not won:
        raise not_pending(await AccessInvitation.get(id=invitation.id))


def _customer_taken() -> Conflict:
    return Conflict(
        "This customer is already connected to another account.",
        ("target", "existingCustomerId"),
    )


def _account_fields(account: AccountHolder) -> dict[str, Any]:
    first_name, last_name = split_name(account.name)
    return {
        "first_name": first_name,
        "last_name": last_name,
        "email": account.email,
        "phone": account.phone,
        "company_name": account.company_name,
        "language": account.language,
    }


async def connect_customer(
    actor: Actor, invitation_id: int, target: CustomerTarget
) -> tuple[AccessInvitation, Customer]:
    """Accept a PENDING authorization: link it to a new (source INVITATION) or existing customer."""
    member = actor.require_member()
    invitation = await _require_decidable(actor, invitation_id)
    account, partner = invitation.account, invitation.partner
    existing, values = await prepare_target(actor, target, _account_fields(account))

    now = datetime.now(UTC)
    async with events.transaction():
        # Decide first: a loser stops here and rolls back before creating anything.
        try:
            await _decide(
                actor,
                invitation,
                status=InvitationStatus.CONNECTED,
                decided_at=now,
                decided_by_id=member.id,
                customer_id=existing.id if existing else None,
            )
        except IntegrityError:
            # One CONNECTED authorization per customer (the partial unique index of
            # migration 0004 decides, also between concurrent connects). Raising here rolls
            # everything back.
            raise _customer_taken() from None
        entries = []
        if existing is not None:
            customer = existing
        else:
            customer = await insert_customer(member.partner_id, values, CustomerSource.INVITATION)
            await AccessInvitation.filter(id=invitation.id).update(customer_id=customer.id)
            entries.append(
                customer_created(customer, "Customer {name} created from an access authorization")
            )
        await queue_email(
            template=INVITATION_CONNECTED,
            language=account.language,
            to_address=account.email,
            to_name=account.name,
            values={"recipient": account.name, "partner": partner.display_name},
            partner_id=partner.id,
        )
        entries.append(
            Entry(
                ActivityVerb.INVITATION_CONNECTED,
                f"Access authorization from {account.name} connected to customer"
                f" {customer.display_name}",
                customer_id=customer.id,
                subject=("AccessInvitation", invitation.id),
            )
        )
        await record_entries(member.partner_id, entries, actor=actor)
    # What the decision wrote, without reading the row back.
    invitation.status = InvitationStatus.CONNECTED
    invitation.decided_at = now
    invitation.decided_by_id = member.id
    invitation.customer_id = customer.id
    return invitation, customer


def clean_personal_message(problems: Problems, value: str | None) -> str | None:
    """Plain text of at most 2,000 characters; no control characters but line breaks."""
    message = clean_text(
        problems,
        "personalMessage",
        value,
        max_length=MESSAGE_MAX_LENGTH,
        multiline=True,
        label="Personal message",
    )
    if message is not None and "\t" in message:
        problems.add("personalMessage", "Personal message contains control characters.")
        return None
    return message.replace("\r", "\n") if message else message


async def decline_invitation(
    actor: Actor, invitation_id: int, personal_message: str | None
) -> tuple[AccessInvitation, EmailDelivery]:
    """Reject a PENDING authorization and queue the decline e-mail in the same transaction."""
    member = actor.require_member()
    problems = Problems()
    message = clean_personal_message(problems, personal_message)
    problems.raise_if_any()
    invitation = await _require_decidable(actor, invitation_id)
    account, partner = invitation.account, invitation.partner

    now = datetime.now(UTC)
    async with events.transaction():
        # The e-mail first, so that the decision can point at it; a loser's e-mail rolls back
        # with the rest.
        email = await queue_email(
            template=INVITATION_DECLINED,
            language=account.language,
            to_address=account.email,
            to_name=account.name,
            values={"recipient": account.name, "partner": partner.display_name, "message": message},
            partner_id=partner.id,
        )
        await _decide(
            actor,
            invitation,
            status=InvitationStatus.DECLINED,
            decided_at=now,
            decided_by_id=member.id,
            decline_message=message,
            decline_email_id=email.id,
        )
        await record_activity(
            member.partner_id,
            ActivityVerb.INVITATION_DECLINED,
            f"Access authorization from {account.name} declined",
            actor=actor,
            subject=("AccessInvitation", invitation.id),
        )
    # What the decision wrote, without reading the row back.
    invitation.status = InvitationStatus.DECLINED
    invitation.decided_at = now
    invitation.decided_by_id = member.id
    if message is not None:  # a PENDING invitation has none yet
        invitation.decline_message = message
    invitation.decline_email_id = email.id
    return invitation, email
