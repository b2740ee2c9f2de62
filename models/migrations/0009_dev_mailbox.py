"""dev_mail_message: the development mailbox behind /dev/mail (mailers/dev_mailbox.py)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0008_identity")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DevMailMessage",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("delivery_id", fields.IntField(null=True)),
                ("to_address", fields.CharField(max_length=254)),
                ("subject", fields.CharField(max_length=300)),
                ("language", fields.CharField(max_length=8)),
                ("template", fields.CharField(max_length=40)),
                ("message", fields.TextField()),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "dev_mail_message", "app": "partnerdesk", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
