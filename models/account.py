"""Account holders: people with their own customer account who authorize partners."""

from tortoise import fields
from tortoise.models import Model


class AccountHolder(Model):
    id = fields.IntField(primary_key=True)
    account_number = fields.CharField(max_length=20, unique=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    phone = fields.CharField(max_length=20, null=True)
    company_name = fields.CharField(max_length=200, null=True)
    language = fields.CharField(max_length=8, default="en")
    password_hash = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    email_verified_at = fields.DatetimeField(null=True)
    # When they were last told that someone tried to register with their address.
    registration_notice_at = fields.DatetimeField(null=True)

    class Meta:
        table = "account_holder"
