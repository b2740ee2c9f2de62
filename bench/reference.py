"""The "physical limit" reference: hand-written Starlette endpoints on asyncpg and orjson.

Each endpoint takes the same POST body as PartnerDesk's /graphql (bench/queries.py; it
reads only the variables) and answers with the same JSON: same fields in the same order,
the same global ids (base64 of "Type:pk", schema/ids.py), cursors and DateTime format.
bench/run.py checks that before it times anything.

Every request pays what PartnerDesk pays to know who is calling: the bearer token is
hashed (SHA-256) and looked up in auth_token with its member (resolvers/auth.py), as its
own statement. Read workloads come in two variants, and the faster one is the reference:

- `/qN/py`: rows from asyncpg, the response assembled in Python and serialised by orjson
  (Q2: one statement per list level, `customer_id = ANY($1)`).
- `/qN/pg`: one statement in which PostgreSQL builds the response JSON
  (json_build_object / json_agg); Python only wraps the text.

Writes (`/m1/py`, `/m2/py`) do the same rows as PartnerDesk in one transaction each, with
plain asyncpg statements and no ORM, but skip its input validation (the inputs sent are
already clean; the runner compares the rows both wrote).

    BENCH_DATABASE_URL=postgres://... uvicorn bench.reference:create_app --factory
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The derived customer columns and the name split are PartnerDesk's own rules; the
# reference must write the same values, so it uses the same two pure functions. Cursors
# likewise: their format is the app's, and it may change while the app evolves.
from resolvers.customers import _derived
from resolvers.pagination import SortKey, _encode, decode_cursor
from resolvers.validation import split_name

JSON = "application/json"
MAX_PAGE_SIZE = 100
CURSOR_KEYS = (SortKey("sort_name"), SortKey("id"))
UNAUTHENTICATED = orjson.dumps(
    {"data": None, "errors": [{"message": "Sign in first: this needs a valid bearer token."}]}
)
CENTS = Decimal("0.01")

AUTH_SQL = """
SELECT m.id, m.partner_id, m.name
FROM auth_token t JOIN partner_member m ON m.id = t.member_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
"""


@dataclass(frozen=True)
class Member:
    id: int
    partner_id: int
    name: str


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def parse_global_id(value: Any, type_name: str) -> int | None:
    try:
        name, _, pk = base64.b64decode(str(value), validate=True).decode().partition(":")
    except ValueError:
        return None
    return int(pk) if name == type_name and pk.isdigit() else None


def cursor(sort_name: str, pk: int) -> str:
    return _encode(CURSOR_KEYS, SimpleNamespace(pk=pk, id=pk, sort_name=sort_name))  # type: ignore[arg-type]


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


# ---------------------------------------------------------------- SQL building blocks


def sql_global_id(type_name: str, column: str) -> str:
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


def sql_datetime(column: str) -> str:
    """Python's isoformat() of a UTC datetime: microseconds only when not zero."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN extract(microseconds FROM {column})::bigint % 1000000 <> 0"
        f" THEN to_char({column} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00'"
    )


def sql_money(amount: str, currency: str) -> str:
    return (
        f"CASE WHEN {amount} IS NOT NULL AND coalesce({currency}, '') <> '' THEN json_build_object("
        f"'amount', CASE WHEN scale(trim_scale({amount})) < 2 THEN round({amount}, 2)::text"
        f" ELSE trim_scale({amount})::text END, 'currency', upper({currency})) END"
    )


Q1_PY = """
SELECT id, customer_number, kind, display_name, first_name, last_name, company_name, email,
       phone, tags, status, created_at
FROM customer WHERE id = $1 AND partner_id = $2
"""

Q1_PG = f"""
SELECT json_build_object(
  'id', {sql_global_id("Customer", "c.id")}, 'customerNumber', c.customer_number,
  'kind', c.kind, 'displayName', c.display_name, 'firstName', c.first_name,
  'lastName', c.last_name, 'companyName', c.company_name, 'email', c.email, 'phone', c.phone,
  'tags', c.tags, 'status', c.status, 'createdAt', {sql_datetime("c.created_at")}
)::text
FROM customer c WHERE c.id = $1 AND c.partner_id = $2
"""

