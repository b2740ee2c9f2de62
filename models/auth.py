"""Bearer tokens. Only the SHA-256 of a token is stored; the token itself never is."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.account import AccountHolder
from models.partner import PartnerMember


class Realm(StrEnum):
    PARTNER = "PARTNER"
    ACCOUNT = "ACCOUNT"


class AuthToken(Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    realm = fields.CharEnumField(Realm, max_length=10)
    member: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.CASCADE
    )
    member_id: int | None
    account: fields.ForeignKeyNullableRelation[AccountHolder] = fields.ForeignKeyField(
        "partnerdesk.AccountHolder", related_name=False, null=True, on_delete=fields.CASCADE
    )
    account_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_token"
