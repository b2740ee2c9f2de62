"""The transactional outbox: e-mails written with the business change, delivered later."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.partner import Partner


class EmailStatus(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"


class EmailDelivery(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    partner_id: int | None
    template = fields.CharField(max_length=40)
    language = fields.CharField(max_length=8)
    to_address = fields.CharField(max_length=254)
    to_name = fields.CharField(max_length=200, null=True)
    subject = fields.CharField(max_length=300)
    text_body = fields.TextField()
    html_body = fields.TextField()
    status = fields.CharEnumField(EmailStatus, max_length=10, default=EmailStatus.QUEUED)
    attempts = fields.IntField(default=0)
    # What partner members read (a short reason, mailers/failures.py) and what operators
    # read in `partnerdesk mail status` (the server's reply or the socket error): the
    # detail decides whether `mail retry` can help, and a worker's log may be rotated or
    # on another machine by then. The GraphQL API never exposes the detail.
    last_error = fields.TextField(null=True)
    last_error_detail = fields.TextField(null=True)
    queued_at = fields.DatetimeField(auto_now_add=True)
    next_attempt_at = fields.DatetimeField(null=True)
    # A worker's lease on the row; an expired lease means the worker died mid-send.
    claimed_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "email_delivery"
        indexes = (("status", "next_attempt_at"),)
