"""Invitations to join a partner's team; accepted once, with the e-mail's token."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.partner import MemberRole, Partner, PartnerMember


class MemberInvitationStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # read as such once past expires_at; stored when replaced after expiry


class MemberInvitation(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    email = fields.CharField(max_length=254)
    role = fields.CharEnumField(MemberRole, max_length=10)
    language = fields.CharField(max_length=8, default="en")
    token_hash = fields.CharField(max_length=64, unique=True)
    status = fields.CharEnumField(
        MemberInvitationStatus, max_length=10, default=MemberInvitationStatus.PENDING
    )
    invited_by: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    invited_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)  # accepted, revoked or replaced
    member: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None  # who joined with it

    class Meta:
        table = "member_invitation"
        indexes = (("partner_id", "status", "id"),)
