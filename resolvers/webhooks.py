"""Webhook endpoints and their deliveries: register, change, remove, rotate, test, redeliver.

The partner's OWNER and ADMINs manage them (resolvers/permissions.py); a MEMBER reads none
(an empty list, null for an id), since an endpoint's URL and deliveries show where the
partner's data goes. Every change to an endpoint writes its activity row. The secret is
returned by create and rotate only, once; nothing else ever shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import events
from events.activity import record_activity
from models.activity import ActivityVerb
from models.partner import MemberRole
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType
from resolvers.actor import Actor
from resolvers.errors import AlreadyProcessed, Conflict, NotFound, ValidationFailed
from resolvers.pagination import Page, PageRequest, keyset_page
from resolvers.read_rules import WEBHOOK_DELIVERIES, scoped, selected
from resolvers.validation import Problems, clean_text
from webhooks.addresses import UrlPolicy
from webhooks.endpoints import fail_pending
from webhooks.outbox import SUBSCRIBABLE, queue_ping, redeliver
from webhooks.signing import new_secret

MAX_ENDPOINTS_PER_PARTNER = 20
# After rotateWebhookSecret, the replaced secret keeps signing for this long.
ROTATION_OVERLAP = timedelta(hours=24)
ENDPOINT_PATH = ("endpointId",)
DELIVERY_PATH = ("deliveryId",)
ENDPOINT_IS_DISABLED = "The endpoint is disabled; enable it first."


def _manages_webhooks(actor: Actor) -> bool:
    member = actor.member
    return member is not None and member.role in (MemberRole.OWNER, MemberRole.ADMIN)


# ---------------------------------------------------------------- reads


async def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    """The partner's endpoints, oldest first; none for a MEMBER."""
    actor.require_member()
    if not _manages_webhooks(actor):
        return []
    return await scoped(WebhookEndpoint, actor).order_by("id")


async def get_endpoint(actor: Actor, endpoint_id: int | None) -> WebhookEndpoint | None:
    """The partner's endpoint, or None (another partner's, none at all, or asked by a MEMBER)."""
    if endpoint_id is None or not _manages_webhooks(actor):
        return None
    return await scoped(WebhookEndpoint, actor).get_or_none(id=endpoint_id)


async def get_delivery(actor: Actor, delivery_id: int | None) -> WebhookDelivery | None:
    """The partner's delivery, or None (as get_endpoint)."""
    if delivery_id is None or not _manages_webhooks(actor):
        return None
    return await scoped(WebhookDelivery, actor).get_or_none(id=delivery_id)


async def list_deliveries(
    actor: Actor,
    endpoint_id: int,
    page: PageRequest,
    statuses: Iterable[WebhookDeliveryStatus] | None = None,
) -> Page[WebhookDelivery]:
    """One page of an endpoint's deliveries, newest first, of the given statuses (any if none)."""
    conditions = WEBHOOK_DELIVERIES.conditions(
        {"endpoint_id": endpoint_id, "statuses": list(statuses or [])}
    )
    return await keyset_page(
        selected(WebhookDelivery, actor, conditions), WEBHOOK_DELIVERIES.order(), page
    )


async def _require_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await get_endpoint(actor, endpoint_id)
    if endpoint is None:
        raise NotFound("Webhook endpoint", ENDPOINT_PATH)
    return endpoint


# ---------------------------------------------------------------- input


def _clean_url(problems: Problems, value: str | None, policy: UrlPolicy) -> str | None:
    url = clean_text(problems, "url", value, max_length=2048, required=True, label="URL")
    if url is None:
        return None
    problem = policy.problem(url)
    if problem is not None:
        problems.add("url", problem)
        return None
    return url


def _clean_event_types(problems: Problems, given: Iterable[Any] | None) -> list[str]:
    """Names of the subscribable types given, in declaration order; empty means all."""
    wanted = {WebhookEventType(value) for value in given or []}
    if WebhookEventType.PING in wanted:
        problems.add(
            "eventTypes", "PING cannot be subscribed to: sendTestWebhook sends it on request."
        )
    return [event_type.value for event_type in SUBSCRIBABLE if event_type in wanted]


def _clean_description(problems: Problems, value: str | None) -> str | None:
    return clean_text(problems, "description", value, max_length=500, label="Description")


# ---------------------------------------------------------------- changes


