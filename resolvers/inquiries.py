"""Inquiries from public profiles: submit, list, convert into a customer, dismiss."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import events
from config import Settings
from events.activity import Entry, record_activity, record_entries
from mailers.identity_templates import NEW_INQUIRY
from models.activity import ActivityVerb
from models.customer import Customer, CustomerSource
from models.inquiry import Inquiry, InquiryStatus
from models.notification import NotificationKind
from models.statements import insert_returning_id
from resolvers.actor import Actor
from resolvers.conditions import equals
from resolvers.customers import (
    CustomerTarget,
    customer_created,
    insert_customer,
    prepare_target,
)
from resolvers.errors import AlreadyProcessed, NotFound, ProfileNotPublic
from resolvers.notifications import notify_team
from resolvers.pagination import Page, PageRequest, keyset_page
from resolvers.rate_limits import Limit, enforce
from resolvers.read_rules import (
    INQUIRIES,
    NEW_INQUIRIES,
    fetch_selected,
    scoped,
    selected,
    update_selected,
)
from resolvers.teams import public_team
from resolvers.validation import Problems, clean_email, clean_phone, clean_text, split_name

MESSAGE_MAX_LENGTH = 5000
INQUIRY_PATH = ("inquiryId",)


async def new_inquiry_count(actor: Actor) -> int:
    """Inquiries of the signed-in partner still waiting for a decision."""
    return await selected(Inquiry, actor, NEW_INQUIRIES).count()


async def submit_inquiry(
    given: Mapping[str, Any],
    *,
    client_ip: str | None = None,
    min_fill_seconds: float = 0,
    settings: Settings | None = None,
) -> int | None:
    """Store a visitor's inquiry to a public profile: its id; None when a spam trap caught a bot.

    Traps (answered like a success, so the bot learns nothing): a filled honeypot field,
    and, when `min_fill_seconds` > 0, a form sent back sooner than that after it was
    rendered, or without saying when it was rendered (only scripts leave that out).
    """
    if (given.get("website") or "").strip():
        return None
    rendered_at = given.get("rendered_at")
    if rendered_at is None and min_fill_seconds > 0:
        return None
    if rendered_at is not None:
        if rendered_at.tzinfo is None:
            rendered_at = rendered_at.replace(tzinfo=UTC)  # a form without an offset means UTC
        age = (datetime.now(UTC) - rendered_at).total_seconds()
        if age < min_fill_seconds or age > 86_400:
            return None
    team = await public_team(given.get("partner_slug") or "")
    if team is None:
        raise ProfileNotPublic(
            "This partner does not take inquiries: the profile is not public.", ("partnerSlug",)
        )
    partner_id = team.partner_id
    await enforce((Limit.INQUIRY_PER_IP, client_ip), (Limit.INQUIRY_PER_PARTNER, partner_id))
    problems = Problems()
    name = clean_text(
        problems, "name", given.get("name"), max_length=200, required=True, label="Name"
    )
    email = clean_email(problems, "email", given.get("email"), required=True)
    phone = clean_phone(problems, "phone", given.get("phone"))
    company_name = clean_text(
        problems, "companyName", given.get("company_name"), max_length=200, label="Company name"
    )
    message = clean_text(
        problems,
        "message",
        given.get("message"),
        max_length=MESSAGE_MAX_LENGTH,
        required=True,
        multiline=True,
        label="Message",
    )
    if given.get("privacy_consent") is not True:
        problems.add("privacyConsent", "Please agree to the privacy policy to send the inquiry.")
    problems.raise_if_any()
    assert name is not None and email is not None and message is not None
    async with events.transaction():
        # The public form's hot path: plain INSERTs, no model objects (models/statements.py).
        inquiry_id = await insert_returning_id(
            Inquiry._meta.db_table,
            {
                "partner_id": partner_id,
                "status": InquiryStatus.NEW.value,
                "name": name,
                "email": email,
                "phone": phone,
                "company_name": company_name,
                "message": message,
                "received_at": datetime.now(UTC),
            },
        )
        await record_activity(
            partner_id,
            ActivityVerb.INQUIRY_RECEIVED,
            f"Inquiry received from {name}" + (f" ({company_name})" if company_name else ""),
            subject=("Inquiry", inquiry_id),
        )
        await notify_team(
            settings or Settings(),
            team,
            NotificationKind.NEW_INQUIRY,
            NEW_INQUIRY,
            {"sender": name + (f" ({company_name})" if company_name else ""), "message": message},
            caused_by_email=email,
        )
    return inquiry_id


async def list_inquiries(
    actor: Actor, page: PageRequest, status: InquiryStatus | None = None
) -> Page[Inquiry]:
    """One page of the partner's inquiries, newest first."""
    query = selected(Inquiry, actor, INQUIRIES.conditions({"status": status}))
    return await keyset_page(query, INQUIRIES.order(), page)


