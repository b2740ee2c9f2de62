"""Test fixtures: the app on one database backend, a GraphQL client, a statement counter.

PARTNERDESK_TEST_BACKEND picks SQLite (default) or PostgreSQL. The PostgreSQL run
creates its own database on the server named by PARTNERDESK_TEST_DATABASE_URL and
drops it at the end, so concurrent runs never see each other's rows. Under pytest-xdist
each worker is a session of its own: its own SQLite file or PostgreSQL database.

`make test` runs the suite four times: on SQLite and on PostgreSQL, each with the compiled
read path on and off (PARTNERDESK_COMPILED_READS=false). Every test runs in all four unless
it is marked `no_graphql` (sends no GraphQL operation to PartnerDesk: left out of the passes
with compiled reads off) or `no_test_database` (touches no database of the backend under
test: left out of the PostgreSQL passes). tests/passes.py defines the marks; collection
stops when a marked test uses a fixture or a name its mark rules out (the app, the client,
a server; the test database), so a mark cannot quietly drop a test from a pass it belongs in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from graphlib import TopologicalSorter
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from tortoise import Tortoise
from tortoise.connection import get_connection

from app import create_app
from config import Settings
from models.database import migrate_database
from tests.passes import PASS_MARKS, check_pass_marks, longest_first
from tests.support import GraphQLClient

POSTGRES_URL = os.environ.get("PARTNERDESK_TEST_DATABASE_URL")
# One backend per pytest process: Tortoise caches each model's SQL for the first dialect
# it meets, so `make test` runs the suite once on SQLite and once on PostgreSQL.
BACKEND = os.environ.get("PARTNERDESK_TEST_BACKEND", "sqlite")
if BACKEND not in {"sqlite", "postgres"}:
    raise pytest.UsageError("PARTNERDESK_TEST_BACKEND must be sqlite or postgres")


async def _create_postgres_database(server_url: str) -> tuple[str, str]:
    name = f"partnerdesk_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(server_url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    parts = urlsplit(server_url)
    return name, urlunsplit(parts._replace(path=f"/{name}"))


async def _drop_postgres_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(server_url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated, empty database of the backend under test, for the whole session."""
    if BACKEND == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'partnerdesk.sqlite3'}"
        await migrate_database(url)
        yield url
        return
    assert POSTGRES_URL, "PARTNERDESK_TEST_BACKEND=postgres needs PARTNERDESK_TEST_DATABASE_URL"
    name, url = await _create_postgres_database(POSTGRES_URL)
    try:
        await migrate_database(url)
        yield url
    finally:
        await _drop_postgres_database(POSTGRES_URL, name)


@pytest.fixture(scope="session")
def base_settings(database_url: str) -> Settings:
    # Rate limits far above what a test does; tests of the limits themselves lower them.
    generous = "100000/minute"
    # From the environment, so `make test` can run the suite with PARTNERDESK_COMPILED_READS=false.
    return replace(
        Settings.from_env(),
        database_url=database_url,
        mail_worker=False,
        webhook_worker=False,
        # Test receivers listen on loopback; tests of the address guard turn this off.
        webhook_allow_private=True,
        password_hash_profile="fast",
        rate_limit_inquiry_ip=generous,
        rate_limit_inquiry_partner=generous,
        rate_limit_login_ip=generous,
        rate_limit_login_email=generous,
        rate_limit_login_email_ceiling=generous,
        rate_limit_register_ip=generous,
        rate_limit_invitation_account=generous,
    )


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """The app's settings; a test module overrides this fixture to change some of them."""
    return base_settings


def _tables_children_first() -> list[str]:
    """Every model's table, each before the tables its foreign keys point at."""
    points_at: dict[str, set[str]] = {}
    for model in Tortoise.apps["partnerdesk"].values():
        meta = model._meta
        points_at[meta.db_table] = {
            meta.fields_map[name].related_model._meta.db_table
            for name in meta.fk_fields | meta.o2o_fields
        }
    return list(reversed(list(TopologicalSorter(points_at).static_order())))


async def _empty_all_tables() -> None:
    # DELETE, children first, in one script: on PostgreSQL a TRUNCATE of every table costs
    # about a quarter of a second per test, DELETE of a test's few rows a few milliseconds.
    # Ids go on counting up across tests, as SQLite's AUTOINCREMENT always did.
    statements = "".join(f'DELETE FROM "{table}";' for table in _tables_children_first())
    await get_connection("default").execute_script(statements)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The application with its lifespan entered, on an empty database."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await _empty_all_tables()
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def server_url(app: Starlette) -> AsyncIterator[str]:
    """The app served by a real uvicorn on a free loopback port, in the test's event loop:
    the websocket URL (ws_max_size as `partnerdesk serve` sets it)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        ws_max_size=app.state.settings.max_ws_message_bytes,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await task


@pytest.fixture
def backend() -> str:
    return BACKEND


class StatementCounter(logging.Handler):
    """Counts SQL statements sent: Tortoise logs each one on tortoise.db_client, the compiled
    read path those it sends past Tortoise on partnerdesk.sql."""

    VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lstrip()
        if message.upper().startswith(self.VERBS):
            self.statements.append(message)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def count_queries() -> Iterator[StatementCounter]:
    loggers = [logging.getLogger(name) for name in ("tortoise.db_client", "partnerdesk.sql")]
    counter = StatementCounter()
    previous_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
    try:
        yield counter
    finally:
        for logger, level in zip(loggers, previous_levels, strict=True):
            logger.removeHandler(counter)
            logger.setLevel(level)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres_only: needs PostgreSQL (skipped, with the reason, on SQLite)"
    )
    for mark in PASS_MARKS:
        config.addinivalue_line("markers", f"{mark.name}: {mark.description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    check_pass_marks(items)
    longest_first(items)
    if BACKEND == "postgres":
        return
    reason = (
        "needs PostgreSQL: run with PARTNERDESK_TEST_BACKEND=postgres and PARTNERDESK_TEST_DATABASE_URL"
        if POSTGRES_URL is None
        else "PostgreSQL-only; runs in the PostgreSQL pass of `make test`"
    )
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason=reason))
