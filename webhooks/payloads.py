"""The JSON body of each event: {"type": "invitation.connected", "timestamp": ..., "data": {...}}.

`data` holds what a receiver needs without calling back: the objects concerned, as the API
shows them to the partner (field names as in GraphQL, ids as global ids, so `node(id)` finds
them), read inside the transaction of the change, so they are what it committed. An
authorization that is no longer live shows its sender's name only, as the API does. The
README documents every type with an example.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from models.account import AccountHolder
from models.customer import Customer
from models.global_ids import global_id
from models.inquiry import Inquiry
from models.invitation import LIVE_STATUSES, AccessInvitation
from models.webhook import WebhookEventType

Data = dict[str, Any]


def body(event_type: WebhookEventType, at: datetime, data: Data) -> str:
    """The body as sent: compact JSON, keys in a fixed order."""
    return orjson.dumps({"type": event_type.wire_name, "timestamp": at, "data": data}).decode()


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer_summary(customer: Customer) -> Data:
    """A customer another object points at (an inquiry's, an authorization's)."""
    return {
        "id": global_id("Customer", customer.id),
        "customerNumber": customer.customer_number,
        "displayName": customer.display_name,
    }


def customer_data(customer: Customer) -> Data:
    has_address = any((customer.street, customer.postal_code, customer.city, customer.country))
    return {
        **customer_summary(customer),
        "kind": customer.kind.value,
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
        }
        if has_address
        else None,
        "vatId": customer.vat_id,
        "externalId": customer.external_id,
        "language": customer.language,
        "notes": customer.notes,
        "tags": list(customer.tags or []),
        "status": customer.status.value,
        "source": customer.source.value,
        "version": customer.version,
        "createdAt": _when(customer.created_at),
        "updatedAt": _when(customer.updated_at),
    }


def inquiry_data(inquiry: Inquiry) -> Data:
    return {
        "id": global_id("Inquiry", inquiry.id),
        "status": inquiry.status.value,
        "name": inquiry.name,
        "email": inquiry.email,
        "phone": inquiry.phone,
        "companyName": inquiry.company_name,
        "message": inquiry.message,
        "receivedAt": _when(inquiry.received_at),
        "assignedAt": _when(inquiry.assigned_at),
        "dismissedAt": _when(inquiry.dismissed_at),
        "dismissReason": inquiry.dismiss_reason,
    }


async def invitation_data(invitation: AccessInvitation) -> Data:
    requester: Data = {"name": invitation.requester_name}
    if invitation.status in LIVE_STATUSES:
        account = await AccountHolder.get(id=invitation.account_id)
        requester = {
            "id": global_id("AccountHolder", account.id),
            "accountNumber": account.account_number,
            "name": account.name,
            "email": account.email,
            "phone": account.phone,
            "companyName": account.company_name,
            "language": account.language,
        }
    return {
        "id": global_id("AccessInvitation", invitation.id),
        "status": invitation.status.value,
        "scope": invitation.scope.value,
        "permissions": list(invitation.permissions),
        "message": invitation.message,
        "requester": requester,
        "receivedAt": _when(invitation.received_at),
        "expiresAt": _when(invitation.expires_at),
        "decidedAt": _when(invitation.decided_at),
        "declineMessage": invitation.decline_message,
        "closedAt": _when(invitation.closed_at),
    }


async def event_data(
    event_type: WebhookEventType,
    *,
    subject: tuple[str, int] | None,
    customer_id: int | None,
    actor_name: str | None,
) -> Data:
    """`data` of a domain event, read from the rows the change wrote (inside its transaction)."""
    data: Data = {}
    subject_type, subject_id = subject if subject else (None, None)
    if event_type == WebhookEventType.CUSTOMER_ERASED:
        # Nothing personal is left to send: the id is what the receiver erases by.
        erased = subject_id if subject_type == "Customer" else customer_id
        data["customer"] = {"id": global_id("Customer", erased)} if erased else None
    elif subject_type == "Customer" and subject_id is not None:
        return customer_event_data(await Customer.get(id=subject_id), actor_name)
    elif subject_type == "Inquiry" and subject_id is not None:
        inquiry = await Inquiry.get(id=subject_id)
        data["inquiry"] = inquiry_data(inquiry)
        customer_id = customer_id or inquiry.customer_id
    elif subject_type == "AccessInvitation" and subject_id is not None:
        invitation = await AccessInvitation.get(id=subject_id)
        data["invitation"] = await invitation_data(invitation)
        customer_id = customer_id or invitation.customer_id
    if "customer" not in data and customer_id is not None:
        customer = await Customer.get_or_none(id=customer_id)
        data["customer"] = customer_summary(customer) if customer else None
    data["actorName"] = actor_name
    return data


def customer_event_data(customer: Customer, actor_name: str | None) -> Data:
    """`data` of a change whose subject is a customer (CUSTOMER_CREATED, _UPDATED, ...)."""
    return {"customer": customer_data(customer), "actorName": actor_name}


def ping_data(endpoint_id: int) -> Data:
    return {
        "endpoint": {"id": global_id("WebhookEndpoint", endpoint_id)},
        "message": "A test event from PartnerDesk (sendTestWebhook).",
    }