LIST_COLUMNS = (
    "id, customer_number, kind, display_name, email, phone, status, created_at, sort_name"
)


def sql_list_node(alias: str) -> str:
    return (
        f"'id', {sql_global_id('Customer', f'{alias}.id')}, 'customerNumber', {alias}.customer_number,"
        f" 'kind', {alias}.kind, 'displayName', {alias}.display_name, 'email', {alias}.email,"
        f" 'phone', {alias}.phone, 'status', {alias}.status,"
        f" 'createdAt', {sql_datetime(f'{alias}.created_at')}"
    )


SQL_ITEMS = f"""
, 'domains', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Domain", "d.id")}, 'name', d.name, 'status', d.status,
      'expiresOn', d.expires_on) ORDER BY d.name, d.id), '[]'::json)
    FROM domain d WHERE d.customer_id = p.id AND d.partner_id = $1)
, 'contracts', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Contract", "k.id")}, 'contractNumber', k.contract_number,
      'status', k.status, 'monthlyFee', {sql_money("k.fee_amount", "k.fee_currency")})
      ORDER BY k.starts_on, k.id), '[]'::json)
    FROM contract k WHERE k.customer_id = p.id AND k.partner_id = $1)
, 'tasks', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Task", "t.id")}, 'title', t.title, 'priority', t.priority,
      'dueOn', t.due_on) ORDER BY t.due_on, t.id), '[]'::json)
    FROM task t WHERE t.customer_id = p.id AND t.partner_id = $1 AND t.status = 'OPEN')
"""

DOMAINS_PY = """
SELECT customer_id, id, name, status, expires_on FROM domain
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 ORDER BY name, id
"""
CONTRACTS_PY = """
SELECT customer_id, id, contract_number, status, fee_amount, fee_currency FROM contract
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 ORDER BY starts_on, id
"""
TASKS_PY = """
SELECT customer_id, id, title, priority, due_on FROM task
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 AND status = 'OPEN' ORDER BY due_on, id
"""

Q4_PY = """
SELECT (SELECT count(*) FROM access_invitation
        WHERE partner_id = $1 AND status = 'PENDING' AND expires_at > now()),
       (SELECT count(*) FROM inquiry WHERE partner_id = $1 AND status = 'NEW')
"""

M1_PARTNER = "SELECT id FROM partner WHERE slug = $1 AND is_public"
M1_INSERT = """
INSERT INTO inquiry (partner_id, status, name, email, phone, company_name, message, received_at)
VALUES ($1, 'NEW', $2, $3, $4, $5, $6, $7) RETURNING id
"""
M1_ACTIVITY = """
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
VALUES ($1, 'INQUIRY_RECEIVED', $2, NULL, $3, NULL, 'Inquiry', $4)
"""

M2_DECIDE = """
UPDATE inquiry SET status = 'ASSIGNED', assigned_at = $3, assigned_by_id = $4
WHERE id = $1 AND partner_id = $2 AND status = 'NEW'
RETURNING name, email, phone, company_name
"""
M2_NUMBER = (
    "UPDATE partner SET customer_seq = customer_seq + 1 WHERE id = $1 RETURNING customer_seq"
)
M2_CUSTOMER = """
INSERT INTO customer (partner_id, number, customer_number, kind, first_name, last_name,
  company_name, display_name, sort_name, email, phone, language, tags, tags_text, search_text,
  status, source, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'en', '[]', $12, $13, 'ACTIVE', 'INQUIRY', 1, $14, $14)
RETURNING id
"""
M2_LINK_AND_LOG = """
WITH linked AS (UPDATE inquiry SET customer_id = $1 WHERE id = $2)
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
VALUES ($3, 'CUSTOMER_CREATED', $4, $5, $6, $1, 'Customer', $1),
       ($3, 'INQUIRY_CONVERTED', $4, $5, $7, $1, 'Inquiry', $2)
"""


