"""Erasure (GDPR Art. 17): a partner erases a customer; an account holder deletes their account.

`erase_customer` overwrites, in one transaction, everything the partner holds that names
the person, and keeps the customer number and the fact of the erasure:

- the customer's personal fields (names, e-mail, phone, address, VAT ID, external ID,
  notes, tags and the derived display, sort, tag and search texts); the customer is
  archived and marked erased;
- the inquiries assigned to them or sent from their e-mail address: name, e-mail, phone,
  company, message and dismiss reason;
- their access authorizations: the name they were sent with, their message and the
  decline message; a connected one is revoked;
- the e-mails sent to them: recipient, name, bodies and the server's error detail (a
  queued one is not sent);
- their domains, contracts and tasks are unassigned; tasks' titles and descriptions lose
  the person's names;
- activity rows: in the person's own rows (their timeline, and rows about their inquiries,
  authorizations and e-mails) every name, e-mail and phone of theirs becomes "erased
  customer", as does an actor name that is theirs; in the partner's feed rows that belong
  to no customer, their full names, e-mail and phone do (other customers' timelines are
  left alone, even where someone there has the same name);
- unused download links of their data are deleted;
- the copies made for others (resolvers/erased_copies.py): the team's e-mails and digest
  entries that name them, webhook bodies (undelivered ones are not sent any more), and
  the development mailbox's copies.

`delete_my_account` closes the account holder's pending and connected authorizations as
withdraw and revoke do (activity rows and events for the partners), overwrites the account
and what the account holder wrote or was sent, and signs them out everywhere. Partners keep
their own records of the person (customers, timelines) until they erase them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

import events
from events.activity import record_activity
from models.account import AccountHolder
from models.activity import ActivityEvent, ActivityVerb
from models.auth import Realm
from models.customer import Customer, CustomerStatus
from models.customer_data import DataExport
from models.identity import IdentityToken, PasswordResetRequest
from models.inquiry import Inquiry
from models.invitation import AccessInvitation, InvitationStatus
from models.item import Contract, Domain, Task
from models.outbox import EmailDelivery, EmailStatus
from resolvers.actor import Actor
from resolvers.auth import revoke_all_tokens
from resolvers.customers import require_customer
from resolvers.erased_copies import (
    ERASED,
    identifiers,
    rewriter,
    rewritten,
    scrub_digest_entries,
    scrub_team_emails,
    scrub_webhook_deliveries,
)
from resolvers.errors import AlreadyProcessed, ValidationFailed
from resolvers.invitations import effective_status, expire_overdue
from resolvers.passwords import verify_password
from resolvers.rate_limits import Limit, enforce
from resolvers.read_rules import scoped

DELETED_ACCOUNT = "Deleted account"
CONFIRM_PATH = ("input", "confirmCustomerNumber")


async def _rewrite_activity(
    rows: Sequence[ActivityEvent], pattern: re.Pattern[str] | None, casefolded_names: set[str]
) -> int:
    changed = 0
    for row in rows:
        summary = rewritten(pattern, row.summary) or ""
        actor_name = row.actor_name
        if actor_name and actor_name.casefold() in casefolded_names:
            actor_name = ERASED
        if summary != row.summary or actor_name != row.actor_name:
            await ActivityEvent.filter(id=row.id).update(summary=summary, actor_name=actor_name)
            changed += 1
    return changed


async def erase_customer(actor: Actor, customer_id: int, confirm_customer_number: str) -> Customer:
    """Overwrite a customer's personal data everywhere the partner holds it; irreversible."""
    actor.require_admin()
    customer = await require_customer(actor, customer_id, ("input", "customerId"))
    if (confirm_customer_number or "").strip().upper() != customer.customer_number:
        raise ValidationFailed.at(
            CONFIRM_PATH,
            f"Type the customer's number, {customer.customer_number}, to confirm the erasure.",
        )
    if customer.erased_at is not None:
        raise AlreadyProcessed("This customer has been erased already.", ("input", "customerId"))
    email = customer.email
    inquiries = await scoped(Inquiry, actor).filter(
        Q(customer_id=customer.id) | Q(email=email) if email else Q(customer_id=customer.id)
    )
    invitations = await scoped(AccessInvitation, actor).filter(customer_id=customer.id)
    addresses = {email, *(inquiry.email for inquiry in inquiries)} - {None, ""}
    emails = (
        await scoped(EmailDelivery, actor).filter(to_address__in=addresses) if addresses else []
    )
    full_names = identifiers(
        [
            customer.display_name,
            " ".join(filter(None, (customer.first_name, customer.last_name))),
            customer.company_name,
            *addresses,
            customer.phone,
            *(inquiry.name for inquiry in inquiries),
            *(inquiry.phone for inquiry in inquiries),
            *(inquiry.company_name for inquiry in inquiries),
            *(invitation.requester_name for invitation in invitations),
        ]
    )
    every_name = identifiers(
        [*full_names, customer.first_name, customer.last_name, customer.phone]
        + [part for name in full_names for part in name.split() if "@" not in name]
    )
    tasks = await scoped(Task, actor).filter(customer_id=customer.id)
    now = datetime.now(UTC)
    async with events.transaction():
        if not await _overwrite_customer(actor, customer, now):  # erased concurrently
            raise AlreadyProcessed(
                "This customer has been erased already.", ("input", "customerId")
            )
        await (
            scoped(Inquiry, actor)
            .filter(id__in=[inquiry.id for inquiry in inquiries])
            .update(
                name=ERASED,
                email="",
                phone=None,
                company_name=None,
                message="",
                dismiss_reason=None,
            )
        )
        revoked = await _close_authorizations(actor, invitations, now)
        cleared = [email.id for email in emails]
        await _clear_emails(scoped(EmailDelivery, actor).filter(id__in=cleared))
        await scrub_team_emails(actor, full_names, cleared)
        await scrub_digest_entries(actor, full_names)
        unassigned = 0
        for model in (Domain, Contract, Task):
            unassigned += (
                await scoped(model, actor).filter(customer_id=customer.id).update(customer_id=None)
            )
        await _rewrite_tasks(tasks, rewriter(every_name))
        own_rows = Q(customer_id=customer.id) | Q(subject_type="Customer", subject_id=customer.id)
        for subject_type, found in (
            ("Inquiry", inquiries),
            ("AccessInvitation", invitations),
            ("EmailDelivery", emails),
        ):
            if found:
                ids = [row.id for row in found]
                own_rows |= Q(subject_type=subject_type, subject_id__in=ids)
        casefolded = {name.casefold() for name in every_name}
        own = await scoped(ActivityEvent, actor).filter(own_rows)
        await _rewrite_activity(own, rewriter(every_name), casefolded)
        if full_names:
            naming = Q(*[Q(summary__icontains=name) for name in full_names], join_type=Q.OR)
            # Other customers' timelines are theirs: only the partner's feed rows are searched.
            unattached = scoped(ActivityEvent, actor).filter(naming, customer_id=None)
            others = await unattached.exclude(own_rows)
            await _rewrite_activity(others, rewriter(full_names), casefolded)
        await scoped(DataExport, actor).filter(customer_id=customer.id, used_at=None).delete()
        theirs = [("Customer", customer.id)]
        theirs += [("Inquiry", inquiry.id) for inquiry in inquiries]
        theirs += [("AccessInvitation", invitation.id) for invitation in invitations]
        await scrub_webhook_deliveries(actor, theirs, full_names)
        details = [f"{len(inquiries)} inquiries and {len(emails)} e-mails cleared"]
        details.append(f"{unassigned} items unassigned")
        if revoked:
            details.append(f"{revoked} access authorization revoked")
        await record_activity(
            customer.partner_id,
            ActivityVerb.CUSTOMER_ERASED,
            f"Customer {customer.customer_number} erased: personal data overwritten, "
            + ", ".join(details),
            actor=actor,
            customer_id=customer.id,
            subject=("Customer", customer.id),
        )
    return await Customer.get(id=customer.id)


