"""Webhooks: endpoints, their deliveries, and the mutations that manage them (../shared/api/webhooks.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.webhook import WebhookDelivery as WebhookDeliveryModel
from models.webhook import WebhookDeliveryStatus, WebhookEventType
from models.webhook import WebhookEndpoint as WebhookEndpointModel
from resolvers import webhooks
from resolvers.pagination import Page
from schema.auth import OkPayload
from schema.context import Info
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import decode_id, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import (
    CONNECTION_EDGES,
    EDGE_CURSOR,
    EDGE_NODE,
    After,
    Connection,
    First,
    Node,
    build_connection,
    page_request,
)
from webhooks.addresses import UrlPolicy

register_enum(
    WebhookEventType,
    'What a delivery reports; its body\'s "type" is the name in lower case with the first '
    'underscore a dot (INVITATION_CONNECTED: "invitation.connected"). PING is sent by '
    "sendTestWebhook only and cannot be subscribed to.",
    {
        "INQUIRY_RECEIVED": "An inquiry arrived through the public profile.",
        "INQUIRY_CONVERTED": "An inquiry was assigned to a customer.",
        "INQUIRY_DISMISSED": "An inquiry was dismissed.",
        "INVITATION_RECEIVED": "An account holder sent an access authorization.",
        "INVITATION_CONNECTED": "An access authorization was connected to a customer.",
        "INVITATION_DECLINED": "An access authorization was declined.",
        "INVITATION_WITHDRAWN": "The account holder withdrew an access authorization.",
        "INVITATION_EXPIRED": "An access authorization expired undecided.",
        "ACCESS_REVOKED": "The account holder revoked a connected access authorization.",
        "CUSTOMER_CREATED": "A customer was created (by a member, a convert, a connect or an "
        "import).",
        "CUSTOMER_UPDATED": "A customer's fields changed (by a member or an import).",
        "CUSTOMER_ARCHIVED": "A customer was archived.",
        "CUSTOMER_ERASED": "A customer's personal data was erased.",
        "PING": "A test from sendTestWebhook; cannot be subscribed to.",
    },
)
register_enum(
    WebhookDeliveryStatus,
    "QUEUED until the first attempt, SENDING while a worker sends it, then DELIVERED (2xx), "
    "RETRYING (backoff) or FAILED (gave up, 410 Gone, or the endpoint is disabled).",
    {
        "QUEUED": "Waiting for its first attempt (or queued again by redeliverWebhook).",
        "SENDING": "A worker is sending it now.",
        "DELIVERED": "The endpoint answered with a 2xx status.",
        "RETRYING": "An attempt failed; the next is due at nextAttemptAt (backoff with jitter, "
        "at most an hour apart).",
        "FAILED": "Given up: failing for too long (72 hours by default), answered 410 Gone, or "
        "the endpoint is disabled.",
    },
)
ENDPOINT_ID = "The webhook endpoint's global id."


@strawberry.type(
    description=(
        "One event for one endpoint. Its id is the webhook-id header of every attempt: receivers "
        "de-duplicate on it. Deliveries are not ordered: each is retried on its own."
    )
)
class WebhookDelivery(Node):
    event_type: WebhookEventType = strawberry.field(description="What it reports.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts so far.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last answer, if the endpoint answered."
    )
    last_error: str | None = strawberry.field(
        description=(
            'Why the last attempt failed, in short ("The endpoint answered 500; retrying"); '
            "never the receiver's answer, headers or the secret."
        )
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (QUEUED and RETRYING only)."
    )
    created_at: datetime = strawberry.field(description="When the change queued it.")
    delivered_at: datetime | None = strawberry.field(
        description="When the endpoint answered 2xx; null unless DELIVERED."
    )
    payload: str = strawberry.field(description="The JSON body sent, the same on every attempt.")

    @classmethod
    def from_model(cls, delivery: WebhookDeliveryModel) -> WebhookDelivery:
        waiting = delivery.status in (WebhookDeliveryStatus.QUEUED, WebhookDeliveryStatus.RETRYING)
        return cls(
            id=to_global_id("WebhookDelivery", delivery.id),
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at if waiting else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            payload=delivery.payload,
        )


@strawberry.type(description="A delivery in a page of deliveries, with its cursor.")
class WebhookDeliveryEdge:
    node: WebhookDelivery = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of webhook deliveries (Relay connection).")
class WebhookDeliveryConnection(Connection):
    edges: list[WebhookDeliveryEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[WebhookDeliveryModel]) -> WebhookDeliveryConnection:
        return build_connection(cls, WebhookDeliveryEdge, page, WebhookDelivery.from_model)


@strawberry.type(
    description=(
        "A URL of the partner's own systems that receives its events, signed per the Standard "
        "Webhooks specification. The partner's OWNER and ADMINs see them."
    )
)
class WebhookEndpoint(Node):
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    description: str | None = strawberry.field(description="The partner's note on it.")
    event_types: list[WebhookEventType] = strawberry.field(
        description="The types it receives; empty = all."
    )
    enabled: bool = strawberry.field(
        description="Whether it gets deliveries; the worker turns it off after a 410 Gone, or "
        "once every delivery failed for 72 hours (by default)."
    )
    disabled_reason: str | None = strawberry.field(
        description='Why it is disabled, e.g. "Every delivery failed for 3 days".'
    )
    created_at: datetime = strawberry.field(description="When it was registered.")
    _pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, endpoint: WebhookEndpointModel) -> WebhookEndpoint:
        return cls(
            id=to_global_id("WebhookEndpoint", endpoint.id),
            url=endpoint.url,
            description=endpoint.description,
            event_types=[WebhookEventType(name) for name in endpoint.event_types],
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            created_at=endpoint.created_at,
            _pk=endpoint.id,
        )

    @strawberry.field(description="Its deliveries, newest first; `status` keeps those given.")
    async def deliveries(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
        status: Annotated[
            list[WebhookDeliveryStatus] | None,
            strawberry.argument(description="Any of these statuses; null or empty: all."),
        ] = None,
    ) -> WebhookDeliveryConnection:
        page = await webhooks.list_deliveries(
            info.context.actor, self._pk, page_request(first, after), status
        )
        return WebhookDeliveryConnection.of(page)


async def endpoints_of_partner(info: Info) -> list[WebhookEndpoint]:
    """Partner.webhookEndpoints (schema/partners.py)."""
    return [
        WebhookEndpoint.from_model(endpoint)
        for endpoint in await webhooks.list_endpoints(info.context.actor)
    ]


@strawberry.type(description="The result of a change to a webhook endpoint.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint as it is now.")
    secret: str | None = strawberry.field(
        description='The "whsec_..." signing secret: shown once, on create and on rotate.'
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


@strawberry.type(description="The result of sendTestWebhook or redeliverWebhook.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(description="The queued delivery.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


URL = (
    "https:// (http:// is accepted outside production), at most 2,048 characters, without "
    "credentials or #fragment; no private addresses (unless the server allows them) and no "
    "cloud metadata ones."
)
DESCRIPTION = "A note for the team, at most 500 characters."


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description=URL)
    description: str | None = strawberry.field(default=strawberry.UNSET, description=DESCRIPTION)
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=strawberry.UNSET, description="Empty or left out: every type."
    )


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID = strawberry.field(description=ENDPOINT_ID)
    url: str | None = strawberry.field(default=strawberry.UNSET, description=f"{URL} Not null.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{DESCRIPTION} Null clears it."
    )
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=strawberry.UNSET, description="The types it receives; empty or null: every type."
    )
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false stops deliveries (pending ones fail); true resumes them.",
    )


@strawberry.input(description="Which webhook endpoint.")
class WebhookEndpointIdInput:
    endpoint_id: strawberry.ID = strawberry.field(description=ENDPOINT_ID)


def _endpoint_pk(global_id: str) -> int:
    return decode_id(global_id, "WebhookEndpoint", ("endpointId",), "Webhook endpoint")


@strawberry.type
class WebhookMutation:
    @mutation(
        description="Register an endpoint (at most 20 per partner); its signing secret is "
        "shown this once."
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[
            CreateWebhookEndpointInput, strawberry.argument(description="The new endpoint.")
        ],
    ) -> WebhookEndpointPayload:
        endpoint, secret = await webhooks.create_endpoint(
            info.context.actor, UrlPolicy.of(info.context.settings), given_fields(input)
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret, errors=[]
        )

    @mutation(description="Change an endpoint's URL, description, event types or enabled state.")
    async def update_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[
            UpdateWebhookEndpointInput,
            strawberry.argument(description="The endpoint and what to change."),
        ],
    ) -> WebhookEndpointPayload:
        given = given_fields(input)
        endpoint = await webhooks.update_endpoint(
            info.context.actor,
            UrlPolicy.of(info.context.settings),
            _endpoint_pk(given.pop("endpoint_id")),
            given,
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=None, errors=[]
        )

    @mutation(description="Remove an endpoint and its deliveries.")
    async def delete_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[WebhookEndpointIdInput, strawberry.argument(description="Which one.")],
    ) -> OkPayload:
        await webhooks.delete_endpoint(info.context.actor, _endpoint_pk(input.endpoint_id))
        return OkPayload(ok=True, errors=[])

    @mutation(
        description="A new secret, shown this once; the old one keeps signing alongside for 24 h."
    )
    async def rotate_webhook_secret(
        self,
        info: Info,
        input: Annotated[WebhookEndpointIdInput, strawberry.argument(description="Which one.")],
    ) -> WebhookEndpointPayload:
        endpoint, secret = await webhooks.rotate_secret(
            info.context.actor, _endpoint_pk(input.endpoint_id)
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret, errors=[]
        )

    @mutation(description="Queue a PING to an enabled endpoint, whatever event types it takes.")
    async def send_test_webhook(
        self,
        info: Info,
        input: Annotated[WebhookEndpointIdInput, strawberry.argument(description="Which one.")],
    ) -> WebhookDeliveryPayload:
        delivery = await webhooks.send_test(info.context.actor, _endpoint_pk(input.endpoint_id))
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_model(delivery), errors=[])

    @mutation(
        description="Send a delivery again: same id and body, due now, a fresh retry window; "
        "its endpoint must be enabled."
    )
    async def redeliver_webhook(
        self,
        info: Info,
        delivery_id: Annotated[
            strawberry.ID, strawberry.argument(description="The delivery's global id.")
        ],
    ) -> WebhookDeliveryPayload:
        pk = decode_id(delivery_id, "WebhookDelivery", ("deliveryId",), "Webhook delivery")
        delivery = await webhooks.redeliver_delivery(info.context.actor, pk)
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_model(delivery), errors=[])
