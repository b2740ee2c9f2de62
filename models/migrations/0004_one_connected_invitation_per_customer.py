"""One CONNECTED authorization per customer, enforced by the database.

Two concurrent connectCustomer calls naming the same existing customer for two accounts'
authorizations each decide a different row, so under READ COMMITTED neither sees the
other's link before it commits; this index makes the second one fail instead. The same
SQL works on SQLite and PostgreSQL (see 0002 for why RunSQL).

A database where that race already happened stops this migration with a unique-index
error naming the customer: revoke one of the two links, then migrate again.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0003_read_path_indexes")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX uniq_connected_invitation_per_customer"
            " ON access_invitation (customer_id)"
            " WHERE status = 'CONNECTED'",
            reverse_sql="DROP INDEX uniq_connected_invitation_per_customer",
        ),
    ]
