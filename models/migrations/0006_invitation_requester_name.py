"""AccessInvitation.requester_name: the account holder's name when it was sent.

Once an authorization is closed without a live connection, that name is all its partner
sees of the account holder (resolvers/invitations.py). Existing rows take the account's
current name, the closest there is to the name at the time.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0005_email_last_error_detail")]

    initial = False

    operations = [
        ops.AddField(
            model_name="AccessInvitation",
            name="requester_name",
            field=fields.CharField(db_default="", max_length=200),
        ),
        ops.RunSQL(
            "UPDATE access_invitation SET requester_name = (SELECT name FROM account_holder"
            " WHERE account_holder.id = access_invitation.account_id)",
            reverse_sql=[],  # nothing to undo: the column goes with the field
        ),
    ]
