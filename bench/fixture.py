"""Before any request is timed: sign the members in and build what every workload sends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from bench import rotation, seed
from bench.harness import BenchFailure, fetch, fetch_value, post
from bench.queries import LOGIN
from bench.rotation import Catalogue, Rotation
from bench.rules import cursor

READ_CUSTOMER_NUMBER = 4242
KEYSET_PAGE = 500  # of 10,000 customers: the last page; the SQLite profile uses its last
SIGN_INS_AT_ONCE = 4  # Argon2id costs ~64 MiB and tens of ms per sign-in
PEER_WALK = """query Walk($partnerId: Int!, $after: Cursor) {
  allCustomers(condition: {partnerId: $partnerId}, orderBy: [SORT_NAME_ASC, ROW_ID_ASC], first: 100, after: $after) {
    edges { cursor node { rowId } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@dataclass
class Fixture:
    """The tokens, the rotations and the check cases of one benchmark run."""

    read_tokens: list[str]  # interleaved by member; [0] is the owner's
    write_tokens: list[str]
    rotations: dict[tuple[str, str], Rotation]
    far_page: int
    checks: dict[str, Rotation]  # keyset and search checks (Q3's document)
    rendered_at: datetime

    @property
    def far_page_case(self) -> str:
        return f"page {self.far_page}"

    def rotation(self, workload: str, mode: str) -> Rotation:
        return self.rotations[(workload, mode)]


async def login(client: httpx.AsyncClient, partnerdesk: str, email: str) -> str:
    body = orjson.dumps(
        {
            "query": LOGIN,
            "variables": {"input": {"realm": "PARTNER", "email": email, "password": seed.PASSWORD}},
        }
    )
    payload = (await post(client, partnerdesk + "/graphql", body, None))["data"]["login"]
    if not payload["token"]:
        raise BenchFailure(f"login as {email} failed: {payload['errors']}")
    return str(payload["token"])


async def member_tokens(
    client: httpx.AsyncClient, partnerdesk: str, partner: int, per_member: int
) -> list[str]:
    """`per_member` sign-ins of each of the partner's members, interleaved by member."""
    limit = asyncio.Semaphore(SIGN_INS_AT_ONCE)

    async def sign_in(email: str) -> str:
        async with limit:
            return await login(client, partnerdesk, email)

    by_member = []
    for k in range(seed.MEMBERS_PER_PARTNER):
        email = seed.member_email(partner, k)
        by_member.append(await asyncio.gather(*(sign_in(email) for _ in range(per_member))))
    return rotation.interleaved(by_member)


async def peer_cursors(client: httpx.AsyncClient, peer: str, expected: int) -> list[str]:
    """PostGraphile's own cursor for every customer of the read partner, in list order."""
    cursors: list[str] = []
    after = None
    for _ in range(expected // 100 + 2):  # bounded: one page of 100 per step
        body = orjson.dumps(
            {"query": PEER_WALK, "variables": {"partnerId": seed.READ_PARTNER, "after": after}}
        )
        page = (await post(client, peer + "/graphql", body, None))["data"]["allCustomers"]
        cursors += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    if len(cursors) != expected:
        raise BenchFailure(f"PostGraphile lists {len(cursors)} customers, the database {expected}")
    return cursors


async def catalogue(url: str, client: httpx.AsyncClient, peer: str | None) -> Catalogue:
    ids = await fetch(
        url, "SELECT id FROM customer WHERE partner_id = $1 ORDER BY id", seed.READ_PARTNER
    )
    ordered = await fetch(
        url,
        "SELECT sort_name, id FROM customer WHERE partner_id = $1 ORDER BY sort_name, id",
        seed.READ_PARTNER,
    )
    found = Catalogue(
        customer_ids=[row["id"] for row in ids],
        ordered=[(row["sort_name"], row["id"]) for row in ordered],
    )
    if peer:
        found.peer_cursors = await peer_cursors(client, peer, len(found.ordered))
    return found


async def build(
    url: str,
    client: httpx.AsyncClient,
    partnerdesk: str,
    peer: str | None,
    customers_per_partner: int,
    tokens_per_member: int = rotation.TOKENS_PER_MEMBER,
) -> Fixture:
    read_tokens = await member_tokens(client, partnerdesk, seed.READ_PARTNER, tokens_per_member)
    write_tokens = await member_tokens(client, partnerdesk, seed.WRITE_PARTNER, tokens_per_member)
    found = await catalogue(url, client, peer)
    fixed_customer = await fetch_value(
        url,
        "SELECT id FROM customer WHERE partner_id = $1 AND number = $2",
        seed.READ_PARTNER,
        READ_CUSTOMER_NUMBER % customers_per_partner or 1,
    )
    # "Well in the past": older than PartnerDesk's fill-time spam threshold, younger than a day.
    rendered_at = datetime.now(UTC) - timedelta(minutes=1)
    far_page = min(KEYSET_PAGE, customers_per_partner // 20)
    sort_name, pk = found.ordered[20 * (far_page - 1) - 1]
    owner = read_tokens[:1]
    terms = rotation.search_terms()
    checks = {
        "page 1": Rotation([{"first": 20}], owner),
        f"page {far_page}": Rotation([{"first": 20, "after": cursor(sort_name, pk)}], owner),
        "search": Rotation([{"first": 20, "filter": {"search": terms[0]}}], owner),
        "search, rotating": Rotation(
            [{"first": 20, "filter": {"search": term}} for term in terms], read_tokens
        ),
    }
    return Fixture(
        read_tokens=read_tokens,
        write_tokens=write_tokens,
        rotations=rotation.rotations(found, read_tokens, write_tokens, rendered_at, fixed_customer),
        far_page=far_page,
        checks=checks,
        rendered_at=rendered_at,
    )


def describe(fixture: Fixture) -> dict[str, tuple[int, int]]:
    """(variable sets, tokens) each rotating workload cycles through (for the report)."""
    return {
        workload: (len(r.variables), len(r.tokens))
        for (workload, mode), r in fixture.rotations.items()
        if mode == rotation.ROTATING
    }
