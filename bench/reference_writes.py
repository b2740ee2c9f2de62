"""The reference's writes M1-M4: PartnerDesk's checks, the same rows, plain asyncpg.

Each checks its input the way PartnerDesk must (bench/rules.py: text length and control
characters, e-mail syntax with email-validator, E.164 with phonenumbers) and writes the
same rows in one transaction: the decision is one conditional UPDATE, whose conditions
and RETURNING also read what the decision needs (the account holder, the partner's
customer, the partner's name) instead of separate SELECTs; the rows that follow from it
(customer, activity, outbox e-mail) come after, as in PartnerDesk. E-mails are rendered
with PartnerDesk's own templates (the wording is content, not a rule to restate).

A bearer token is looked up first, on its own (bench/reference.py), as PartnerDesk does
for every mutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from bench import reference_sql as sql
from bench.rules import (
    Problems,
    clean_email,
    clean_personal_message,
    clean_phone,
    clean_text,
    customer_number,
    derived,
    global_id,
    new_customer,
    parse_global_id,
    split_name,
)
from config import Settings
from mailers.identity_templates import NEW_INQUIRY
from mailers.templates import INVITATION_CONNECTED, INVITATION_DECLINED, header_text, render
from resolvers.notifications import DEFAULT_ON_ROLES, DIGEST_THRESHOLD, DIGEST_WINDOW

# PartnerDesk's defaults (config.py): a form sent back sooner than this after it was
# shown, or more than a day later, is a bot's and silently dropped.
INQUIRY_MIN_FILL_SECONDS = 3.0
INQUIRY_MAX_AGE_SECONDS = 86_400.0
# Links in the team's e-mails, as PartnerDesk writes them (the same environment as its server).
PUBLIC_URL = Settings().public_url


@dataclass(frozen=True)
class Member:
    id: int
    partner_id: int
    name: str


def _payload(mutation: str, **fields: Any) -> bytes:
    return orjson.dumps({"data": {mutation: fields}})


def _error(code: str, field: list[str] | None, message: str) -> list[dict[str, Any]]:
    return [{"code": code, "field": field, "message": message}]


UNAUTHENTICATED = _error("UNAUTHENTICATED", None, "Sign in first: this needs a valid bearer token.")


def _rendered_at(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- M1 submitInquiry


async def m1(
    connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
) -> bytes:
    given = variables.get("input") or {}
    accepted = {"accepted": True, "errors": []}
    if (given.get("website") or "").strip():
        return _payload("submitInquiry", **accepted)  # the honeypot: a bot, answered alike
    rendered_at = _rendered_at(given.get("renderedAt"))
    if rendered_at is None:
        # No render time: a bot, as PartnerDesk's form is about to rule (the benchmark
        # always sends one, so the two never disagree here).
        return _payload("submitInquiry", **accepted)
    age = (datetime.now(UTC) - rendered_at).total_seconds()
    if not INQUIRY_MIN_FILL_SECONDS <= age <= INQUIRY_MAX_AGE_SECONDS:
        return _payload("submitInquiry", **accepted)
    slug = (given.get("partnerSlug") or "").strip().lower()
    team = await connection.fetch(sql.M1_PARTNER_AND_TEAM, slug) if len(slug) <= 63 else []
    if not team:
        return _payload(
            "submitInquiry",
            accepted=False,
            errors=_error("PROFILE_NOT_PUBLIC", ["partnerSlug"], "The profile is not public."),
        )
    problems = Problems()
    name = clean_text(problems, "name", given.get("name"), max_length=200, required=True)
    email = clean_email(problems, "email", given.get("email"), required=True)
    phone = clean_phone(problems, "phone", given.get("phone"))
    company_name = clean_text(problems, "companyName", given.get("companyName"), max_length=200)
    message = clean_text(
        problems, "message", given.get("message"), max_length=5000, required=True, multiline=True
    )
    if given.get("privacyConsent") is not True:
        problems.add("privacyConsent", "Please agree to the privacy policy.")
    if problems.found:
        return _payload("submitInquiry", accepted=False, errors=problems.errors())
    sender = name + (f" ({company_name})" if company_name else "")
    summary = f"Inquiry received from {sender}"
    partner_id = team[0]["partner_id"]
    now = datetime.now(UTC)
    async with connection.transaction():
        _inquiry_id, has_webhooks = await connection.fetchrow(
            sql.M1_INSERT_AND_LOG,
            partner_id,
            name,
            email,
            phone,
            company_name,
            message,
            now,
            summary[:500],
        )
        _no_webhooks(has_webhooks)
        await _notify_team(connection, team, email, {"sender": sender, "message": message}, now)
    return _payload("submitInquiry", **accepted)


def _no_webhooks(has_webhooks: bool) -> None:
    """PartnerDesk would queue webhook deliveries here; the bench's partners have no endpoint."""
    if has_webhooks:
        raise RuntimeError("the reference queues no webhooks: give the bench's partners none")