async def create_endpoint(
    actor: Actor, policy: UrlPolicy, given: Mapping[str, Any]
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; (it, its "whsec_..." secret, which is shown this once)."""
    member = actor.require_admin()
    problems = Problems()
    url = _clean_url(problems, given.get("url"), policy)
    description = _clean_description(problems, given.get("description"))
    event_types = _clean_event_types(problems, given.get("event_types"))
    problems.raise_if_any()
    assert url is not None
    if await scoped(WebhookEndpoint, actor).count() >= MAX_ENDPOINTS_PER_PARTNER:
        raise ValidationFailed.at(
            ("url",), f"A partner can have at most {MAX_ENDPOINTS_PER_PARTNER} webhook endpoints."
        )
    secret = new_secret()
    async with events.transaction():
        endpoint = await WebhookEndpoint.create(
            partner_id=member.partner_id,
            url=url,
            description=description,
            event_types=event_types,
            secret=secret,
        )
        await record_activity(
            member.partner_id,
            ActivityVerb.WEBHOOK_CREATED,
            f"Webhook endpoint {url} added",
            actor=actor,
            subject=("WebhookEndpoint", endpoint.id),
        )
    return endpoint, secret


async def update_endpoint(
    actor: Actor, policy: UrlPolicy, endpoint_id: int, given: Mapping[str, Any]
) -> WebhookEndpoint:
    """Change the given fields; disabling fails the pending deliveries, enabling clears the reason."""
    member = actor.require_admin()
    endpoint = await _require_endpoint(actor, endpoint_id)
    problems = Problems()
    changes: dict[str, Any] = {}
    if "url" in given:
        changes["url"] = _clean_url(problems, given["url"], policy)
    if "description" in given:
        changes["description"] = _clean_description(problems, given["description"])
    if "event_types" in given:
        changes["event_types"] = _clean_event_types(problems, given["event_types"])
    if "enabled" in given:
        if given["enabled"] is None:
            problems.add("enabled", "enabled must be true or false.")
        else:
            changes["enabled"] = bool(given["enabled"])
    problems.raise_if_any()
    changed = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
    if not changed:
        return endpoint
    now = datetime.now(UTC)
    disabling = changed.get("enabled") is False
    if "enabled" in changed:
        changed["disabled_at"] = now if disabling else None
        changed["disabled_reason"] = f"Disabled by {member.name}"[:200] if disabling else None
        changed["failing_since"] = None
    async with events.transaction():
        updated = (
            await scoped(WebhookEndpoint, actor)
            .filter(id=endpoint.id)
            .update(**changed, updated_at=now)
        )
        if not updated:
            raise NotFound("Webhook endpoint", ENDPOINT_PATH)  # deleted meanwhile
        if disabling:
            await fail_pending(endpoint.id)
        names = sorted(name for name in changes if name in changed)
        await record_activity(
            member.partner_id,
            ActivityVerb.WEBHOOK_UPDATED,
            f"Webhook endpoint {changed.get('url', endpoint.url)} changed: {', '.join(names)}",
            actor=actor,
            subject=("WebhookEndpoint", endpoint.id),
        )
    return await WebhookEndpoint.get(id=endpoint.id)


async def delete_endpoint(actor: Actor, endpoint_id: int) -> None:
    """Remove an endpoint and its deliveries, for good."""
    member = actor.require_admin()
    endpoint = await _require_endpoint(actor, endpoint_id)
    async with events.transaction():
        await scoped(WebhookDelivery, actor).filter(endpoint_id=endpoint.id).delete()
        if not await scoped(WebhookEndpoint, actor).filter(id=endpoint.id).delete():
            raise NotFound("Webhook endpoint", ENDPOINT_PATH)
        await record_activity(
            member.partner_id,
            ActivityVerb.WEBHOOK_DELETED,
            f"Webhook endpoint {endpoint.url} removed",
            actor=actor,
            subject=("WebhookEndpoint", endpoint.id),
        )


async def rotate_secret(actor: Actor, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown this once; the replaced one keeps signing alongside it for 24 hours."""
    member = actor.require_admin()
    endpoint = await _require_endpoint(actor, endpoint_id)
    secret = new_secret()
    now = datetime.now(UTC)
    async with events.transaction():
        # Conditional on the secret read: of two concurrent rotations one wins, and no secret
        # handed out is lost without a word.
        rotated = (
            await scoped(WebhookEndpoint, actor)
            .filter(id=endpoint.id, secret=endpoint.secret)
            .update(
                secret=secret,
                previous_secret=endpoint.secret,
                previous_secret_until=now + ROTATION_OVERLAP,
                updated_at=now,
            )
        )
        if not rotated:
            raise Conflict("The secret was rotated meanwhile; rotate again.", ENDPOINT_PATH)
        await record_activity(
            member.partner_id,
            ActivityVerb.WEBHOOK_SECRET_ROTATED,
            f"Webhook endpoint {endpoint.url}: signing secret rotated",
            actor=actor,
            subject=("WebhookEndpoint", endpoint.id),
        )
    return await WebhookEndpoint.get(id=endpoint.id), secret


async def send_test(actor: Actor, endpoint_id: int) -> WebhookDelivery:
    """Queue a PING to the endpoint, whatever its filter."""
    actor.require_admin()
    endpoint = await _require_endpoint(actor, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(ENDPOINT_IS_DISABLED, ENDPOINT_PATH)
    async with events.transaction():
        return await queue_ping(endpoint)


async def redeliver_delivery(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (same id and body), due now, with a fresh retry window."""
    actor.require_admin()
    delivery = await get_delivery(actor, delivery_id)
    if delivery is None:
        raise NotFound("Webhook delivery", DELIVERY_PATH)
    endpoint = await scoped(WebhookEndpoint, actor).get(id=delivery.endpoint_id)
    if not endpoint.enabled:
        raise Conflict(ENDPOINT_IS_DISABLED, DELIVERY_PATH)
    async with events.transaction():
        if not await redeliver(delivery):
            raise AlreadyProcessed("This delivery is being sent right now.", DELIVERY_PATH)
    return await WebhookDelivery.get(id=delivery.id)
