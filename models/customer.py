"""Customers of a partner: person or company, with contact data, address and tags."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.partner import Partner


class CustomerKind(StrEnum):
    PERSON = "PERSON"
    COMPANY = "COMPANY"


class CustomerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class CustomerSource(StrEnum):
    MANUAL = "MANUAL"
    INQUIRY = "INQUIRY"
    INVITATION = "INVITATION"


class Customer(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name="customers", on_delete=fields.CASCADE
    )
    partner_id: int
    number = fields.IntField()
    customer_number = fields.CharField(max_length=20)
    kind = fields.CharEnumField(CustomerKind, max_length=10)
    first_name = fields.CharField(max_length=100, null=True)
    last_name = fields.CharField(max_length=100, null=True)
    company_name = fields.CharField(max_length=200, null=True)
    display_name = fields.CharField(max_length=255)
    # Lower-cased display name: the DISPLAY_NAME sort key (keyset pagination compares it).
    sort_name = fields.CharField(max_length=255)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=20, null=True)
    street = fields.CharField(max_length=200, null=True)
    postal_code = fields.CharField(max_length=20, null=True)
    city = fields.CharField(max_length=100, null=True)
    country = fields.CharField(max_length=2, null=True)
    vat_id = fields.CharField(max_length=32, null=True)
    # The partner's own reference (from their previous system); unique per partner where set,
    # by a partial unique index (migration 0011). CSV imports match rows on it first.
    external_id = fields.CharField(max_length=100, null=True)
    language = fields.CharField(max_length=8, default="en")
    notes = fields.TextField(null=True)
    tags = fields.JSONField[list[str]](default=list)
    # Derived columns kept in step with the fields above by resolvers/customers.py:
    # "\n"-framed tags for the tag filter, and the lower-cased text `search` matches.
    tags_text = fields.TextField(default="")
    search_text = fields.TextField(default="")
    status = fields.CharEnumField(CustomerStatus, max_length=10, default=CustomerStatus.ACTIVE)
    source = fields.CharEnumField(CustomerSource, max_length=12, default=CustomerSource.MANUAL)
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Set by eraseCustomer: the personal fields are overwritten, the number stays.
    erased_at = fields.DatetimeField(null=True)

    class Meta:
        table = "customer"
        unique_together = (("partner", "number"),)
        indexes = (("partner_id", "sort_name", "id"), ("partner_id", "created_at", "id"))
