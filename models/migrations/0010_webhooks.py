"""Webhooks (issue 14): the endpoints partners register and the deliveries queued for them,
and the activity verbs their changes record (WEBHOOK_CREATED, ... WEBHOOK_DISABLED).

The verbs change the migration state only, as in 0007: the verb column is VARCHAR(24)
without a CHECK constraint, and an ordinary AlterField would rebuild activity_event on
SQLite, dropping its indexes.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.activity import ActivityVerb
from models.webhook import WebhookDeliveryStatus, WebhookEventType
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class AlterFieldStateOnly(ops.AlterField):
    """AlterField for the migration state, with nothing to do in the database."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('partnerdesk', '0009_dev_mailbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner', fields.ForeignKeyField('partnerdesk.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2048)),
                ('description', fields.CharField(null=True, max_length=500)),
                ('event_types', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.CharField(null=True, max_length=200)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('secret', fields.CharField(max_length=100)),
                ('previous_secret', fields.CharField(null=True, max_length=100)),
                ('previous_secret_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'webhook_endpoint', 'app': 'partnerdesk', 'indexes': [Index(fields=['partner_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner', fields.ForeignKeyField('partnerdesk.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.ForeignKeyField('partnerdesk.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event_type', fields.CharEnumField(description='INQUIRY_RECEIVED: INQUIRY_RECEIVED\nINQUIRY_CONVERTED: INQUIRY_CONVERTED\nINQUIRY_DISMISSED: INQUIRY_DISMISSED\nINVITATION_RECEIVED: INVITATION_RECEIVED\nINVITATION_CONNECTED: INVITATION_CONNECTED\nINVITATION_DECLINED: INVITATION_DECLINED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nINVITATION_EXPIRED: INVITATION_EXPIRED\nACCESS_REVOKED: ACCESS_REVOKED\nCUSTOMER_CREATED: CUSTOMER_CREATED\nCUSTOMER_UPDATED: CUSTOMER_UPDATED\nCUSTOMER_ARCHIVED: CUSTOMER_ARCHIVED\nCUSTOMER_ERASED: CUSTOMER_ERASED\nPING: PING', enum_type=WebhookEventType, max_length=24)),
                ('payload', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=WebhookDeliveryStatus.QUEUED, description='QUEUED: QUEUED\nSENDING: SENDING\nDELIVERED: DELIVERED\nRETRYING: RETRYING\nFAILED: FAILED', enum_type=WebhookDeliveryStatus, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=200)),
                ('last_error_detail', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('queued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('claimed_by', fields.CharField(null=True, max_length=64)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'partnerdesk', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['endpoint_id', 'id']), Index(fields=['partner_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One event for one endpoint. Its global id is the `webhook-id` header on every attempt.'},
            bases=['Model'],
        ),
        AlterFieldStateOnly(
            model_name='ActivityEvent',
            name='verb',
            field=fields.CharEnumField(description='CUSTOMER_CREATED: CUSTOMER_CREATED\nCUSTOMER_UPDATED: CUSTOMER_UPDATED\nCUSTOMER_ARCHIVED: CUSTOMER_ARCHIVED\nCUSTOMER_RESTORED: CUSTOMER_RESTORED\nITEM_ASSIGNED: ITEM_ASSIGNED\nITEM_UNASSIGNED: ITEM_UNASSIGNED\nITEM_UPDATED: ITEM_UPDATED\nINQUIRY_RECEIVED: INQUIRY_RECEIVED\nINQUIRY_CONVERTED: INQUIRY_CONVERTED\nINQUIRY_DISMISSED: INQUIRY_DISMISSED\nINVITATION_RECEIVED: INVITATION_RECEIVED\nINVITATION_CONNECTED: INVITATION_CONNECTED\nINVITATION_DECLINED: INVITATION_DECLINED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nINVITATION_EXPIRED: INVITATION_EXPIRED\nACCESS_REVOKED: ACCESS_REVOKED\nEMAIL_SENT: EMAIL_SENT\nEMAIL_FAILED: EMAIL_FAILED\nMEMBER_INVITED: MEMBER_INVITED\nMEMBER_JOINED: MEMBER_JOINED\nMEMBER_ROLE_CHANGED: MEMBER_ROLE_CHANGED\nMEMBER_REMOVED: MEMBER_REMOVED\nOWNERSHIP_TRANSFERRED: OWNERSHIP_TRANSFERRED\nWEBHOOK_CREATED: WEBHOOK_CREATED\nWEBHOOK_UPDATED: WEBHOOK_UPDATED\nWEBHOOK_DELETED: WEBHOOK_DELETED\nWEBHOOK_SECRET_ROTATED: WEBHOOK_SECRET_ROTATED\nWEBHOOK_DISABLED: WEBHOOK_DISABLED', enum_type=ActivityVerb, max_length=24),
        ),
    ]