async def _overwrite_customer(actor: Actor, customer: Customer, now: datetime) -> int:
    """Overwrite the customer's personal fields, once: how many rows it changed (0 or 1)."""
    return await (
        scoped(Customer, actor)
        .filter(id=customer.id, erased_at__isnull=True)
        .update(
            first_name=None,
            last_name=None,
            company_name=None,
            display_name="Erased customer",
            sort_name=ERASED,
            email=None,
            phone=None,
            street=None,
            postal_code=None,
            city=None,
            country=None,
            vat_id=None,
            external_id=None,
            notes=None,
            tags=[],
            tags_text="",
            search_text=customer.customer_number.lower(),
            status=CustomerStatus.ARCHIVED,
            erased_at=now,
            version=F("version") + 1,
            updated_at=now,
        )
    )


async def _close_authorizations(
    actor: Actor, invitations: Sequence[AccessInvitation], now: datetime
) -> int:
    """Scrub the person's authorizations; revoke the connected one. How many were revoked."""
    ids = [invitation.id for invitation in invitations]
    revoked = (
        await scoped(AccessInvitation, actor)
        .filter(id__in=ids, status=InvitationStatus.CONNECTED)
        .update(status=InvitationStatus.REVOKED, closed_at=now)
    )
    await (
        scoped(AccessInvitation, actor)
        .filter(id__in=ids)
        .update(requester_name=ERASED, message=None, decline_message=None)
    )
    return revoked


