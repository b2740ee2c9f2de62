"""Webhooks: endpoints, their deliveries, and the mutations that manage them (../shared/api/webhooks.graphql)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.webhook import WebhookDelivery as WebhookDeliveryModel
from models.webhook import WebhookDeliveryStatus, WebhookEventType
from models.webhook import WebhookEndpoint as WebhookEndpointModel
from resolvers import webhooks
from resolvers.pagination import Page
from schema.auth import OkPayload
from schema.context import Info
from schema.errors import UserError
from schema.ids import decode_id, to_global_id
from schema.inputs import given_fields
from schema.mutations import mutation
from schema.relay import Connection, Node, build_connection, page_request
from webhooks.addresses import UrlPolicy

strawberry.enum(
    WebhookEventType,
    description=(
        'What a delivery reports; its body\'s "type" is the name in lower case with the first '
        'underscore a dot (INVITATION_CONNECTED: "invitation.connected"). PING is sent by '
        "sendTestWebhook only and cannot be subscribed to."
    ),
)
strawberry.enum(
    WebhookDeliveryStatus,
    description=(
        "QUEUED until the first attempt, SENDING while a worker sends it, then DELIVERED (2xx), "
        "RETRYING (backoff) or FAILED (gave up, 410 Gone, or the endpoint is disabled)."
    ),
)


@strawberry.type(
    description=(
        "One event for one endpoint. Its id is the webhook-id header of every attempt: receivers "
        "de-duplicate on it. Deliveries are not ordered: each is retried on its own."
    )
)
class WebhookDelivery(Node):
    event_type: WebhookEventType
    status: WebhookDeliveryStatus
    attempts: int
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
    created_at: datetime
    delivered_at: datetime | None
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


@strawberry.type
class WebhookDeliveryEdge:
    node: WebhookDelivery
    cursor: str


@strawberry.type
class WebhookDeliveryConnection(Connection):
    edges: list[WebhookDeliveryEdge]

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
    url: str
    description: str | None
    event_types: list[WebhookEventType] = strawberry.field(
        description="The types it receives; empty = all."
    )
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description='Why it is disabled, e.g. "Every delivery failed for 3 days".'
    )
    created_at: datetime
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
        first: int | None = 20,
        after: str | None = None,
        status: list[WebhookDeliveryStatus] | None = None,
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


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description='The "whsec_..." signing secret: shown once, on create and on rotate.'
    )
    errors: list[UserError]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    errors: list[UserError]


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https:// (http:// is accepted outside production).")
    description: str | None = strawberry.UNSET
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=strawberry.UNSET, description="Empty or left out: every type."
    )


@strawberry.input
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID
    url: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    event_types: list[WebhookEventType] | None = strawberry.UNSET
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false stops deliveries (pending ones fail); true resumes them.",
    )


@strawberry.input
class WebhookEndpointIdInput:
    endpoint_id: strawberry.ID


def _endpoint_pk(global_id: str) -> int:
    return decode_id(global_id, "WebhookEndpoint", ("endpointId",), "Webhook endpoint")


@strawberry.type
class WebhookMutation:
    @mutation(description="Register an endpoint (OWNER or ADMIN); the secret is shown this once.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        endpoint, secret = await webhooks.create_endpoint(
            info.context.actor, UrlPolicy.of(info.context.settings), given_fields(input)
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret, errors=[]
        )

    @mutation(description="Change an endpoint's URL, description, event types or enabled state.")
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
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
    async def delete_webhook_endpoint(self, info: Info, input: WebhookEndpointIdInput) -> OkPayload:
        await webhooks.delete_endpoint(info.context.actor, _endpoint_pk(input.endpoint_id))
        return OkPayload(ok=True, errors=[])

    @mutation(
        description="A new secret, shown this once; the old one keeps signing alongside for 24 h."
    )
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookEndpointPayload:
        endpoint, secret = await webhooks.rotate_secret(
            info.context.actor, _endpoint_pk(input.endpoint_id)
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_model(endpoint), secret=secret, errors=[]
        )

    @mutation(description="Queue a PING to the endpoint.")
    async def send_test_webhook(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookDeliveryPayload:
        delivery = await webhooks.send_test(info.context.actor, _endpoint_pk(input.endpoint_id))
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_model(delivery), errors=[])

    @mutation(description="Send a delivery again: same id and body, due now, a fresh retry window.")
    async def redeliver_webhook(
        self, info: Info, delivery_id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        pk = decode_id(delivery_id, "WebhookDelivery", ("deliveryId",), "Webhook delivery")
        delivery = await webhooks.redeliver_delivery(info.context.actor, pk)
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_model(delivery), errors=[])
