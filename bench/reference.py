"""The "physical limit" reference: hand-written Starlette endpoints on asyncpg and orjson.

Each endpoint takes the same POST body as PartnerDesk's /graphql (bench/queries.py; it
reads only the variables) and answers with the same JSON: same fields in the same order,
the same global ids, cursors and DateTime format (bench/rules.py). bench/run.py checks
that before it times anything.

It gets every database setting PartnerDesk uses that is not PartnerDesk's own idea
(config.py): a pool of the same size (5; BENCH_REFERENCE_POOL_SIZE to change); on release, a pooled connection only rolls back a transaction left open
instead of asyncpg's `RESET ALL; UNLISTEN *; ...` round trip; PostgreSQL plans each
prepared statement once per connection (plan_cache_mode = force_generic_plan); and every
statement is prepared once per connection and reused (asyncpg's statement cache; the
statement texts do not vary with the values, bench/reference_sql.py).

Read workloads come in four variants; the fastest is the reference:

- `/qN/py`: the bearer token looked up first (SHA-256, auth_token joined with its
  member, its own round trip), then rows from asyncpg, the response assembled in Python
  and serialised by orjson (Q2: one statement per list level, `customer_id = ANY($1)`);
- `/qN/pg`: the token looked up first, then one statement in which PostgreSQL builds
  the response JSON (json_build_object / json_agg); Python only wraps the text;
- `/qN/py1`, `/qN/pg1`: the same, with the token checked inside the read statement (it
  derives the partner from the token): one round trip, like PartnerDesk's compiled reads.

Writes (`/mN/py`, bench/reference_writes.py) check their input as PartnerDesk does and
write the same rows in one transaction each, with plain asyncpg statements.

    BENCH_DATABASE_URL=postgres://... uvicorn bench.reference:create_app --factory
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import reference_sql as sql
from bench import reference_writes as writes
from bench.reference_writes import Member
from bench.rules import cursor, global_id, parse_global_id

JSON = "application/json"
UNAUTHENTICATED = orjson.dumps(
    {"data": None, "errors": [{"message": "Sign in first: this needs a valid bearer token."}]}
)
BAD_VARIABLES = orjson.dumps({"data": None, "errors": [{"message": "Invalid variables."}]})
CENTS = Decimal("0.01")
# PartnerDesk's pool: Tortoise's default of at most 5 connections (config.py sets no size).
POOL_SIZE = int(os.environ.get("BENCH_REFERENCE_POOL_SIZE", "5"))


def money(amount: Decimal | None, currency: str | None) -> dict[str, str] | None:
    """schema/items.py's Money: at least two decimals ("49.90", "12.345"), currency upper case."""
    if amount is None or not currency:
        return None
    normalized = amount.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        normalized = normalized.quantize(CENTS)
    return {"amount": f"{normalized:f}", "currency": currency.upper()}


def json_response(content: bytes) -> Response:
    return Response(content, media_type=JSON)


