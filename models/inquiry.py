"""Inquiries sent from a partner's public profile; assigned to a customer once, for good."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.customer import Customer
from models.partner import Partner, PartnerMember


class InquiryStatus(StrEnum):
    NEW = "NEW"
    ASSIGNED = "ASSIGNED"
    DISMISSED = "DISMISSED"


class Inquiry(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    status = fields.CharEnumField(InquiryStatus, max_length=10, default=InquiryStatus.NEW)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254)
    phone = fields.CharField(max_length=20, null=True)
    company_name = fields.CharField(max_length=200, null=True)
    message = fields.TextField()
    received_at = fields.DatetimeField(auto_now_add=True)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name="inquiries", null=True, on_delete=fields.RESTRICT
    )
    customer_id: int | None
    assigned_at = fields.DatetimeField(null=True)
    assigned_by: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    assigned_by_id: int | None
    dismissed_at = fields.DatetimeField(null=True)
    dismiss_reason = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "inquiry"
        indexes = (("partner_id", "status", "id"),)
