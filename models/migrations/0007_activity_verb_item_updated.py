"""ActivityVerb.ITEM_UPDATED (updateTask's activity rows): a change of the migration state only.

The verb column is VARCHAR(24) without a CHECK constraint, so the database takes the new
value as it is. Only the field's generated description (its list of values) changed, and
an ordinary AlterField would rebuild activity_event on SQLite for it, dropping its indexes.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.activity import ActivityVerb


class AlterFieldStateOnly(ops.AlterField):
    """AlterField for the migration state, with nothing to do in the database."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0006_invitation_requester_name")]

    initial = False

    operations = [
        AlterFieldStateOnly(
            model_name="ActivityEvent",
            name="verb",
            field=fields.CharEnumField(description='CUSTOMER_CREATED: CUSTOMER_CREATED\nCUSTOMER_UPDATED: CUSTOMER_UPDATED\nCUSTOMER_ARCHIVED: CUSTOMER_ARCHIVED\nCUSTOMER_RESTORED: CUSTOMER_RESTORED\nITEM_ASSIGNED: ITEM_ASSIGNED\nITEM_UNASSIGNED: ITEM_UNASSIGNED\nITEM_UPDATED: ITEM_UPDATED\nINQUIRY_RECEIVED: INQUIRY_RECEIVED\nINQUIRY_CONVERTED: INQUIRY_CONVERTED\nINQUIRY_DISMISSED: INQUIRY_DISMISSED\nINVITATION_RECEIVED: INVITATION_RECEIVED\nINVITATION_CONNECTED: INVITATION_CONNECTED\nINVITATION_DECLINED: INVITATION_DECLINED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nINVITATION_EXPIRED: INVITATION_EXPIRED\nACCESS_REVOKED: ACCESS_REVOKED\nEMAIL_SENT: EMAIL_SENT\nEMAIL_FAILED: EMAIL_FAILED', enum_type=ActivityVerb, max_length=24),
        ),
    ]
