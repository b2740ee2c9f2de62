"""One-time tokens that prove an e-mail address: verification and password-reset links.

Like bearer tokens, only the SHA-256 of a token is stored. A token is used once (a
conditional UPDATE sets `used_at`), expires, and is revoked when a newer one of the same
purpose replaces it.
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.account import AccountHolder
from models.auth import Realm
from models.partner import PartnerMember


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "VERIFY_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"


class IdentityToken(Model):
    id = fields.IntField(primary_key=True)
    purpose = fields.CharEnumField(TokenPurpose, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
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
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "identity_token"


class PasswordResetRequest(Model):
    """A `requestPasswordReset` call, written the same way whether the address is known or not.

    The reset e-mail is composed from it after the request has been answered
    (resolvers/password_reset.py), so the answer takes the same time for every address.
    """

    id = fields.IntField(primary_key=True)
    realm = fields.CharEnumField(Realm, max_length=10)
    email = fields.CharField(max_length=254)
    requested_at = fields.DatetimeField()
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_reset_request"
        indexes = (("handled_at", "id"),)
