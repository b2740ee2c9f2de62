"""Access authorizations an account holder sends to a partner; each is decided once."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.account import AccountHolder
from models.customer import Customer
from models.outbox import EmailDelivery
from models.partner import Partner, PartnerMember


class AccessScope(StrEnum):
    FULL = "FULL"
    PARTIAL = "PARTIAL"


class AccessPermission(StrEnum):
    DOMAINS = "DOMAINS"
    HOSTING = "HOSTING"
    EMAIL = "EMAIL"
    SSL = "SSL"
    CONTRACTS = "CONTRACTS"
    INVOICES = "INVOICES"


class InvitationStatus(StrEnum):
    PENDING = "PENDING"
    CONNECTED = "CONNECTED"
    DECLINED = "DECLINED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


# At most one live authorization per (account, partner): a partial unique index
# (migration 0002) enforces it in the database.
LIVE_STATUSES = (InvitationStatus.PENDING, InvitationStatus.CONNECTED)


class AccessInvitation(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    account: fields.ForeignKeyRelation[AccountHolder] = fields.ForeignKeyField(
        "partnerdesk.AccountHolder", related_name="invitations", on_delete=fields.CASCADE
    )
    account_id: int
    # The account holder's name when it was sent: all a partner member sees of them once
    # the authorization is closed without a live connection (resolvers/invitations.py).
    # Always written on send; the database default only lets migration 0006 add the column.
    requester_name = fields.CharField(max_length=200, db_default="")
    status = fields.CharEnumField(InvitationStatus, max_length=10, default=InvitationStatus.PENDING)
    scope = fields.CharEnumField(AccessScope, max_length=10)
    permissions = fields.JSONField[list[str]](default=list)
    message = fields.TextField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decline_message = fields.TextField(null=True)
    decline_email: fields.ForeignKeyNullableRelation[EmailDelivery] = fields.ForeignKeyField(
        "partnerdesk.EmailDelivery", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decline_email_id: int | None
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer",
        related_name="access_invitations",
        null=True,
        on_delete=fields.SET_NULL,
    )
    # At most one CONNECTED authorization per customer: a partial unique index (migration
    # 0004) enforces it in the database.
    customer_id: int | None
    closed_at = fields.DatetimeField(null=True)  # withdrawn, revoked or expired
    # Set by the one housekeeping sweep that sent the expiry reminder (resolvers/reminders.py).
    reminder_sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "access_invitation"
        indexes = (("partner_id", "status", "id"),)
