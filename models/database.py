"""Opening the database and applying the committed migrations (models/migrations)."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from config import tortoise_config


async def migrate_database(database_url: str) -> None:
    """Apply every migration not yet applied; a no-op on an up-to-date database."""
    await migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()
