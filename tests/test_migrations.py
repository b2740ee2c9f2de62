"""Migrations that rewrite existing rows, run from the schema before them on the backend
under test: rows written by an older PartnerDesk come out right, and nothing is lost.

Each test migrates a database of its own in a fresh process (Tortoise keeps its state
per process), up to the migration before the one under test, writes old rows, migrates
to the latest, and reads them back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from tortoise.connection import get_connection

from tests.conftest import BACKEND, POSTGRES_URL, _create_postgres_database, _drop_postgres_database

ROOT = Path(__file__).resolve().parent.parent
AT = "'2026-01-01T00:00:00+00:00'"
# Rows as PartnerDesk wrote them before migration 0005 (raw SMTP detail in last_error)
# and before 0006 (no requester_name).
OLD_ROWS = [
    "INSERT INTO partner (id, slug, name, display_name, services, is_public, customer_seq,"
    f" contract_seq, created_at) VALUES (1, 'aurora', 'Aurora', 'Aurora', '[]', TRUE, 0, 0, {AT})",
    "INSERT INTO account_holder (id, account_number, email, name, language, password_hash,"
    f" created_at) VALUES (1, 'A000000001', 'anna@example.org', 'Anna Bianchi', 'en', 'x', {AT})",
    "INSERT INTO access_invitation (id, partner_id, account_id, status, scope, permissions,"
    f" received_at, expires_at) VALUES (1, 1, 1, 'WITHDRAWN', 'FULL', '[]', {AT}, {AT})",
    "INSERT INTO email_delivery (id, partner_id, template, language, to_address, subject,"
    " text_body, html_body, status, attempts, last_error, queued_at) VALUES"
    " (1, 1, 'invitation_declined', 'en', 'anna@example.org', 'S', 'T', 'H', 'FAILED', 8,"
    f" 'gave up (8 attempts): Error connecting to mx.internal on port 25: [Errno 111]', {AT}),"
    " (2, 1, 'invitation_declined', 'en', 'anna@example.org', 'S', 'T', 'H', 'QUEUED', 1,"
    f" '451 4.7.1 greylisted by mx.internal', {AT}),"
    f" (3, 1, 'invitation_declined', 'en', 'anna@example.org', 'S', 'T', 'H', 'SENT', 1, NULL, {AT})",
    "INSERT INTO activity_event (id, partner_id, verb, at, summary, subject_type, subject_id)"
    f" VALUES (1, 1, 'EMAIL_FAILED', {AT}, 'E-mail to anna@example.org failed: gave up (8"
    " attempts): Error connecting to mx.internal on port 25: [Errno 111]', 'EmailDelivery', 1),"
    f" (2, 1, 'EMAIL_SENT', {AT}, 'E-mail sent to anna@example.org: S', 'EmailDelivery', 3)",
]
READ_BACK = {
    "emails": "SELECT id, status, last_error, last_error_detail FROM email_delivery ORDER BY id",
    "activity": "SELECT id, summary FROM activity_event ORDER BY id",
    "invitations": "SELECT id, requester_name FROM access_invitation ORDER BY id",
}
# Runs in a fresh interpreter: argv = database URL, migration to start from, JSON statements.
SCRIPT = """
import asyncio, json, sys
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate
from config import tortoise_config

async def main(url, before, old_rows, read_back):
    config = tortoise_config(url)
    await migrate(config=config, target=f"partnerdesk.{before}")
    await Tortoise.init(config=config)
    for statement in old_rows:
        await get_connection("default").execute_script(statement)
    await Tortoise.close_connections()
    await migrate(config=config)
    await Tortoise.init(config=config)
    found = {
        name: [dict(row) for row in await get_connection("default").execute_query_dict(sql)]
        for name, sql in read_back.items()
    }
    await Tortoise.close_connections()
    print(json.dumps(found))

asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])))
"""


@pytest.fixture
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the backend under test, not migrated."""
    if BACKEND == "sqlite":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    assert POSTGRES_URL is not None
    name, url = await _create_postgres_database(POSTGRES_URL)
    try:
        yield url
    finally:
        await _drop_postgres_database(POSTGRES_URL, name)


def migrate_old_rows(url: str, before: str) -> dict[str, list[dict[str, Any]]]:
    arguments = [url, before, json.dumps(OLD_ROWS), json.dumps(READ_BACK)]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.no_graphql
async def test_old_smtp_details_move_out_of_what_partners_read(fresh_database_url: str) -> None:
    # given / when: e-mails and activity rows written before migration 0005
    found = migrate_old_rows(fresh_database_url, "0004_one_connected_invitation_per_customer")
    # then: partners read generic reasons; the detail is kept for operators
    assert found["emails"] == [
        {
            "id": 1,
            "status": "FAILED",
            "last_error": "The message could not be delivered",
            "last_error_detail": "gave up (8 attempts): Error connecting to mx.internal on port 25: [Errno 111]",
        },
        {
            "id": 2,
            "status": "QUEUED",
            "last_error": "An earlier attempt failed",
            "last_error_detail": "451 4.7.1 greylisted by mx.internal",
        },
        {"id": 3, "status": "SENT", "last_error": None, "last_error_detail": None},
    ]
    assert found["activity"] == [
        {
            "id": 1,
            "summary": "E-mail to anna@example.org failed: The message could not be delivered",
        },
        {"id": 2, "summary": "E-mail sent to anna@example.org: S"},
    ]


@pytest.mark.no_graphql
async def test_old_authorizations_get_the_requesters_name(fresh_database_url: str) -> None:
    # given / when: an authorization written before migration 0006
    found = migrate_old_rows(fresh_database_url, "0005_email_last_error_detail")
    # then
    assert found["invitations"] == [{"id": 1, "requester_name": "Anna Bianchi"}]


async def test_the_activity_table_keeps_its_indexes(app: Starlette) -> None:
    # given: the session's database, migrated to the latest (0007 only changed the state)
    connection = get_connection("default")
    if BACKEND == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity_event'"
    else:
        sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'activity_event'"
    # when
    names = {row["name"] for row in await connection.execute_query_dict(sql)}
    # then: the feed and the timelines stay indexed
    assert {"idx_activity_ev_partner_625264", "idx_activity_ev_custome_fe9d71"} <= names


async def test_the_customer_table_keeps_its_indexes_and_gets_the_external_id_one(
    app: Starlette,
) -> None:
    # given: the session's database, migrated to the latest (0011 added columns to customer)
    connection = get_connection("default")
    if BACKEND == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer'"
    else:
        sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'customer'"
    # when
    names = {row["name"] for row in await connection.execute_query_dict(sql)}
    # then: the list's indexes survive, and imports find rows by external ID and e-mail
    assert {"uniq_customer_external_id", "idx_customer_email"} <= names
    assert any(name.startswith("idx_customer_partner_") for name in names)