def page_sql(
    variables: dict[str, Any], pg_json: bool, with_items: bool
) -> tuple[str, list[Any], int]:
    """The customers(first, after, filter: {search}) page query; (sql, args, page size)."""
    first = variables.get("first")
    first = 20 if first is None else int(first)
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ValueError("first out of range")
    args: list[Any] = []
    conditions = ["partner_id = $1"]
    if variables.get("after"):
        sort_name, pk = decode_cursor(CURSOR_KEYS, variables["after"], "after")
        args += [sort_name, pk]  # $2, $3 ($1 is the partner)
        conditions.append("(sort_name, id) > ($2, $3)")
    search = ((variables.get("filter") or {}).get("search") or "").lower().split()[:8]
    for word in search:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
        conditions.append(f"search_text LIKE ${len(args) + 1}")
    where = " AND ".join(conditions)
    if not pg_json:
        sql = (
            f"SELECT {LIST_COLUMNS} FROM customer WHERE {where}"
            f" ORDER BY sort_name, id LIMIT {first + 1}"
        )
        return sql, args, first
    sql = f"""
WITH more AS (
  SELECT c.*, row_number() OVER (ORDER BY c.sort_name, c.id) AS position
  FROM (SELECT * FROM customer WHERE {where} ORDER BY sort_name, id LIMIT {first + 1}) c
), page AS (SELECT * FROM more WHERE position <= {first})
SELECT (SELECT count(*) FROM more) > {first},
       (SELECT coalesce(json_agg(json_build_object('node', json_build_object(
           {sql_list_node("p")} {SQL_ITEMS if with_items else ""}
        )) ORDER BY p.position), '[]'::json) FROM page p)::text,
       last.sort_name, last.id
FROM (SELECT 1) one LEFT JOIN LATERAL (
  SELECT sort_name, id FROM page ORDER BY position DESC LIMIT 1
) last ON true
"""
    return sql, args, first


