"""The activity log: one row per change, written in the same transaction as the change."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.customer import Customer
from models.partner import Partner


class ActivityVerb(StrEnum):
    CUSTOMER_CREATED = "CUSTOMER_CREATED"
    CUSTOMER_UPDATED = "CUSTOMER_UPDATED"
    CUSTOMER_ARCHIVED = "CUSTOMER_ARCHIVED"
    CUSTOMER_RESTORED = "CUSTOMER_RESTORED"
    ITEM_ASSIGNED = "ITEM_ASSIGNED"
    ITEM_UNASSIGNED = "ITEM_UNASSIGNED"
    ITEM_UPDATED = "ITEM_UPDATED"
    ITEM_DELETED = "ITEM_DELETED"
    CUSTOMERS_IMPORTED = "CUSTOMERS_IMPORTED"
    CUSTOMER_ERASED = "CUSTOMER_ERASED"
    INQUIRY_RECEIVED = "INQUIRY_RECEIVED"
    INQUIRY_CONVERTED = "INQUIRY_CONVERTED"
    INQUIRY_DISMISSED = "INQUIRY_DISMISSED"
    INVITATION_RECEIVED = "INVITATION_RECEIVED"
    INVITATION_CONNECTED = "INVITATION_CONNECTED"
    INVITATION_DECLINED = "INVITATION_DECLINED"
    INVITATION_WITHDRAWN = "INVITATION_WITHDRAWN"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    ACCESS_REVOKED = "ACCESS_REVOKED"
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_FAILED = "EMAIL_FAILED"
    MEMBER_INVITED = "MEMBER_INVITED"
    MEMBER_JOINED = "MEMBER_JOINED"
    MEMBER_ROLE_CHANGED = "MEMBER_ROLE_CHANGED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    OWNERSHIP_TRANSFERRED = "OWNERSHIP_TRANSFERRED"
    WEBHOOK_CREATED = "WEBHOOK_CREATED"
    WEBHOOK_UPDATED = "WEBHOOK_UPDATED"
    WEBHOOK_DELETED = "WEBHOOK_DELETED"
    WEBHOOK_SECRET_ROTATED = "WEBHOOK_SECRET_ROTATED"
    WEBHOOK_DISABLED = "WEBHOOK_DISABLED"


class ActivityEvent(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    verb = fields.CharEnumField(ActivityVerb, max_length=24)
    at = fields.DatetimeField(auto_now_add=True)
    actor_name = fields.CharField(max_length=200, null=True)
    summary = fields.CharField(max_length=500)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name="activity", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None
    # The inquiry / invitation / item / e-mail concerned, as (GraphQL type name, row id).
    subject_type = fields.CharField(max_length=20, null=True)
    subject_id = fields.IntField(null=True)

    class Meta:
        table = "activity_event"
        indexes = (("partner_id", "id"), ("customer_id", "id"))
