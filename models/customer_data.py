"""Customer data in and out: CSV imports and their reports, and single-use download links."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.account import AccountHolder
from models.customer import Customer
from models.partner import Partner, PartnerMember


class ImportStatus(StrEnum):
    VALIDATED = "VALIDATED"  # a dry run: checked and reported, nothing written
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class CustomerImport(Model):
    """One CSV import or dry run, and its report.

    A running import updates it after every batch (resolvers/imports.py).
    """

    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    started_by: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    started_by_id: int | None
    status = fields.CharEnumField(ImportStatus, max_length=10)
    dry_run = fields.BooleanField()
    file_name = fields.CharField(max_length=200, null=True)
    rows = fields.IntField(default=0)
    created = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    # [{"row": n, "field": "Phone" | null, "message": "..."}], row 0 for the header.
    problems = fields.JSONField[list[dict[str, object]]](default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Bumped by every batch of a running import: a RUNNING import whose heartbeat stopped
    # (its process died) is marked FAILED by the housekeeping sweep.
    heartbeat_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "customer_import"
        indexes = (("partner_id", "id"),)


class ExportKind(StrEnum):
    CUSTOMERS_CSV = "CUSTOMERS_CSV"
    CUSTOMERS_JSON = "CUSTOMERS_JSON"
    CUSTOMER_DATA = "CUSTOMER_DATA"  # everything about one customer (GDPR Art. 15/20)
    ACCOUNT_DATA = "ACCOUNT_DATA"  # an account holder's own data


class DataExport(Model):
    """A short-lived, single-use download link.

    Only the SHA-256 of its token is stored, and the file itself never is: it is written
    from the database while it downloads (resolvers/exports.py).
    """

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    kind = fields.CharEnumField(ExportKind, max_length=16)
    # Whose data, and on whose behalf it is read when the link is used.
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, null=True, on_delete=fields.CASCADE
    )
    partner_id: int | None
    member: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.CASCADE
    )
    member_id: int | None
    account: fields.ForeignKeyNullableRelation[AccountHolder] = fields.ForeignKeyField(
        "partnerdesk.AccountHolder", related_name=False, null=True, on_delete=fields.CASCADE
    )
    account_id: int | None
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name=False, null=True, on_delete=fields.CASCADE
    )
    customer_id: int | None
    # The customer filter of a CSV/JSON export, as customers(filter:) takes it.
    parameters = fields.JSONField[dict[str, object]](default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "data_export"