def _wants_inquiry_emails(member: asyncpg.Record) -> bool:
    """The member's choice, else their role's default (on for OWNER and ADMIN)."""
    chosen = member["notify_new_inquiry"]
    return bool(chosen) if chosen is not None else member["role"] in DEFAULT_ON_ROLES


async def _notify_team(
    connection: asyncpg.Connection,
    team: list[asyncpg.Record],
    sender_email: str,
    values: dict[str, str | None],
    now: datetime,
) -> None:
    """The new-inquiry e-mail to every active member who wants it (not the sender), or,
    past the first DIGEST_THRESHOLD of a member's window, a digest entry."""
    for member in team:
        if member["member_id"] is None or not _wants_inquiry_emails(member):
            continue
        if member["email"].casefold() == sender_email.strip().casefold():
            continue
        count, opened_at = await connection.fetchrow(
            sql.NOTIFICATION_WINDOW, now - DIGEST_WINDOW, now, member["member_id"], "NEW_INQUIRY"
        )
        member_values = {
            **values,
            "recipient": member["name"],
            "partner": member["partner_name"],
            "link": f"{PUBLIC_URL}/dashboard",
        }
        if count <= DIGEST_THRESHOLD:
            await connection.execute(
                sql.M1_NOTIFY_EMAIL,
                member["partner_id"],
                *_rendered(
                    NEW_INQUIRY, member["language"], member["email"], member["name"], member_values
                ),
                now,
            )
        else:
            subject = render(NEW_INQUIRY, member["language"], member_values).subject
            await connection.execute(
                sql.DIGEST_ENTRY,
                member["member_id"],
                "NEW_INQUIRY",
                subject[:500],
                now,
                opened_at + DIGEST_WINDOW,
            )


# ---------------------------------------------------------------- M2 convertInquiry (new customer)


def _convert_failed(code: str, message: str) -> bytes:
    return _payload(
        "convertInquiry", inquiry=None, customer=None, errors=_error(code, ["inquiryId"], message)
    )


async def m2(
    connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
) -> bytes:
    if member is None:
        return _payload("convertInquiry", inquiry=None, customer=None, errors=UNAUTHENTICATED)
    given = variables.get("input") or {}
    inquiry_id = parse_global_id(given.get("inquiryId"), "Inquiry")
    if inquiry_id is None or (given.get("target") or {}).get("newCustomer") != {}:
        return _convert_failed("NOT_FOUND", "No such inquiry.")
    try:
        return await _convert(connection, member, inquiry_id)
    except _Rollback as rollback:
        return rollback.body


async def _convert(connection: asyncpg.Connection, member: Member, inquiry_id: int) -> bytes:
    now = datetime.now(UTC)
    async with connection.transaction():
        inquiry = await connection.fetchrow(
            sql.M2_DECIDE, inquiry_id, member.partner_id, now, member.id
        )
        if inquiry is None:
            return _convert_failed("ALREADY_PROCESSED", "This inquiry is not NEW (or not found).")
        name, email, phone, company_name = inquiry
        first_name, last_name = split_name(name)
        problems = Problems(("target", "newCustomer"))
        values = new_customer(
            problems,
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "phone": phone,
                "company_name": company_name,
            },
        )
        if problems.found:
            raise _Rollback(
                _payload("convertInquiry", inquiry=None, customer=None, errors=problems.errors())
            )
        number = await connection.fetchval(sql.M2_NUMBER, member.partner_id)
        record = {**values, "customer_number": customer_number(number)}
        columns = derived(record)
        customer_id = await connection.fetchval(
            sql.M2_CUSTOMER,
            member.partner_id,
            number,
            record["customer_number"],
            values["kind"],
            values.get("first_name"),
            values.get("last_name"),
            values.get("company_name"),
            columns["display_name"],
            columns["sort_name"],
            values.get("email"),
            values.get("phone"),
            values["language"],
            columns["tags_text"],
            columns["search_text"],
            now,
        )
        display_name = columns["display_name"]
        logged = await connection.fetch(
            sql.M2_LINK_AND_LOG,
            customer_id,
            inquiry_id,
            member.partner_id,
            now,
            member.name,
            f"Customer {display_name} created from an inquiry"[:500],
            f"Inquiry from {name} assigned to customer {display_name}"[:500],
        )
        _no_webhooks(any(row[0] for row in logged))
    return _payload(
        "convertInquiry",
        inquiry={"id": global_id("Inquiry", inquiry_id), "status": "ASSIGNED"},
        customer={
            "id": global_id("Customer", customer_id),
            "customerNumber": record["customer_number"],
            "displayName": display_name,
        },
        errors=[],
    )