async def release(connection: asyncpg.Connection) -> None:
    """Pool hook on release (as PartnerDesk's config.py): only an open transaction is undone."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def token_hash(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _customer(row: Any, offset: int = 0) -> dict[str, Any]:
    return {
        "id": global_id("Customer", row[offset]),
        "customerNumber": row[offset + 1],
        "kind": row[offset + 2],
        "displayName": row[offset + 3],
        "firstName": row[offset + 4],
        "lastName": row[offset + 5],
        "companyName": row[offset + 6],
        "email": row[offset + 7],
        "phone": row[offset + 8],
        "tags": orjson.Fragment(row[offset + 9]),
        "status": row[offset + 10],
        "createdAt": row[offset + 11],
    }


def _list_node(row: Any, offset: int = 0) -> dict[str, Any]:
    return {
        "id": global_id("Customer", row[offset]),
        "customerNumber": row[offset + 1],
        "kind": row[offset + 2],
        "displayName": row[offset + 3],
        "email": row[offset + 4],
        "phone": row[offset + 5],
        "status": row[offset + 6],
        "createdAt": row[offset + 7],
    }


def _page_body(edges: bytes, has_next: bool, end_cursor: str | None) -> bytes:
    return b"".join(
        (
            b'{"data":{"customers":{"edges":',
            edges,
            b',"pageInfo":{"hasNextPage":',
            b"true" if has_next else b"false",
            b',"endCursor":',
            orjson.dumps(end_cursor),
            b"}}}}",
        )
    )


Connection = asyncpg.Connection
Handler = Callable[[Connection, str | None, dict[str, Any]], Awaitable[bytes]]


class Reference:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url.replace("postgres://", "postgresql://", 1)
        self.pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.pool = await asyncpg.create_pool(
            self.database_url,
            min_size=POOL_SIZE,
            max_size=POOL_SIZE,
            reset=release,
            server_settings={"plan_cache_mode": "force_generic_plan"},
        )
        try:
            yield
        finally:
            await self.pool.close()

    @staticmethod
    async def member(connection: Connection, hashed: str | None) -> Member | None:
        if hashed is None:
            return None
        row = await connection.fetchrow(sql.AUTH_SQL, hashed)
        return Member(row[0], row[1], row[2]) if row else None

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            variables = orjson.loads(await request.body()).get("variables") or {}
            assert self.pool is not None
            async with self.pool.acquire() as connection:
                try:
                    return json_response(await handler(connection, token_hash(request), variables))
                except ValueError:
                    return json_response(BAD_VARIABLES)

        return serve

    def looked_up(
        self, handler: Callable[[Connection, Member | None, dict[str, Any]], Awaitable[bytes]]
    ) -> Handler:
        """A handler that needs the member: the token is looked up first, on its own."""

        async def run(
            connection: Connection, hashed: str | None, variables: dict[str, Any]
        ) -> bytes:
            return await handler(connection, await self.member(connection, hashed), variables)

        return run

    # ------------------------------------------------------------ Q1

    async def q1_py(
        self, connection: Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pk = parse_global_id(variables.get("id"), "Customer")
        row = await connection.fetchrow(sql.Q1_PY, pk, member.partner_id) if pk else None
        return orjson.dumps({"data": {"customer": _customer(row) if row else None}})

    async def q1_pg(
        self, connection: Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pk = parse_global_id(variables.get("id"), "Customer")
        text = await connection.fetchval(sql.Q1_PG, pk, member.partner_id) if pk else None
        return b'{"data":{"customer":' + (text.encode() if text else b"null") + b"}}"

    async def q1_py1(
        self, connection: Connection, hashed: str | None, variables: dict[str, Any]
    ) -> bytes:
        pk = parse_global_id(variables.get("id"), "Customer")
        row = await connection.fetchrow(sql.Q1_PY1, hashed, pk or 0) if hashed else None
        if row is None:
            return UNAUTHENTICATED
        customer = _customer(row, 1) if pk and row[1] is not None else None
        return orjson.dumps({"data": {"customer": customer}})

    async def q1_pg1(
        self, connection: Connection, hashed: str | None, variables: dict[str, Any]
    ) -> bytes:
        pk = parse_global_id(variables.get("id"), "Customer")
        row = await connection.fetchrow(sql.Q1_PG1, hashed, pk or 0) if hashed else None
        if row is None:
            return UNAUTHENTICATED
        text = row[1] if pk else None
        return b'{"data":{"customer":' + (text.encode() if text else b"null") + b"}}"

    # ------------------------------------------------------------ Q2, Q3

    async def _items(
        self, connection: Connection, partner_id: int, rows: list[Any], nodes: list[dict[str, Any]]
    ) -> None:
        """Domains, contracts and open tasks of a page: one statement per list."""
        ids = [row[0] for row in rows]
        by_id = {row[0]: node for row, node in zip(rows, nodes, strict=True)}
        for node in nodes:
            node["domains"], node["contracts"], node["tasks"] = [], [], []
        for d in await connection.fetch(sql.DOMAINS_PY, ids, partner_id):
            by_id[d[0]]["domains"].append(
                {"id": global_id("Domain", d[1]), "name": d[2], "status": d[3], "expiresOn": d[4]}
            )
        for k in await connection.fetch(sql.CONTRACTS_PY, ids, partner_id):
            by_id[k[0]]["contracts"].append(
                {
                    "id": global_id("Contract", k[1]),
                    "contractNumber": k[2],
                    "status": k[3],
                    "monthlyFee": money(k[4], k[5]),
                }
            )
        for t in await connection.fetch(sql.TASKS_PY, ids, partner_id):
            by_id[t[0]]["tasks"].append(
                {"id": global_id("Task", t[1]), "title": t[2], "priority": t[3], "dueOn": t[4]}
            )

    async def _page_rows(
        self,
        connection: Connection,
        rows: list[Any],
        first: int,
        partner_id: int,
        with_items: bool,
        offset: int,
    ) -> bytes:
        has_next = len(rows) > first
        rows = rows[:first]
        nodes = [_list_node(row, offset) for row in rows]
        if with_items and rows:
            await self._items(connection, partner_id, [row[offset:] for row in rows], nodes)
        last = rows[-1][offset:] if rows else None
        end_cursor = cursor(last[8], last[0]) if last else None
        return _page_body(orjson.dumps([{"node": node} for node in nodes]), has_next, end_cursor)

    async def _page_py(
        self,
        connection: Connection,
        member: Member | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        text, args, first = sql.page_sql(variables, False, with_items, token_in_statement=False)
        rows = await connection.fetch(text, member.partner_id, *args)
        return await self._page_rows(connection, rows, first, member.partner_id, with_items, 0)

    async def _page_py1(
        self,
        connection: Connection,
        hashed: str | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        text, args, first = sql.page_sql(variables, False, with_items, token_in_statement=True)
        rows = await connection.fetch(text, hashed, *args) if hashed else []
        if not rows or rows[0][0] is None:
            return UNAUTHENTICATED
        partner_id = rows[0][0]
        rows = [row for row in rows if row[1] is not None]  # an empty page: one row of NULLs
        return await self._page_rows(connection, rows, first, partner_id, with_items, 1)

    async def _page_pg(
        self,
        connection: Connection,
        member: Member | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        text, args, _first = sql.page_sql(variables, True, with_items, token_in_statement=False)
        has_next, edges, last_name, last_id = await connection.fetchrow(
            text, member.partner_id, *args
        )
        end_cursor = cursor(last_name, last_id) if last_id is not None else None
        return _page_body(edges.encode(), has_next, end_cursor)

    async def _page_pg1(
        self,
        connection: Connection,
        hashed: str | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        text, args, _first = sql.page_sql(variables, True, with_items, token_in_statement=True)
        row = await connection.fetchrow(text, hashed, *args) if hashed else None
        if row is None or row[0] is None:
            return UNAUTHENTICATED
        _partner, has_next, edges, last_name, last_id = row
        end_cursor = cursor(last_name, last_id) if last_id is not None else None
        return _page_body(edges.encode(), has_next, end_cursor)

    async def q2_py(self, c: Connection, m: Member | None, v: dict[str, Any]) -> bytes:
        return await self._page_py(c, m, v, with_items=True)

    async def q2_pg(self, c: Connection, m: Member | None, v: dict[str, Any]) -> bytes:
        return await self._page_pg(c, m, v, with_items=True)

    async def q2_py1(self, c: Connection, h: str | None, v: dict[str, Any]) -> bytes:
        return await self._page_py1(c, h, v, with_items=True)

    async def q2_pg1(self, c: Connection, h: str | None, v: dict[str, Any]) -> bytes:
        return await self._page_pg1(c, h, v, with_items=True)

    async def q3_py(self, c: Connection, m: Member | None, v: dict[str, Any]) -> bytes:
        return await self._page_py(c, m, v, with_items=False)

    async def q3_pg(self, c: Connection, m: Member | None, v: dict[str, Any]) -> bytes:
        return await self._page_pg(c, m, v, with_items=False)

    async def q3_py1(self, c: Connection, h: str | None, v: dict[str, Any]) -> bytes:
        return await self._page_py1(c, h, v, with_items=False)

    async def q3_pg1(self, c: Connection, h: str | None, v: dict[str, Any]) -> bytes:
        return await self._page_pg1(c, h, v, with_items=False)

    # ------------------------------------------------------------ Q4

    @staticmethod
    def _badges(pending: int, fresh: int) -> bytes:
        return orjson.dumps(
            {
                "data": {
                    "pendingInvitationCount": pending,
                    "viewer": {"member": {"partner": {"newInquiryCount": fresh}}},
                }
            }
        )

    async def q4_py(
        self, connection: Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pending, fresh = await connection.fetchrow(sql.Q4_PY, member.partner_id)
        return self._badges(pending, fresh)

    async def q4_py1(
        self, connection: Connection, hashed: str | None, variables: dict[str, Any]
    ) -> bytes:
        row = await connection.fetchrow(sql.Q4_PY1, hashed) if hashed else None
        if row is None:
            return UNAUTHENTICATED
        return self._badges(row[0], row[1])


async def healthz(request: Request) -> Response:
    return json_response(b'{"status":"ok"}')


# Workload -> variants, as bench/run.py addresses them: POST /<workload>/<variant>. A
# variant ending in 1 checks the token inside its one read statement.
VARIANTS = {
    "q1": ("py", "pg", "py1", "pg1"),
    "q2": ("py", "pg", "py1", "pg1"),
    "q3": ("py", "pg", "py1", "pg1"),
    "q4": ("py", "py1"),
    "m1": ("py",),
    "m2": ("py",),
    "m3": ("py",),
    "m4": ("py",),
}
WRITES = {"m1": writes.m1, "m2": writes.m2, "m3": writes.m3, "m4": writes.m4}


def create_app(database_url: str | None = None) -> Starlette:
    reference = Reference(database_url or os.environ["BENCH_DATABASE_URL"])
    routes = [Route("/healthz", healthz)]
    for workload, variants in VARIANTS.items():
        for variant in variants:
            if workload in WRITES:
                handler = reference.looked_up(WRITES[workload])
            elif variant.endswith("1"):
                handler = getattr(reference, f"{workload}_{variant}")
            else:
                handler = reference.looked_up(getattr(reference, f"{workload}_{variant}"))
            routes.append(
                Route(f"/{workload}/{variant}", reference.endpoint(handler), methods=["POST"])
            )
    return Starlette(routes=routes, lifespan=reference.lifespan)
