"""Notification e-mails to partner members, and the digest that folds bursts of them.

Each (member, kind) has one counter row: a window of DIGEST_WINDOW opens with the first
notification, the first DIGEST_THRESHOLD in it are e-mailed one by one, and the rest are
kept as digest entries that one e-mail sends once the window has closed
(resolvers/notifications.py).
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.partner import PartnerMember


class NotificationKind(StrEnum):
    NEW_INQUIRY = "NEW_INQUIRY"
    NEW_INVITATION = "NEW_INVITATION"
    EXPIRY_REMINDER = "EXPIRY_REMINDER"


class NotificationWindow(Model):
    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, on_delete=fields.CASCADE
    )
    member_id: int
    kind = fields.CharEnumField(NotificationKind, max_length=16)
    opened_at = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "notification_window"
        unique_together = (("member", "kind"),)


class DigestEntry(Model):
    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, on_delete=fields.CASCADE
    )
    member_id: int
    kind = fields.CharEnumField(NotificationKind, max_length=16)
    summary = fields.CharField(max_length=500)
    created_at = fields.DatetimeField()
    # When the window it belongs to closes: from then on the digest can go out.
    due_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "digest_entry"
        indexes = (("sent_at", "due_at"),)
