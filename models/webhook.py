"""Webhooks: the endpoints a partner registers and the deliveries queued for them.

A delivery is an outbox row written in the transaction of the change it reports (see
webhooks/outbox.py) and sent later by the webhook worker (webhooks/worker.py).
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.partner import Partner


class WebhookEventType(StrEnum):
    """What a delivery reports. Each is named after the activity verb that records the change
    (ActivityVerb.INQUIRY_RECEIVED -> INQUIRY_RECEIVED, "inquiry.received" on the wire)."""

    INQUIRY_RECEIVED = "INQUIRY_RECEIVED"
    INQUIRY_CONVERTED = "INQUIRY_CONVERTED"
    INQUIRY_DISMISSED = "INQUIRY_DISMISSED"
    INVITATION_RECEIVED = "INVITATION_RECEIVED"
    INVITATION_CONNECTED = "INVITATION_CONNECTED"
    INVITATION_DECLINED = "INVITATION_DECLINED"
    INVITATION_WITHDRAWN = "INVITATION_WITHDRAWN"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    ACCESS_REVOKED = "ACCESS_REVOKED"
    CUSTOMER_CREATED = "CUSTOMER_CREATED"
    CUSTOMER_UPDATED = "CUSTOMER_UPDATED"
    CUSTOMER_ARCHIVED = "CUSTOMER_ARCHIVED"
    CUSTOMER_ERASED = "CUSTOMER_ERASED"
    # sendTestWebhook only; never subscribed to.
    PING = "PING"

    @property
    def wire_name(self) -> str:
        """The body's "type": INVITATION_CONNECTED -> "invitation.connected"."""
        return self.name.lower().replace("_", ".", 1)


class WebhookDeliveryStatus(StrEnum):
    QUEUED = "QUEUED"  # waiting for its first attempt (or queued again by redeliverWebhook)
    SENDING = "SENDING"  # a worker holds it (claimed_by) and is sending it
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"  # an attempt failed; the next one is due at next_attempt_at
    FAILED = "FAILED"  # gave up, or the endpoint is gone or disabled


# The statuses a worker may claim: due QUEUED and RETRYING rows, and SENDING rows whose
# worker's lease ran out (it died mid-send). While SENDING, next_attempt_at is the end of
# the lease: one "due" condition covers all three.
CLAIMABLE_STATUSES = (
    WebhookDeliveryStatus.QUEUED,
    WebhookDeliveryStatus.RETRYING,
    WebhookDeliveryStatus.SENDING,
)


class WebhookEndpoint(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=500, null=True)
    # WebhookEventType names; empty = every type (PING is never listed).
    event_types = fields.JSONField[list[str]](default=list)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=200, null=True)
    disabled_at = fields.DatetimeField(null=True)
    # "whsec_<base64>": the worker signs with it, so it is stored as it is (an HMAC key
    # cannot be hashed away). Shown once, on create and on rotate; never logged.
    secret = fields.CharField(max_length=100)
    # After rotateWebhookSecret the old secret signs alongside the new one until this time.
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    # When the endpoint started failing every attempt (null after any success): an endpoint
    # failing for PARTNERDESK_WEBHOOK_MAX_AGE_HOURS is disabled.
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_endpoint"
        indexes = (("partner_id", "id"),)


class WebhookDelivery(Model):
    """One event for one endpoint. Its global id is the `webhook-id` header on every attempt."""

    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "partnerdesk.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: int
    event_type = fields.CharEnumField(WebhookEventType, max_length=24)
    # The JSON body, exactly as it is signed and sent on every attempt.
    payload = fields.TextField()
    status = fields.CharEnumField(
        WebhookDeliveryStatus, max_length=10, default=WebhookDeliveryStatus.QUEUED
    )
    attempts = fields.IntField(default=0)
    last_status_code = fields.IntField(null=True)
    # What partners read (a short, fixed reason: webhooks/failures.py) and what operators
    # read (the exception or the answer, never a header or the secret); the API shows only
    # the first.
    last_error = fields.CharField(max_length=200, null=True)
    last_error_detail = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The retry window starts here (created, or queued again by redeliverWebhook).
    queued_at = fields.DatetimeField()
    next_attempt_at = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "id"), ("partner_id", "id"))
