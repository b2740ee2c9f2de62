"""Everything held about one person, as the GDPR exports write it (Art. 15 and 20).

For a partner's customer: the customer's fields, their items, the inquiries they sent (the
assigned ones and any other from their e-mail address), their access authorizations, their
timeline and the e-mails sent to them. For an account holder: their account, their
authorizations with each partner and the status it has now, and the e-mails sent to them.

Each document is a sequence of (member name, JSON value) pairs, read one part at a time,
which resolvers/exports.py writes out as they come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q

from models.account import AccountHolder
from models.activity import ActivityEvent
from models.customer import Customer
from models.inquiry import Inquiry
from models.invitation import AccessInvitation
from models.item import Contract, Domain, Task
from models.outbox import EmailDelivery
from models.partner import Partner
from resolvers.actor import Actor
from resolvers.invitations import effective_status
from resolvers.read_rules import scoped

Part = tuple[str, Any]


def _customer_fields(customer: Customer) -> dict[str, Any]:
    return {
        "customerNumber": customer.customer_number,
        "externalId": customer.external_id,
        "kind": customer.kind,
        "displayName": customer.display_name,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "companyName": customer.company_name,
        "email": customer.email,
        "phone": customer.phone,
        "address": {
            "street": customer.street,
            "postalCode": customer.postal_code,
            "city": customer.city,
            "country": customer.country,
        },
        "vatId": customer.vat_id,
        "language": customer.language,
        "notes": customer.notes,
        "tags": list(customer.tags or []),
        "status": customer.status,
        "source": customer.source,
        "createdAt": customer.created_at,
        "updatedAt": customer.updated_at,
    }


def _email_json(email: EmailDelivery) -> dict[str, Any]:
    return {
        "to": email.to_address,
        "subject": email.subject,
        "status": email.status,
        "queuedAt": email.queued_at,
        "sentAt": email.sent_at,
        "text": email.text_body or None,  # cleared after the retention period
    }


def _invitation_json(invitation: AccessInvitation) -> dict[str, Any]:
    return {
        "status": effective_status(invitation),
        "scope": invitation.scope,
        "permissions": list(invitation.permissions or []),
        "message": invitation.message,
        "receivedAt": invitation.received_at,
        "expiresAt": invitation.expires_at,
        "decidedAt": invitation.decided_at,
        "declineMessage": invitation.decline_message,
        "closedAt": invitation.closed_at,
    }


async def customer_document(actor: Actor, customer: Customer) -> AsyncIterator[Part]:
    """Everything the actor's partner holds about `customer`."""
    yield "exportedAt", datetime.now(UTC)
    yield "customer", _customer_fields(customer)
    yield (
        "domains",
        [
            {"name": domain.name, "status": domain.status, "expiresOn": domain.expires_on}
            for domain in await scoped(Domain, actor).filter(customer_id=customer.id).order_by("id")
        ],
    )
    contracts = await scoped(Contract, actor).filter(customer_id=customer.id).order_by("id")
    yield (
        "contracts",
        [
            {
                "contractNumber": contract.contract_number,
                "product": contract.product,
                "status": contract.status,
                "startsOn": contract.starts_on,
                "endsOn": contract.ends_on,
                "monthlyFee": None
                if contract.fee_amount is None
                else {"amount": str(contract.fee_amount), "currency": contract.fee_currency},
            }
            for contract in contracts
        ],
    )
    tasks = await scoped(Task, actor).filter(customer_id=customer.id).order_by("id")
    yield (
        "tasks",
        [
            {
                "title": task.title,
                "description": task.description,
                "status": task.status,
                "dueOn": task.due_on,
            }
            for task in tasks
        ],
    )
    sent_by_them = Q(customer_id=customer.id)
    if customer.email:
        sent_by_them |= Q(email=customer.email)
    inquiries = await scoped(Inquiry, actor).filter(sent_by_them).order_by("id")
    yield (
        "inquiries",
        [
            {
                "status": inquiry.status,
                "receivedAt": inquiry.received_at,
                "name": inquiry.name,
                "email": inquiry.email,
                "phone": inquiry.phone,
                "companyName": inquiry.company_name,
                "message": inquiry.message,
            }
            for inquiry in inquiries
        ],
    )
    authorizations = (
        await scoped(AccessInvitation, actor).filter(customer_id=customer.id).order_by("id")
    )
    yield "accessAuthorizations", [_invitation_json(found) for found in authorizations]
    activity = await scoped(ActivityEvent, actor).filter(customer_id=customer.id).order_by("id")
    yield (
        "activity",
        [
            {
                "at": event.at,
                "verb": event.verb,
                "actorName": event.actor_name,
                "summary": event.summary,
            }
            for event in activity
        ],
    )
    emails = []
    if customer.email:
        emails = await scoped(EmailDelivery, actor).filter(to_address=customer.email).order_by("id")
    yield "emails", [_email_json(email) for email in emails]


async def account_document(account: AccountHolder) -> AsyncIterator[Part]:
    """Everything PartnerDesk holds about an account holder, from their own account."""
    actor = Actor(account=account)
    yield "exportedAt", datetime.now(UTC)
    yield (
        "account",
        {
            "accountNumber": account.account_number,
            "email": account.email,
            "name": account.name,
            "phone": account.phone,
            "companyName": account.company_name,
            "language": account.language,
            "createdAt": account.created_at,
        },
    )
    invitations = await scoped(AccessInvitation, actor).order_by("id")
    partners = {
        partner.id: partner
        for partner in await Partner.filter(id__in={found.partner_id for found in invitations})
    }
    yield (
        "authorizations",
        [
            {
                "partner": {
                    "name": partners[found.partner_id].display_name,
                    "slug": partners[found.partner_id].slug,
                },
                **_invitation_json(found),
            }
            for found in invitations
        ],
    )
    # The e-mails PartnerDesk sent them on any partner's behalf: theirs to see, whichever
    # partner's outbox row it is, so this read is by address rather than by partner.
    emails = await EmailDelivery.filter(to_address=account.email).order_by("id")
    yield "emails", [_email_json(email) for email in emails]
