"""The development mailbox: e-mails the worker delivered in development without an SMTP host.

Each row is the whole MIME message the worker built (what an SMTP server would have
received), plus the few headers /dev/mail lists. A table rather than memory, so a message
delivered by `partnerdesk worker` shows at /dev/mail of any `serve` on the same database.
"""

from tortoise import fields
from tortoise.models import Model


class DevMailMessage(Model):
    id = fields.IntField(primary_key=True)
    # The outbox row it was delivered from (no foreign key: the mailbox is a side channel).
    delivery_id = fields.IntField(null=True)
    to_address = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    language = fields.CharField(max_length=8)
    template = fields.CharField(max_length=40)
    message = fields.TextField()
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dev_mail_message"