class _Rollback(Exception):
    """Raised inside a transaction to undo it and answer `body` instead."""

    def __init__(self, body: bytes) -> None:
        super().__init__("rolled back")
        self.body = body


# ---------------------------------------------------------------- the outbox


def _email(
    template: str,
    language: str | None,
    address: str,
    name: str,
    partner: str,
    message: str | None = None,
) -> list[Any]:
    """The rendered columns of a decision's e-mail to the account holder."""
    values = {"recipient": name, "partner": partner, "message": message}
    return _rendered(template, language, address, name, values)


def _rendered(
    template: str, language: str | None, address: str, name: str, values: dict[str, str | None]
) -> list[Any]:
    """The outbox row's rendered columns: template .. html_body (PartnerDesk's queue_email)."""
    address = address.strip()
    if header_text(address, 254) != address or "@" not in address:
        raise ValueError("to_address must be one validated e-mail address")
    rendered = render(template, language, values)
    return [
        rendered.template,
        rendered.language,
        address,
        header_text(name) or None,
        rendered.subject,
        rendered.text_body,
        rendered.html_body,
    ]


# ---------------------------------------------------------------- M3 connectCustomer (existing customer)


def _invitation_failed(mutation: str, code: str, message: str, **empty: Any) -> bytes:
    return _payload(
        mutation, invitation=None, **empty, errors=_error(code, ["invitationId"], message)
    )


async def m3(
    connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
) -> bytes:
    if member is None:
        return _payload("connectCustomer", invitation=None, customer=None, errors=UNAUTHENTICATED)
    given = variables.get("input") or {}
    invitation_id = parse_global_id(given.get("invitationId"), "AccessInvitation")
    customer_id = parse_global_id((given.get("target") or {}).get("existingCustomerId"), "Customer")
    if invitation_id is None or customer_id is None:
        return _invitation_failed(
            "connectCustomer", "NOT_FOUND", "No such invitation or customer.", customer=None
        )
    now = datetime.now(UTC)
    async with connection.transaction():
        decided = await connection.fetchrow(
            sql.M3_DECIDE, invitation_id, member.partner_id, customer_id, now, member.id
        )
        if decided is None:
            return _invitation_failed(
                "connectCustomer",
                "ALREADY_PROCESSED",
                "Not PENDING, not found, or the customer is taken.",
                customer=None,
            )
        account_name, address, language, number, display_name, partner_name = decided
        has_webhooks = await connection.fetchval(
            sql.M3_MAIL_AND_LOG,
            member.partner_id,
            *_email(INVITATION_CONNECTED, language, address, account_name, partner_name),
            now,
            member.name,
            f"Access authorization from {account_name} connected to customer {display_name}"[:500],
            customer_id,
            invitation_id,
        )
        _no_webhooks(has_webhooks)
    return _payload(
        "connectCustomer",
        invitation={"id": global_id("AccessInvitation", invitation_id), "status": "CONNECTED"},
        customer={
            "id": global_id("Customer", customer_id),
            "customerNumber": number,
            "displayName": display_name,
        },
        errors=[],
    )


# ---------------------------------------------------------------- M4 declineInvitation (with a message)


async def m4(
    connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
) -> bytes:
    if member is None:
        return _payload("declineInvitation", invitation=None, email=None, errors=UNAUTHENTICATED)
    given = variables.get("input") or {}
    problems = Problems()
    message = clean_personal_message(problems, given.get("personalMessage"))
    if problems.found:
        return _payload("declineInvitation", invitation=None, email=None, errors=problems.errors())
    invitation_id = parse_global_id(given.get("invitationId"), "AccessInvitation")
    if invitation_id is None:
        return _invitation_failed(
            "declineInvitation", "NOT_FOUND", "No such invitation.", email=None
        )
    now = datetime.now(UTC)
    async with connection.transaction():
        decided = await connection.fetchrow(
            sql.M4_DECIDE, invitation_id, member.partner_id, now, member.id, message
        )
        if decided is None:
            return _invitation_failed(
                "declineInvitation", "ALREADY_PROCESSED", "Not PENDING, or not found.", email=None
            )
        account_name, address, language, partner_name = decided
        email_id, has_webhooks = await connection.fetchrow(
            sql.M4_MAIL_LINK_AND_LOG,
            member.partner_id,
            *_email(INVITATION_DECLINED, language, address, account_name, partner_name, message),
            now,
            member.name,
            f"Access authorization from {account_name} declined"[:500],
            invitation_id,
        )
        _no_webhooks(has_webhooks)
    return _payload(
        "declineInvitation",
        invitation={"id": global_id("AccessInvitation", invitation_id), "status": "DECLINED"},
        email={"id": global_id("EmailDelivery", email_id), "status": "QUEUED"},
        errors=[],
    )