async def get_inquiry(actor: Actor, inquiry_id: int | None) -> Inquiry | None:
    """The partner's inquiry, or None (also for another partner's id, or none at all)."""
    if inquiry_id is None:
        return None
    found = await fetch_selected(Inquiry, actor, equals(id=inquiry_id))
    return found[0] if found else None


async def _require_inquiry(actor: Actor, inquiry_id: int) -> Inquiry:
    inquiry = await get_inquiry(actor, inquiry_id)
    if inquiry is None:
        raise NotFound("Inquiry", INQUIRY_PATH)
    return inquiry


def _not_new(inquiry: Inquiry) -> AlreadyProcessed:
    if inquiry.status == InquiryStatus.ASSIGNED:
        return AlreadyProcessed("This inquiry is already assigned to a customer.", INQUIRY_PATH)
    return AlreadyProcessed("This inquiry was dismissed.", INQUIRY_PATH)


async def _lost_to(inquiry_id: int) -> AlreadyProcessed:
    """The error for a caller whose conditional update found the inquiry decided."""
    return _not_new(await Inquiry.get(id=inquiry_id))


def _inquiry_fields(inquiry: Inquiry) -> dict[str, Any]:
    first_name, last_name = split_name(inquiry.name)
    return {
        "first_name": first_name,
        "last_name": last_name,
        "email": inquiry.email,
        "phone": inquiry.phone,
        "company_name": inquiry.company_name,
    }


async def convert_inquiry(
    actor: Actor, inquiry_id: int, target: CustomerTarget
) -> tuple[Inquiry, Customer]:
    """Assign a NEW inquiry to a new (source INQUIRY) or existing customer, for good."""
    member = actor.require_member()
    inquiry = await _require_inquiry(actor, inquiry_id)
    if inquiry.status != InquiryStatus.NEW:
        raise _not_new(inquiry)
    existing, values = await prepare_target(actor, target, _inquiry_fields(inquiry))

    now = datetime.now(UTC)
    async with events.transaction():
        entries = []
        if existing is not None:
            customer = existing
        else:
            # Created before the decision so that the claim below links it in the same
            # statement; a loser's customer (and its number) roll back with the transaction.
            customer = await insert_customer(member.partner_id, values, CustomerSource.INQUIRY)
            entries.append(customer_created(customer, "Customer {name} created from an inquiry"))
        won = await update_selected(
            Inquiry,
            actor,
            (*NEW_INQUIRIES, *equals(id=inquiry.id)),
            {
                "status": InquiryStatus.ASSIGNED,
                "assigned_at": now,
                "assigned_by_id": member.id,
                "customer_id": customer.id,
            },
        )
        if not won:
            raise await _lost_to(inquiry.id)
        entries.append(
            Entry(
                ActivityVerb.INQUIRY_CONVERTED,
                f"Inquiry from {inquiry.name} assigned to customer {customer.display_name}",
                customer_id=customer.id,
                subject=("Inquiry", inquiry.id),
            )
        )
        await record_entries(member.partner_id, entries, actor=actor)
    # What the claim wrote, without reading the row back.
    inquiry.status = InquiryStatus.ASSIGNED
    inquiry.assigned_at = now
    inquiry.assigned_by_id = member.id
    inquiry.customer_id = customer.id
    return inquiry, customer


async def dismiss_inquiry(actor: Actor, inquiry_id: int, reason: str | None) -> Inquiry:
    """File a NEW inquiry away (spam, no fit), with an optional reason."""
    member = actor.require_member()
    problems = Problems()
    cleaned = clean_text(problems, "reason", reason, max_length=500, multiline=True, label="Reason")
    problems.raise_if_any()
    inquiry = await _require_inquiry(actor, inquiry_id)
    if inquiry.status != InquiryStatus.NEW:
        raise _not_new(inquiry)
    async with events.transaction():
        won = (
            await scoped(Inquiry, actor)
            .filter(id=inquiry.id, status=InquiryStatus.NEW)
            .update(
                status=InquiryStatus.DISMISSED,
                dismissed_at=datetime.now(UTC),
                dismiss_reason=cleaned,
            )
        )
        if not won:
            raise await _lost_to(inquiry.id)
        await record_activity(
            member.partner_id,
            ActivityVerb.INQUIRY_DISMISSED,
            f"Inquiry from {inquiry.name} dismissed" + (f": {cleaned}" if cleaned else ""),
            actor=actor,
            subject=("Inquiry", inquiry.id),
        )
    return await Inquiry.get(id=inquiry.id)
