"""One PENDING or CONNECTED authorization per (account, partner), enforced by the database.

A partial unique index is the same SQL on SQLite and PostgreSQL; Tortoise's
UniqueConstraint(condition=...) is not emitted by CreateModel, hence RunSQL.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0001_initial")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX uniq_live_invitation_per_account_partner"
            " ON access_invitation (account_id, partner_id)"
            " WHERE status IN ('PENDING', 'CONNECTED')",
            reverse_sql="DROP INDEX uniq_live_invitation_per_account_partner",
        ),
    ]
