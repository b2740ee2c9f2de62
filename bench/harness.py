"""What the benchmark's steps share: the servers compared, their URLs, requests, the database."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import orjson

from bench import seed


class BenchFailure(Exception):
    """The run cannot go on (a server differs, fails or does not start)."""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass(frozen=True)
class Target:
    key: str  # partnerdesk, ref-py, ref-pg, ref-py1, ref-pg1, peer
    label: str

    @property
    def variant(self) -> str:
        """The reference's endpoint variant (py, pg, py1, pg1)."""
        return self.key.split("-", 1)[1]


PARTNERDESK = Target("partnerdesk", "PartnerDesk")
REF_PY = Target("ref-py", "Reference: asyncpg + orjson")
REF_PG = Target("ref-pg", "Reference: PostgreSQL-built JSON")
REF_PY1 = Target("ref-py1", "Reference: asyncpg + orjson, token in the statement")
REF_PG1 = Target("ref-pg1", "Reference: PostgreSQL-built JSON, token in the statement")
PEER = Target("peer", "PostGraphile v5")
REFERENCES = (REF_PY, REF_PG, REF_PY1, REF_PG1)
ALL_TARGETS = (PARTNERDESK, *REFERENCES, PEER)


@dataclass
class Endpoints:
    partnerdesk: str
    reference: str
    peer: str | None
    pids: dict[str, int] = field(default_factory=dict)  # target key -> its server's process

    def url(self, target: Target, workload: str) -> str:
        if target.key == PARTNERDESK.key:
            return self.partnerdesk + "/graphql"
        if target.key == PEER.key:
            assert self.peer
            return self.peer + "/graphql"
        return f"{self.reference}/{workload.lower()}/{target.variant}"


def headers(token: str | None) -> dict[str, str]:
    found = {"content-type": "application/json", "accept": "application/json"}
    if token:
        found["authorization"] = f"Bearer {token}"
    return found


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, token: str | None
) -> dict[str, Any]:
    """The parsed answer of a POST that must succeed without GraphQL errors."""
    response = await client.post(url, content=body, headers=headers(token))
    if response.status_code != 200:
        raise BenchFailure(f"POST {url}: HTTP {response.status_code}: {response.text[:500]}")
    parsed = orjson.loads(response.content)
    if parsed.get("errors") or parsed.get("data") is None:
        raise BenchFailure(f"POST {url}: GraphQL errors: {response.text[:1000]}")
    return dict(parsed)


# ---------------------------------------------------------------- database


def sqlite_path(url: str) -> str | None:
    return url.removeprefix("sqlite://") if url.startswith("sqlite://") else None


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(seed.asyncpg_dsn(url))


async def fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of one query on PostgreSQL ($1 placeholders) or the SQLite profile (? placeholders)."""
    path = sqlite_path(url)
    if path is None:
        connection = await connect(url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()
    with sqlite3.connect(path) as database:
        database.row_factory = sqlite3.Row
        cursor = database.execute(re.sub(r"\$\d+", "?", sql), args)
        return [dict(row) for row in cursor.fetchall()]


async def fetch_value(url: str, sql: str, *args: Any) -> Any:
    rows = await fetch(url, sql, *args)
    return next(iter(rows[0].values())) if rows else None
