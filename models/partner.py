"""Partners (web agencies), their public profile and their team members."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class MemberRole(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class Partner(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=63, unique=True)
    name = fields.CharField(max_length=200)
    # The public profile; `partnerProfile(slug)` shows it only while is_public.
    display_name = fields.CharField(max_length=200)
    headline = fields.CharField(max_length=200, null=True)
    description = fields.TextField(null=True)
    city = fields.CharField(max_length=100, null=True)
    services = fields.JSONField[list[str]](default=list)
    is_public = fields.BooleanField(default=False)
    # Last number handed out; bumped under a row lock, so numbers are never reused.
    customer_seq = fields.IntField(default=0)
    contract_seq = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "partner"


class PartnerMember(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name="members", on_delete=fields.CASCADE
    )
    partner_id: int
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(MemberRole, max_length=10)
    password_hash = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The language of the e-mails they receive (notifications, password resets).
    language = fields.CharField(max_length=8, default="en", db_default="en")
    email_verified_at = fields.DatetimeField(null=True)
    # A removed member's row stays, so that what they decided, assigned or were assigned
    # keeps pointing at them; their address is released (a placeholder under the reserved
    # .invalid domain) and every token of theirs is revoked (resolvers/team.py).
    removed_at = fields.DatetimeField(null=True)
    # Notification preferences; None means the role's default (resolvers/notifications.py).
    notify_new_inquiry = fields.BooleanField(null=True)
    notify_new_invitation = fields.BooleanField(null=True)
    notify_expiry_reminder = fields.BooleanField(null=True)
    # When they were last told that someone tried to register with their address.
    registration_notice_at = fields.DatetimeField(null=True)

    class Meta:
        table = "partner_member"