async def _clear_emails(emails: QuerySet[EmailDelivery]) -> None:
    """Bodies, recipient and error detail of e-mails to an erased person; queued ones are
    not sent any more."""
    await emails.filter(status=EmailStatus.QUEUED).update(
        status=EmailStatus.FAILED,
        last_error="Not sent: the recipient's data was erased.",
        next_attempt_at=None,
    )
    await emails.update(
        to_address="", to_name=None, text_body="", html_body="", last_error_detail=None
    )


async def _rewrite_tasks(tasks: Sequence[Task], pattern: re.Pattern[str] | None) -> None:
    """The customer's tasks lose the person's names in their title and description."""
    if pattern is None:
        return
    for task in tasks:
        title = rewritten(pattern, task.title) or task.title
        description = rewritten(pattern, task.description)
        if title != task.title or description != task.description:
            await Task.filter(id=task.id).update(title=title, description=description)


# ---------------------------------------------------------------- account holders


async def delete_my_account(actor: Actor, password: str) -> None:
    """Close the account holder's authorizations, overwrite their data, sign them out."""
    account = actor.require_account()
    key = f"ACCOUNT:{account.email}|{actor.client_ip or '-'}"
    await enforce((Limit.LOGIN_PER_EMAIL_AND_IP, key))
    if not await verify_password(account.password_hash, password or ""):
        raise ValidationFailed.at(("password",), "The password is wrong.")
    own = scoped(AccessInvitation, actor)
    await expire_overdue(own)  # overdue pending ones expire as such, with their activity rows
    now = datetime.now(UTC)
    name = account.name
    async with events.transaction():
        for invitation in await own.filter(
            status__in=(InvitationStatus.PENDING, InvitationStatus.CONNECTED)
        ):
            await _close_for_deleted_account(actor, invitation, name, now)
        await own.update(requester_name=DELETED_ACCOUNT, message=None, decline_message=None)
        # E-mails PartnerDesk sent them on any partner's behalf: by address, not by partner.
        await _clear_emails(EmailDelivery.filter(to_address=account.email))
        await AccountHolder.filter(id=account.id).update(
            email=f"deleted-{account.id}@deleted.invalid",
            name=DELETED_ACCOUNT,
            phone=None,
            company_name=None,
            password_hash="!",  # no password ever matches it
        )
        await revoke_all_tokens(account)
        # Links e-mailed to them (verification, password reset) stop working with the account.
        await IdentityToken.filter(account_id=account.id, used_at=None).update(revoked_at=now)
        await PasswordResetRequest.filter(realm=Realm.ACCOUNT, email__iexact=account.email).delete()
        await scoped(DataExport, actor).delete()


async def _close_for_deleted_account(
    actor: Actor, invitation: AccessInvitation, name: str, now: datetime
) -> None:
    """Withdraw a pending authorization or revoke a connected one, as the account holder
    would, with the same activity rows and events for the partner."""
    if effective_status(invitation, now) == InvitationStatus.PENDING:
        status, verb, what = (
            InvitationStatus.WITHDRAWN,
            ActivityVerb.INVITATION_WITHDRAWN,
            "withdrawn",
        )
    else:
        status, verb, what = InvitationStatus.REVOKED, ActivityVerb.ACCESS_REVOKED, "revoked"
    changed = (
        await scoped(AccessInvitation, actor)
        .filter(id=invitation.id, status=invitation.status)
        .update(status=status, closed_at=now)
    )
    if changed:
        await record_activity(
            invitation.partner_id,
            verb,
            f"Access authorization from {name} {what}: the account was deleted",
            actor=actor,
            customer_id=invitation.customer_id if status == InvitationStatus.REVOKED else None,
            subject=("AccessInvitation", invitation.id),
        )
