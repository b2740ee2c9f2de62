"""Opening the database, applying the committed migrations (models/migrations), and what
/readyz and /metrics ask of it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate

from config import tortoise_config


async def migrate_database(database_url: str) -> None:
    """Apply every migration not yet applied; a no-op on an up-to-date database."""
    await migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_FILE = re.compile(r"\d{4}_\w+\.py")


async def pending_migrations() -> list[str]:
    """Migration files not recorded as applied in this database (empty: up to date)."""
    files = {path.stem for path in MIGRATIONS.iterdir() if MIGRATION_FILE.fullmatch(path.name)}
    connection = get_connection("default")
    _count, rows = await connection.execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = 'partnerdesk'"
    )
    return sorted(files - {row["name"] for row in rows})


def pool_usage() -> tuple[int, int]:
    """(connections handed out now, connections open) of the default connection's pool."""
    client: Any = get_connection("default")
    pool = getattr(client, "_pool", None)
    if pool is not None:  # asyncpg
        size = pool.get_size()
        return size - pool.get_idle_size(), size
    lock = getattr(client, "_lock", None)  # SQLite: one connection behind a lock
    if lock is not None:
        return (1 if lock.locked() else 0), 1
    return 0, 0
