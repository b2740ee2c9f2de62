"""Customer data in and out (the "customer data" issue).

- Customer.erased_at: when eraseCustomer overwrote the customer's personal data.
- Customer.external_id, the partner's own reference: unique per partner where set (a partial
  unique index, the same SQL on SQLite and PostgreSQL; see 0002 for why RunSQL), and an
  index on (partner_id, email), on which CSV imports match rows that have no external id.
- customer_import: CSV imports and dry runs with their reports.
- data_export: short-lived, single-use download links (only the token's hash).
- housekeeping_run: when a daily job last ran, so several workers run it once a day.
- ActivityVerb ITEM_DELETED, CUSTOMERS_IMPORTED, CUSTOMER_ERASED: a change of the migration
  state only, as in 0007 (the verb column has no CHECK constraint; an AlterField would
  rebuild activity_event on SQLite and drop its indexes).
"""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.activity import ActivityVerb
from models.customer_data import ExportKind, ImportStatus


class AlterFieldStateOnly(ops.AlterField):
    """AlterField for the migration state, with nothing to do in the database."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


VERB_DESCRIPTION = 'CUSTOMER_CREATED: CUSTOMER_CREATED\nCUSTOMER_UPDATED: CUSTOMER_UPDATED\nCUSTOMER_ARCHIVED: CUSTOMER_ARCHIVED\nCUSTOMER_RESTORED: CUSTOMER_RESTORED\nITEM_ASSIGNED: ITEM_ASSIGNED\nITEM_UNASSIGNED: ITEM_UNASSIGNED\nITEM_UPDATED: ITEM_UPDATED\nITEM_DELETED: ITEM_DELETED\nCUSTOMERS_IMPORTED: CUSTOMERS_IMPORTED\nCUSTOMER_ERASED: CUSTOMER_ERASED\nINQUIRY_RECEIVED: INQUIRY_RECEIVED\nINQUIRY_CONVERTED: INQUIRY_CONVERTED\nINQUIRY_DISMISSED: INQUIRY_DISMISSED\nINVITATION_RECEIVED: INVITATION_RECEIVED\nINVITATION_CONNECTED: INVITATION_CONNECTED\nINVITATION_DECLINED: INVITATION_DECLINED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nINVITATION_EXPIRED: INVITATION_EXPIRED\nACCESS_REVOKED: ACCESS_REVOKED\nEMAIL_SENT: EMAIL_SENT\nEMAIL_FAILED: EMAIL_FAILED\nMEMBER_INVITED: MEMBER_INVITED\nMEMBER_JOINED: MEMBER_JOINED\nMEMBER_ROLE_CHANGED: MEMBER_ROLE_CHANGED\nMEMBER_REMOVED: MEMBER_REMOVED\nOWNERSHIP_TRANSFERRED: OWNERSHIP_TRANSFERRED\nWEBHOOK_CREATED: WEBHOOK_CREATED\nWEBHOOK_UPDATED: WEBHOOK_UPDATED\nWEBHOOK_DELETED: WEBHOOK_DELETED\nWEBHOOK_SECRET_ROTATED: WEBHOOK_SECRET_ROTATED\nWEBHOOK_DISABLED: WEBHOOK_DISABLED'


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0010_webhooks")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Customer",
            name="external_id",
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name="Customer",
            name="erased_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(
            [
                "CREATE UNIQUE INDEX uniq_customer_external_id ON customer (partner_id, external_id)"
                " WHERE external_id IS NOT NULL",
                "CREATE INDEX idx_customer_email ON customer (partner_id, email)",
            ],
            reverse_sql=[
                "DROP INDEX uniq_customer_external_id",
                "DROP INDEX idx_customer_email",
            ],
        ),
        ops.CreateModel(
            name="CustomerImport",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("partner", fields.ForeignKeyField("partnerdesk.Partner", source_field="partner_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("started_by", fields.ForeignKeyField("partnerdesk.PartnerMember", source_field="started_by_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),
                ("status", fields.CharEnumField(description="VALIDATED: VALIDATED\nRUNNING: RUNNING\nDONE: DONE\nFAILED: FAILED", enum_type=ImportStatus, max_length=10)),
                ("dry_run", fields.BooleanField()),
                ("file_name", fields.CharField(null=True, max_length=200)),
                ("rows", fields.IntField(default=0)),
                ("created", fields.IntField(default=0)),
                ("updated", fields.IntField(default=0)),
                ("skipped", fields.IntField(default=0)),
                ("problems", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("heartbeat_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "customer_import", "app": "partnerdesk", "indexes": [Index(fields=["partner_id", "id"])], "pk_attr": "id", "table_description": "One CSV import or dry run, and its report."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DataExport",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("kind", fields.CharEnumField(description="CUSTOMERS_CSV: CUSTOMERS_CSV\nCUSTOMERS_JSON: CUSTOMERS_JSON\nCUSTOMER_DATA: CUSTOMER_DATA\nACCOUNT_DATA: ACCOUNT_DATA", enum_type=ExportKind, max_length=16)),
                ("partner", fields.ForeignKeyField("partnerdesk.Partner", source_field="partner_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("member", fields.ForeignKeyField("partnerdesk.PartnerMember", source_field="member_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("account", fields.ForeignKeyField("partnerdesk.AccountHolder", source_field="account_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("customer", fields.ForeignKeyField("partnerdesk.Customer", source_field="customer_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("parameters", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "data_export", "app": "partnerdesk", "pk_attr": "id", "table_description": "A short-lived, single-use download link."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="HousekeepingRun",
            fields=[
                ("name", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("last_run_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "housekeeping_run", "app": "partnerdesk", "pk_attr": "name"},
            bases=["Model"],
        ),
        AlterFieldStateOnly(
            model_name="ActivityEvent",
            name="verb",
            field=fields.CharEnumField(description=VERB_DESCRIPTION, enum_type=ActivityVerb, max_length=24),
        ),
    ]