class Reference:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url.replace("postgres://", "postgresql://", 1)
        self.pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=10, max_size=10)
        try:
            yield
        finally:
            await self.pool.close()

    async def member(self, connection: asyncpg.Connection, request: Request) -> Member | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        row = await connection.fetchrow(
            AUTH_SQL, hashlib.sha256(token.strip().encode()).hexdigest()
        )
        return Member(row[0], row[1], row[2]) if row else None

    def endpoint(
        self,
        handler: Callable[[asyncpg.Connection, Member | None, dict[str, Any]], Awaitable[bytes]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            variables = orjson.loads(await request.body()).get("variables") or {}
            assert self.pool is not None
            async with self.pool.acquire() as connection:
                member = await self.member(connection, request)
                return json_response(await handler(connection, member, variables))

        return serve

    # ------------------------------------------------------------ reads

    async def q1_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pk = parse_global_id(variables.get("id"), "Customer")
        row = await connection.fetchrow(Q1_PY, pk, member.partner_id) if pk is not None else None
        customer = None
        if row is not None:
            customer = {
                "id": global_id("Customer", row[0]),
                "customerNumber": row[1],
                "kind": row[2],
                "displayName": row[3],
                "firstName": row[4],
                "lastName": row[5],
                "companyName": row[6],
                "email": row[7],
                "phone": row[8],
                "tags": orjson.Fragment(row[9]),
                "status": row[10],
                "createdAt": row[11],
            }
        return orjson.dumps({"data": {"customer": customer}})

    async def q1_pg(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pk = parse_global_id(variables.get("id"), "Customer")
        text = await connection.fetchval(Q1_PG, pk, member.partner_id) if pk is not None else None
        return b'{"data":{"customer":' + (text.encode() if text else b"null") + b"}}"

    async def _page_py(
        self,
        connection: asyncpg.Connection,
        member: Member | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        sql, args, first = page_sql(variables, pg_json=False, with_items=with_items)
        rows = await connection.fetch(sql, member.partner_id, *args)
        has_next = len(rows) > first
        rows = rows[:first]
        nodes = [
            {
                "id": global_id("Customer", row[0]),
                "customerNumber": row[1],
                "kind": row[2],
                "displayName": row[3],
                "email": row[4],
                "phone": row[5],
                "status": row[6],
                "createdAt": row[7],
            }
            for row in rows
        ]
        if with_items and rows:
            ids = [row[0] for row in rows]
            by_id = {row[0]: node for row, node in zip(rows, nodes, strict=True)}
            for node in nodes:
                node["domains"], node["contracts"], node["tasks"] = [], [], []
            for d in await connection.fetch(DOMAINS_PY, ids, member.partner_id):
                by_id[d[0]]["domains"].append(
                    {
                        "id": global_id("Domain", d[1]),
                        "name": d[2],
                        "status": d[3],
                        "expiresOn": d[4],
                    }
                )
            for k in await connection.fetch(CONTRACTS_PY, ids, member.partner_id):
                by_id[k[0]]["contracts"].append(
                    {
                        "id": global_id("Contract", k[1]),
                        "contractNumber": k[2],
                        "status": k[3],
                        "monthlyFee": money(k[4], k[5]),
                    }
                )
            for t in await connection.fetch(TASKS_PY, ids, member.partner_id):
                by_id[t[0]]["tasks"].append(
                    {"id": global_id("Task", t[1]), "title": t[2], "priority": t[3], "dueOn": t[4]}
                )
        end_cursor = cursor(rows[-1][8], rows[-1][0]) if rows else None
        return orjson.dumps(
            {
                "data": {
                    "customers": {
                        "edges": [{"node": node} for node in nodes],
                        "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor},
                    }
                }
            }
        )

    async def _page_pg(
        self,
        connection: asyncpg.Connection,
        member: Member | None,
        variables: dict[str, Any],
        with_items: bool,
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        sql, args, _first = page_sql(variables, pg_json=True, with_items=with_items)
        has_next, edges, last_sort_name, last_id = await connection.fetchrow(
            sql, member.partner_id, *args
        )
        end_cursor = orjson.dumps(cursor(last_sort_name, last_id) if last_id is not None else None)
        return b"".join(
            (
                b'{"data":{"customers":{"edges":',
                edges.encode(),
                b',"pageInfo":{"hasNextPage":',
                b"true" if has_next else b"false",
                b',"endCursor":',
                end_cursor,
                b"}}}}",
            )
        )

    async def q2_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        return await self._page_py(connection, member, variables, with_items=True)

    async def q2_pg(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        return await self._page_pg(connection, member, variables, with_items=True)

    async def q3_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        return await self._page_py(connection, member, variables, with_items=False)

    async def q3_pg(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        return await self._page_pg(connection, member, variables, with_items=False)

    async def q4_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return UNAUTHENTICATED
        pending, fresh = await connection.fetchrow(Q4_PY, member.partner_id)
        return orjson.dumps(
            {
                "data": {
                    "pendingInvitationCount": pending,
                    "viewer": {"member": {"partner": {"newInquiryCount": fresh}}},
                }
            }
        )

    # ------------------------------------------------------------ writes

    async def m1_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        given = variables["input"]
        partner_id = await connection.fetchval(
            M1_PARTNER, (given.get("partnerSlug") or "").strip().lower()
        )
        if partner_id is None:
            return orjson.dumps(
                {
                    "data": {
                        "submitInquiry": {
                            "accepted": False,
                            "errors": [
                                {
                                    "code": "PROFILE_NOT_PUBLIC",
                                    "field": ["partnerSlug"],
                                    "message": "This partner does not take inquiries: the profile is not public.",
                                }
                            ],
                        }
                    }
                }
            )
        name, company_name = given["name"], given.get("companyName")
        summary = f"Inquiry received from {name}" + (f" ({company_name})" if company_name else "")
        now = datetime.now(UTC)
        async with connection.transaction():
            inquiry_id = await connection.fetchval(
                M1_INSERT,
                partner_id,
                name,
                given["email"],
                given.get("phone"),
                company_name,
                given["message"],
                now,
            )
            await connection.execute(M1_ACTIVITY, partner_id, now, summary[:500], inquiry_id)
        return orjson.dumps({"data": {"submitInquiry": {"accepted": True, "errors": []}}})

    async def m2_py(
        self, connection: asyncpg.Connection, member: Member | None, variables: dict[str, Any]
    ) -> bytes:
        if member is None:
            return orjson.dumps(
                {
                    "data": {
                        "convertInquiry": {
                            "inquiry": None,
                            "customer": None,
                            "errors": [
                                {
                                    "code": "UNAUTHENTICATED",
                                    "field": None,
                                    "message": "Sign in first: this needs a valid bearer token.",
                                }
                            ],
                        }
                    }
                }
            )
        given = variables["input"]
        inquiry_id = parse_global_id(given.get("inquiryId"), "Inquiry")
        now = datetime.now(UTC)
        async with connection.transaction():
            inquiry = await connection.fetchrow(
                M2_DECIDE, inquiry_id, member.partner_id, now, member.id
            )
            if inquiry is None:
                return orjson.dumps(
                    {
                        "data": {
                            "convertInquiry": {
                                "inquiry": None,
                                "customer": None,
                                "errors": [
                                    {
                                        "code": "ALREADY_PROCESSED",
                                        "field": ["inquiryId"],
                                        "message": "This inquiry is not NEW (or not found).",
                                    }
                                ],
                            }
                        }
                    }
                )
            name, email, phone, company_name = inquiry
            first_name, last_name = split_name(name)
            number = await connection.fetchval(M2_NUMBER, member.partner_id)
            record = {
                "kind": "COMPANY" if (company_name or "").strip() else "PERSON",
                "first_name": first_name,
                "last_name": last_name,
                "company_name": company_name,
                "email": email,
                "phone": phone,
                "customer_number": f"C-{number:05d}",
                "tags": [],
            }
            derived = _derived(record)
            customer_id = await connection.fetchval(
                M2_CUSTOMER,
                member.partner_id,
                number,
                record["customer_number"],
                record["kind"],
                first_name,
                last_name,
                company_name,
                derived["display_name"],
                derived["sort_name"],
                email,
                phone,
                derived["tags_text"],
                derived["search_text"],
                now,
            )
            display_name = derived["display_name"]
            await connection.execute(
                M2_LINK_AND_LOG,
                customer_id,
                inquiry_id,
                member.partner_id,
                now,
                member.name,
                f"Customer {display_name} created from an inquiry"[:500],
                f"Inquiry from {name} assigned to customer {display_name}"[:500],
            )
        return orjson.dumps(
            {
                "data": {
                    "convertInquiry": {
                        "inquiry": {"id": global_id("Inquiry", inquiry_id), "status": "ASSIGNED"},
                        "customer": {
                            "id": global_id("Customer", customer_id),
                            "customerNumber": record["customer_number"],
                            "displayName": display_name,
                        },
                        "errors": [],
                    }
                }
            }
        )


async def healthz(request: Request) -> Response:
    return json_response(b'{"status":"ok"}')


# Workload -> variants, as bench/run.py addresses them: POST /<workload>/<variant>.
VARIANTS = {
    "q1": ("py", "pg"),
    "q2": ("py", "pg"),
    "q3": ("py", "pg"),
    "q4": ("py",),
    "m1": ("py",),
    "m2": ("py",),
}


def create_app(database_url: str | None = None) -> Starlette:
    reference = Reference(database_url or os.environ["BENCH_DATABASE_URL"])
    routes = [Route("/healthz", healthz)]
    for workload, variants in VARIANTS.items():
        for variant in variants:
            handler = getattr(reference, f"{workload}_{variant}")
            routes.append(
                Route(f"/{workload}/{variant}", reference.endpoint(handler), methods=["POST"])
            )
    return Starlette(routes=routes, lifespan=reference.lifespan)
