"""Indexes for the read paths: foreign keys that lists and loaders filter on, and on
PostgreSQL a trigram index so `customers(filter: {search})` avoids a sequential scan.

PostgreSQL does not index foreign keys by itself; SQLite gets the same B-tree indexes.
The trigram index needs the pg_trgm extension, which only PostgreSQL has.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FOREIGN_KEY_INDEXES = [
    ("idx_domain_customer", "domain", "customer_id"),
    ("idx_contract_customer", "contract", "customer_id"),
    ("idx_task_customer", "task", "customer_id"),
    ("idx_inquiry_customer", "inquiry", "customer_id"),
    ("idx_invitation_customer", "access_invitation", "customer_id"),
    ("idx_invitation_account", "access_invitation", "account_id"),
    ("idx_auth_token_member", "auth_token", "member_id"),
    ("idx_auth_token_account", "auth_token", "account_id"),
]


async def create_indexes(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    for name, table, column in FOREIGN_KEY_INDEXES:
        await client.execute_script(f'CREATE INDEX IF NOT EXISTS {name} ON "{table}" ("{column}")')
    if client.capabilities.dialect == "postgres":
        await client.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await client.execute_script(
            "CREATE INDEX IF NOT EXISTS idx_customer_search_trgm"
            " ON customer USING gin (search_text gin_trgm_ops)"
        )


async def drop_indexes(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    for name, _table, _column in FOREIGN_KEY_INDEXES:
        await client.execute_script(f"DROP INDEX IF EXISTS {name}")
    await client.execute_script("DROP INDEX IF EXISTS idx_customer_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0002_live_invitation_unique")]

    operations = [ops.RunPython(create_indexes, drop_indexes)]
