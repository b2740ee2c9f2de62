"""Turning an endpoint off: by its partner (updateWebhookEndpoint) or by the worker, when the
receiver answered 410 Gone or failed every attempt for PARTNERDESK_WEBHOOK_MAX_AGE_HOURS.

A disabled endpoint gets no new deliveries (webhooks/outbox.py queues for enabled ones only)
and its pending ones fail at once, saying why; `redeliverWebhook` sends them again once it is
enabled. When the worker disables one, the partner's owners get one e-mail, and the activity
feed says so.
"""

from __future__ import annotations

from datetime import UTC, datetime

from events.activity import record_activity
from mailers.outbox import queue_email
from mailers.templates import WEBHOOK_DISABLED
from models.activity import ActivityVerb
from models.partner import MemberRole, Partner, PartnerMember
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

PENDING = (WebhookDeliveryStatus.QUEUED, WebhookDeliveryStatus.RETRYING)
DISABLED = "The endpoint is disabled"


def span(hours: float) -> str:
    """72 -> "3 days", 36 -> "36 hours", 0.5 -> "0.5 hours"."""
    days = hours / 24
    if days == int(days) and days >= 1:
        return f"{days:g} day" if days == 1 else f"{days:g} days"
    return f"{hours:g} hours"


def failing_for(hours: float) -> str:
    """The reason an endpoint failing for `hours` is disabled with."""
    return f"Every delivery failed for {span(hours)}"


async def fail_pending(endpoint_id: int) -> int:
    """Fail the endpoint's deliveries that wait for an attempt (it was disabled); how many."""
    return await WebhookDelivery.filter(endpoint_id=endpoint_id, status__in=PENDING).update(
        status=WebhookDeliveryStatus.FAILED, last_error=DISABLED, next_attempt_at=None
    )


async def disable_failing_endpoint(endpoint: WebhookEndpoint, reason: str) -> bool:
    """The worker turns an endpoint off (inside an events.transaction()): its pending deliveries
    fail, its partner's owners get one e-mail, the feed records it. False if it already was."""
    now = datetime.now(UTC)
    changed = await WebhookEndpoint.filter(id=endpoint.id, enabled=True).update(
        enabled=False, disabled_reason=reason[:200], disabled_at=now
    )
    if not changed:
        return False  # another worker, or the partner, got there first: one e-mail only
    await fail_pending(endpoint.id)
    partner = await Partner.get(id=endpoint.partner_id)
    owners = await PartnerMember.filter(partner_id=endpoint.partner_id, role=MemberRole.OWNER)
    for owner in owners:
        await queue_email(
            template=WEBHOOK_DISABLED,
            # Members may carry a language one day (identity work); English until then.
            language=getattr(owner, "language", None),
            to_address=owner.email,
            to_name=owner.name,
            values={
                "recipient": owner.name,
                "partner": partner.display_name,
                "message": f"{endpoint.url}\n{reason}",
            },
            partner_id=endpoint.partner_id,
        )
    await record_activity(
        endpoint.partner_id,
        ActivityVerb.WEBHOOK_DISABLED,
        f"Webhook endpoint {endpoint.url} disabled: {reason}",
        subject=("WebhookEndpoint", endpoint.id),
    )
    return True
