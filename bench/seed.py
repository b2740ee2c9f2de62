"""The benchmark data: a fresh database, migrated by the app's migrations, bulk-loaded.

PostgreSQL profile (the benchmark's): database `partnerdesk_bench`, 10 partners with
10,000 customers each; every customer has 3 domains, 2 contracts and 4 tasks. 20,000
inquiries (mostly NEW) and 2,000 PENDING access invitations from 1,000 account holders.
Rows go in with asyncpg COPY, then VACUUM ANALYZE. The SQLite profile (2 partners x
2,000 customers) writes the same rows through Tortoise's SQLite connection (executemany).

Customers' derived columns (display_name, sort_name, tags_text, search_text) follow
PartnerDesk's rules (restated in bench/rules.py), so the data is what the API itself
would have written. The schema comes from PartnerDesk's own migrations (`partnerdesk
migrate`). Every partner has an owner and 11 more members, all signing in with PASSWORD
("owner01@bench.partnerdesk.test", "member01.p01@bench.partnerdesk.test", ...), so the
rotating runs can send tokens of many members.

The write workloads consume pools made just before each run (`insert_inquiry_pool`,
`insert_invitation_pool`): NEW inquiries to convert, and PENDING access authorizations
from fresh account holders (with fresh customers to connect them to), one per request.

    .venv/bin/python -m bench.seed                       # PostgreSQL (drop + create)
    .venv/bin/python -m bench.seed --sqlite bench.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import idna
import orjson
from argon2 import PasswordHasher

from bench.rules import customer_number as format_customer_number
from bench.rules import derived as _derived

PG_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "partnerdesk_bench"
PASSWORD = "bench-password-1"
# Reads are measured on partner 1; mutations write to partner 2 only, so the rows the
# read workloads see never change during or between runs.
READ_PARTNER = 1
WRITE_PARTNER = 2
# Members per partner (the owner included); the rotating runs sign in as each of them.
MEMBERS_PER_PARTNER = 12
# Fixed for reproducible data; timestamps are spread back from this instant.
SEED = 20_261_127
EPOCH_END = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    name: str
    partners: int
    customers_per_partner: int
    inquiries: int
    accounts: int  # each account holder has one PENDING invitation to two partners

    @property
    def invitations(self) -> int:
        return 2 * self.accounts

    @property
    def customers(self) -> int:
        return self.partners * self.customers_per_partner


POSTGRES = Profile("postgres", 10, 10_000, 20_000, 1_000)
SQLITE = Profile("sqlite", 2, 2_000, 2_000, 100)

FIRST_NAMES = (
    "Anna",
    "Luca",
    "Maria",
    "Jonas",
    "Sofia",
    "Paul",
    "Emma",
    "Leon",
    "Giulia",
    "Felix",
    "Mia",
    "Noah",
    "Clara",
    "Elias",
    "Lena",
    "Matteo",
    "Zoë",
    "Jörg",
    "Émile",
    "Ines",
    "Hannah",
    "Tobias",
    "Chiara",
    "David",
    "Laura",
    "Marco",
    "Nina",
    "Simon",
    "Sara",
    "Tim",
    "Julia",
    "Ben",
    "Lea",
    "Karl",
    "Eva",
    "Moritz",
    "Alessia",
    "Finn",
    "Marie",
    "Oskar",
)
LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bauer",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Huber",
    "Mayer",
    "Herrmann",
    "König",
    "Walter",
    "Maier",
    "Peters",
    "Fuchs",
    "Möller",
    "O'Brien",
    "Nakamura",
    "García",
    "Dubois",
    "Novak",
    "Jansen",
    "Berg",
    "Lindqvist",
    "Costa",
    "Silva",
    "Kowalski",
    "Horvat",
)
COMPANY_SUFFIXES = ("GmbH", "AG", "S.r.l.", "KG", "& Partner", "Studio", "Design", "Consulting")
CITIES = (
    ("Berlin", "10115", "DE"),
    ("München", "80331", "DE"),
    ("Hamburg", "20095", "DE"),
    ("Wien", "1010", "AT"),
    ("Zürich", "8001", "CH"),
    ("Roma", "00184", "IT"),
    ("Milano", "20121", "IT"),
    ("Köln", "50667", "DE"),
    ("Bolzano", "39100", "IT"),
)
STREETS = ("Hauptstraße", "Via Roma", "Bahnhofstraße", "Gartenweg", "Via Garibaldi", "Ringstraße")
TAGS = ("vip", "hosting", "seo", "newsletter", "legacy", "b2b", "wordpress", "shop")
PRODUCTS = ("Hosting S", "Hosting M", "Hosting L", "Maintenance", "SEO retainer", "E-mail Pro")
FEES = (
    Decimal("9.9000"),
    Decimal("19.0000"),
    Decimal("49.9000"),
    Decimal("120.0000"),
    Decimal("12.3450"),
    Decimal("250.5000"),
    None,
)
TASK_TITLES = (
    "Renew SSL certificate",
    "Update WordPress",
    "Call back about offer",
    "Migrate mailboxes",
    "Check backups",
    "Send invoice",
    "Fix contact form",
)


def database_url(name: str = BENCH_DATABASE, server_url: str = PG_SERVER_URL) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def owner_email(partner: int) -> str:
    return f"owner{partner:02d}@bench.partnerdesk.test"


def member_email(partner: int, k: int) -> str:
    """The k-th member of a partner (0: the owner)."""
    return (
        owner_email(partner) if k == 0 else f"member{k:02d}.p{partner:02d}@bench.partnerdesk.test"
    )


def member_id(partner: int, k: int, partners: int) -> int:
    return partner if k == 0 else partners + (partner - 1) * (MEMBERS_PER_PARTNER - 1) + k


def partner_slug(partner: int) -> str:
    return f"bench-agency-{partner:02d}"


def ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())


def _domain_names(label: str) -> tuple[str, str]:
    """(unicode name, ascii name), normalised the way resolvers/items.py does it."""
    if label.isascii():
        return label, label
    ascii_name = idna.encode(label, uts46=True).decode("ascii")
    return idna.decode(ascii_name), ascii_name


def _moment(rng: random.Random, days_back: float) -> datetime:
    """An instant `days_back` days before EPOCH_END, with microseconds (as the app writes)."""
    return EPOCH_END - timedelta(days=days_back, microseconds=rng.randrange(1, 1_000_000))


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def generate(profile: Profile, password_hash: str) -> Iterator[Table]:
    """Every table's rows, in foreign-key order, with explicit ids."""
    rng = random.Random(SEED)
    member_rng = random.Random(SEED + 1)
    yield Table(
        "partner",
        (
            "id",
            "slug",
            "name",
            "display_name",
            "headline",
            "description",
            "city",
            "services",
            "is_public",
            "customer_seq",
            "contract_seq",
            "created_at",
        ),
        [
            (
                p,
                partner_slug(p),
                f"Bench Agency {p:02d}",
                f"Bench Agency {p:02d}",
                "Websites, hosting and care",
                "A web agency made up for the benchmark.",
                "Berlin",
                orjson.dumps(["Web design", "Hosting", "SEO"]).decode(),
                True,
                profile.customers_per_partner,
                2 * profile.customers_per_partner,
                _moment(rng, 1500),
            )
            for p in range(1, profile.partners + 1)
        ],
    )
    yield Table(
        "partner_member",
        ("id", "partner_id", "email", "name", "role", "password_hash", "created_at"),
        [
            (
                member_id(p, k, profile.partners),
                p,
                member_email(p, k),
                f"Owner {p:02d}" if k == 0 else f"Member {k:02d} of {p:02d}",
                "OWNER" if k == 0 else "MEMBER",
                password_hash,
                # The owners' instants as before; the others from their own generator, so
                # the rest of the data stays what it was before members were added.
                _moment(rng if k == 0 else member_rng, 1500),
            )
            for p in range(1, profile.partners + 1)
            for k in range(MEMBERS_PER_PARTNER)
        ],
    )
    yield Table(
        "account_holder",
        (
            "id",
            "account_number",
            "email",
            "name",
            "phone",
            "company_name",
            "language",
            "password_hash",
            "created_at",
        ),
        [
            (
                a,
                f"A{a:09d}",
                f"account{a}@bench.partnerdesk.test",
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                f"+4930{30_000_000 + a:08d}",
                None,
                "de",
                password_hash,
                _moment(rng, 400),
            )
            for a in range(1, profile.accounts + 1)
        ],
    )
    customers: list[tuple[Any, ...]] = []
    domains: list[tuple[Any, ...]] = []
    contracts: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    per_partner = profile.customers_per_partner
    span_days = 1400.0
    for p in range(1, profile.partners + 1):
        for n in range(1, per_partner + 1):
            cid = (p - 1) * per_partner + n
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company = n % 5 == 0
            company_name = (
                f"{last} {rng.choice(COMPANY_SUFFIXES)}" if company or n % 11 == 0 else None
            )
            city, postal_code, country = rng.choice(CITIES)
            tags = rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3)))
            record = {
                "kind": "COMPANY" if company else "PERSON",
                "first_name": first,
                "last_name": last,
                "company_name": company_name,
                "email": None
                if n % 23 == 0
                else f"{ascii_word(first)}.{ascii_word(last)}{n}@example.org",
                "phone": None if n % 17 == 0 else f"+4930{20_000_000 + p * 100_000 + n:08d}",
                "customer_number": format_customer_number(n),
                "tags": tags,
            }
            derived = _derived(record)
            created = _moment(rng, span_days * (1 - n / per_partner) + 1)
            updated = created + timedelta(
                days=rng.random() * 30, microseconds=rng.randrange(1, 999_999)
            )
            customers.append(
                (
                    cid,
                    p,
                    n,
                    record["customer_number"],
                    record["kind"],
                    first,
                    last,
                    company_name,
                    derived["display_name"],
                    derived["sort_name"],
                    record["email"],
                    record["phone"],
                    f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                    postal_code,
                    city,
                    country,
                    f"{country}{cid:09d}" if company else None,
                    rng.choice(("de", "de", "en", "it")),
                    "Prefers e-mail." if n % 7 == 0 else None,
                    orjson.dumps(tags).decode(),
                    derived["tags_text"],
                    derived["search_text"],
                    "ARCHIVED" if n % 20 == 0 else "ACTIVE",
                    "MANUAL",
                    1,
                    created,
                    updated,
                )
            )
            base = ascii_word(last) if n % 9 else last.lower().replace("'", "")
            for k in range(3):
                name, ascii_name = _domain_names(f"{base}-{n}-{k}.example")
                status = ("ACTIVE", "ACTIVE", "ACTIVE", "PENDING", "EXPIRED")[rng.randrange(5)]
                domains.append(
                    (
                        ((cid - 1) * 3) + k + 1,
                        p,
                        cid,
                        name,
                        ascii_name,
                        status,
                        (EPOCH_END + timedelta(days=rng.randrange(-60, 700))).date(),
                        created + timedelta(hours=k + 1),
                    )
                )
            for k in range(2):
                starts = (created + timedelta(days=rng.randrange(0, 60))).date()
                fee = rng.choice(FEES)
                contracts.append(
                    (
                        ((cid - 1) * 2) + k + 1,
                        p,
                        cid,
                        f"V-{(n - 1) * 2 + k + 1:05d}",
                        rng.choice(PRODUCTS),
                        ("ACTIVE", "ACTIVE", "ACTIVE", "CANCELLED", "ENDED")[rng.randrange(5)],
                        starts,
                        None if k == 0 else starts + timedelta(days=365),
                        fee,
                        None if fee is None else rng.choice(("EUR", "EUR", "CHF")),
                        created + timedelta(hours=k + 2),
                    )
                )
            for k in range(4):
                status = ("OPEN", "OPEN", "IN_PROGRESS", "DONE", "DONE")[rng.randrange(5)]
                task_created = created + timedelta(days=k, microseconds=rng.randrange(1, 999_999))
                tasks.append(
                    (
                        ((cid - 1) * 4) + k + 1,
                        p,
                        cid,
                        rng.choice(TASK_TITLES),
                        "Details in the ticket." if k % 2 else None,
                        status,
                        ("LOW", "NORMAL", "NORMAL", "HIGH")[rng.randrange(4)],
                        None
                        if rng.random() < 0.2
                        else (EPOCH_END + timedelta(days=rng.randrange(-30, 90))).date(),
                        p if rng.random() < 0.5 else None,
                        task_created,
                        task_created + timedelta(days=3) if status == "DONE" else None,
                    )
                )
    yield Table(
        "customer",
        (
            "id",
            "partner_id",
            "number",
            "customer_number",
            "kind",
            "first_name",
            "last_name",
            "company_name",
            "display_name",
            "sort_name",
            "email",
            "phone",
            "street",
            "postal_code",
            "city",
            "country",
            "vat_id",
            "language",
            "notes",
            "tags",
            "tags_text",
            "search_text",
            "status",
            "source",
            "version",
            "created_at",
            "updated_at",
        ),
        customers,
    )
    yield Table(
        "domain",
        (
            "id",
            "partner_id",
            "customer_id",
            "name",
            "ascii_name",
            "status",
            "expires_on",
            "created_at",
        ),
        domains,
    )
    yield Table(
        "contract",
        (
            "id",
            "partner_id",
            "customer_id",
            "contract_number",
            "product",
            "status",
            "starts_on",
            "ends_on",
            "fee_amount",
            "fee_currency",
            "created_at",
        ),
        contracts,
    )
    yield Table(
        "task",
        (
            "id",
            "partner_id",
            "customer_id",
            "title",
            "description",
            "status",
            "priority",
            "due_on",
            "assignee_id",
            "created_at",
            "completed_at",
        ),
        tasks,
    )
    inquiries = []
    for i in range(1, profile.inquiries + 1):
        p = (i - 1) % profile.partners + 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        received = _moment(rng, 200 * (1 - i / profile.inquiries) + 0.5)
        roll = rng.random()
        status = "NEW" if roll < 0.85 else ("ASSIGNED" if roll < 0.95 else "DISMISSED")
        customer_id = (p - 1) * per_partner + rng.randrange(1, per_partner + 1)
        inquiries.append(
            (
                i,
                p,
                status,
                f"{first} {last}",
                f"{ascii_word(first)}.{ascii_word(last)}@example.net",
                f"+4930{40_000_000 + i:08d}" if i % 3 else None,
                f"{last} {rng.choice(COMPANY_SUFFIXES)}" if i % 4 == 0 else None,
                "Hello, we need a new website and hosting for it.\nCan you call us?",
                received,
                customer_id if status == "ASSIGNED" else None,
                received + timedelta(days=1) if status == "ASSIGNED" else None,
                p if status == "ASSIGNED" else None,
                received + timedelta(days=2) if status == "DISMISSED" else None,
                "No fit." if status == "DISMISSED" else None,
            )
        )
    yield Table(
        "inquiry",
        (
            "id",
            "partner_id",
            "status",
            "name",
            "email",
            "phone",
            "company_name",
            "message",
            "received_at",
            "customer_id",
            "assigned_at",
            "assigned_by_id",
            "dismissed_at",
            "dismiss_reason",
        ),
        inquiries,
    )
    invitations = []
    for a in range(1, profile.accounts + 1):
        for offset in (0, profile.partners // 2):  # two different partners per account
            p = (a + offset - 1) % profile.partners + 1
            received = _moment(rng, rng.random() * 20)
            scope = "FULL" if a % 3 else "PARTIAL"
            invitations.append(
                (
                    len(invitations) + 1,
                    p,
                    a,
                    "PENDING",
                    scope,
                    orjson.dumps([] if scope == "FULL" else ["DOMAINS", "HOSTING"]).decode(),
                    "Please take care of my website.",
                    received,
                    # Far in the future, so a database seeded once stays usable for months.
                    received + timedelta(days=3650),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                )
            )
    yield Table(
        "access_invitation",
        (
            "id",
            "partner_id",
            "account_id",
            "status",
            "scope",
            "permissions",
            "message",
            "received_at",
            "expires_at",
            "decided_at",
            "decided_by_id",
            "decline_message",
            "decline_email_id",
            "customer_id",
            "closed_at",
        ),
        invitations,
    )


# ---------------------------------------------------------------- PostgreSQL


async def recreate_database(name: str = BENCH_DATABASE, server_url: str = PG_SERVER_URL) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def database_exists(name: str = BENCH_DATABASE, server_url: str = PG_SERVER_URL) -> bool:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await connection.close()


def migrate(url: str) -> None:
    """PartnerDesk's own migrations, through its command line (`partnerdesk migrate`)."""
    command = Path(sys.executable).with_name("partnerdesk")
    argv = (
        [str(command), "migrate"] if command.exists() else [sys.executable, "-m", "app", "migrate"]
    )
    env = {**os.environ, "PARTNERDESK_DATABASE_URL": url}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"partnerdesk migrate failed:\n{done.stdout}\n{done.stderr}")


async def hash_password(password: str) -> str:
    """Argon2id with argon2-cffi's defaults, PartnerDesk's standard profile (a sign-in
    verifies with the parameters stored in the hash, whatever the server's profile)."""
    return await asyncio.to_thread(PasswordHasher().hash, password)


async def seed_postgres(
    profile: Profile = POSTGRES, server_url: str = PG_SERVER_URL, name: str = BENCH_DATABASE
) -> dict[str, int]:
    """Drop and create `name`, migrate it, COPY every table in; returns rows per table."""
    url = database_url(name, server_url)
    await recreate_database(name, server_url)
    await asyncio.to_thread(migrate, url)
    password_hash = await hash_password(PASSWORD)
    counts: dict[str, int] = {}
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for table in generate(profile, password_hash):
            await connection.copy_records_to_table(
                table.name, records=table.rows, columns=list(table.columns)
            )
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT max(id) FROM {table.name}))"
            )
            counts[table.name] = len(table.rows)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return counts


async def seeded_counts(url: str) -> dict[str, int] | None:
    """Rows per seeded table, or None when the database is missing or not migrated."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        tables = (
            "partner",
            "partner_member",
            "customer",
            "domain",
            "contract",
            "task",
            "access_invitation",
        )
        counts = {}
        for table in tables:
            counts[table] = await connection.fetchval(f"SELECT count(*) FROM {table}")
        return counts
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()


def is_complete(counts: dict[str, int] | None, profile: Profile = POSTGRES) -> bool:
    if counts is None:
        return False
    return (
        counts["partner"] == profile.partners
        and counts["partner_member"] == profile.partners * MEMBERS_PER_PARTNER
        and counts["customer"] >= profile.customers
        and counts["domain"] == 3 * profile.customers
        and counts["contract"] == 2 * profile.customers
        and counts["task"] == 4 * profile.customers
        and counts["access_invitation"] >= profile.invitations  # pools add their own
    )


async def reset_writes(
    url: str, profile: Profile = POSTGRES, partners: tuple[int, ...] = (WRITE_PARTNER,)
) -> None:
    """Undo what earlier runs' mutations wrote to `partners` (the benchmark writes to
    WRITE_PARTNER only; the soak to all), so runs compare."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with connection.transaction():
            await connection.execute(
                "DELETE FROM account_holder WHERE id > $1", profile.accounts
            )  # the invitation pools' accounts, with their authorizations
            for partner in partners:
                await connection.execute(
                    "DELETE FROM activity_event WHERE partner_id = $1", partner
                )
                await connection.execute(
                    "DELETE FROM email_delivery WHERE partner_id = $1", partner
                )
                await connection.execute(
                    "DELETE FROM inquiry WHERE partner_id = $1 AND id > $2",
                    partner,
                    profile.inquiries,
                )
                await connection.execute(
                    "DELETE FROM customer WHERE partner_id = $1 AND number > $2",
                    partner,
                    profile.customers_per_partner,
                )
                await connection.execute(
                    "UPDATE partner SET customer_seq = $2 WHERE id = $1",
                    partner,
                    profile.customers_per_partner,
                )
            await connection.execute(
                "DELETE FROM auth_token WHERE created_at < now() - interval '1 day'"
            )
        await connection.execute(
            "VACUUM ANALYZE inquiry, customer, activity_event, auth_token, account_holder,"
            " access_invitation, email_delivery"
        )
    finally:
        await connection.close()


# ---------------------------------------------------------------- pools for the write workloads

# Inquiries of the M2 pool, by template: (name, email, phone, company name). Valid as the
# API would clean them, so PartnerDesk's validation accepts them unchanged.
POOL_PEOPLE = (
    ("Anna Weber", "anna.weber@example.net", "+493012345678", None),
    ("Maria Luisa Rossi", "m.rossi@example.it", "+390612345678", "Rossi Design S.r.l."),
    ("Jörg Müller", "joerg@mueller.example", None, None),
    ("Zoë Novak", "zoe@novak.example", "+41441234567", "Novak AG"),
    ("Hansen, Ole", "ole@hansen.example", "+4915112345678", None),
    ("Émile Dubois", "emile@dubois.example", None, "Dubois Consulting"),
)
POOL_MESSAGE = "We would like a new website."
_pool_runs = 0


async def insert_inquiry_pool(
    url: str, templates: Sequence[int], partner: int = WRITE_PARTNER
) -> list[int]:
    """NEW inquiries to `partner`, one per template index (POOL_PEOPLE); their ids in order."""
    if url.startswith("sqlite://"):
        return _insert_inquiry_pool_sqlite(url.removeprefix("sqlite://"), templates, partner)
    names, emails, phones, companies = zip(*POOL_PEOPLE, strict=True)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await connection.fetch(
            """
            INSERT INTO inquiry (partner_id, status, name, email, phone, company_name, message, received_at)
            SELECT $1, 'NEW', ($3::text[])[k + 1], ($4::text[])[k + 1], ($5::text[])[k + 1],
                   ($6::text[])[k + 1], $7, now() - interval '1 hour'
            FROM unnest($2::int[]) WITH ORDINALITY AS t(k, n) ORDER BY n
            RETURNING id
            """,
            partner,
            list(templates),
            list(names),
            list(emails),
            list(phones),
            list(companies),
            POOL_MESSAGE,
        )
        return [row["id"] for row in rows]
    finally:
        await connection.close()


def _insert_inquiry_pool_sqlite(path: str, templates: Sequence[int], partner: int) -> list[int]:
    import sqlite3

    received = (datetime.now(UTC) - timedelta(hours=1)).isoformat(" ")
    ids = []
    with sqlite3.connect(path, timeout=30) as database:
        for template in templates:
            cursor = database.execute(
                "INSERT INTO inquiry (partner_id, status, name, email, phone, company_name,"
                " message, received_at) VALUES (?, 'NEW', ?, ?, ?, ?, ?, ?)",
                (partner, *POOL_PEOPLE[template], POOL_MESSAGE, received),
            )
            ids.append(int(cursor.lastrowid or 0))
    return ids


async def insert_invitation_pool(
    url: str,
    size: int,
    partner: int = WRITE_PARTNER,
    with_customers: bool = False,
    people: Sequence[tuple[str, str]] | None = None,
) -> list[tuple[int, int | None]]:
    """`size` PENDING access authorizations to `partner`, each from a new account holder
    (one live authorization per account and partner is all the schema allows), and with
    `with_customers` a new customer of the partner for each to be connected to (a customer
    can be connected to one account only); `people` gives their (first, last) names.
    [(invitation id, customer id or None)]."""
    global _pool_runs
    _pool_runs += 1
    stamp = f"{os.getpid()}-{_pool_runs}-{int(time.time())}"
    rng = random.Random(f"{stamp}")
    if people is None:
        people = [(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(size)]
    languages = ("de", "en", "it")
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with connection.transaction():
            accounts = await connection.fetch(
                """
                INSERT INTO account_holder (account_number, email, name, phone, company_name,
                                            language, password_hash, created_at)
                SELECT 'P' || substr(md5($1 || n), 1, 19), 'pool.' || $1 || '.' || n || '@example.org',
                       ($2::text[])[n], NULL, NULL, ($3::text[])[n], '-', now()
                FROM generate_series(1, $4::int) AS n ORDER BY n
                RETURNING id
                """,
                stamp,
                [f"{first} {last}" for first, last in people],
                # neighbours share a language: the equality check compares pairs
                [languages[n // 2 % 3] for n in range(size)],
                size,
            )
            account_ids = sorted(row["id"] for row in accounts)
            invitations = await connection.fetch(
                """
                INSERT INTO access_invitation (partner_id, account_id, status, scope, permissions,
                                               message, received_at, expires_at)
                SELECT $1, a, 'PENDING', 'FULL', '[]'::jsonb, 'Please look after my website.',
                       now() - interval '1 hour', now() + interval '30 days'
                FROM unnest($2::int[]) WITH ORDINALITY AS t(a, n) ORDER BY n
                RETURNING id, account_id
                """,
                partner,
                account_ids,
            )
            by_account = {row["account_id"]: row["id"] for row in invitations}
            customers: list[int | None] = [None] * size
            if with_customers:
                customers = list(await _insert_customers(connection, partner, people))
        return [
            (by_account[account], customer)
            for account, customer in zip(account_ids, customers, strict=True)
        ]
    finally:
        await connection.close()


async def _insert_customers(
    connection: asyncpg.Connection, partner: int, people: Sequence[tuple[str, str]]
) -> list[int]:
    """New ACTIVE customers of `partner`, numbered from its customer sequence; ids in order."""
    last = await connection.fetchval(
        "UPDATE partner SET customer_seq = customer_seq + $2 WHERE id = $1 RETURNING customer_seq",
        partner,
        len(people),
    )
    numbers = range(last - len(people) + 1, last + 1)
    records = []
    for (first, last_name), number in zip(people, numbers, strict=True):
        record = {
            "kind": "PERSON",
            "first_name": first,
            "last_name": last_name,
            "email": f"{ascii_word(first)}.{ascii_word(last_name)}.{number}@example.com",
            "customer_number": format_customer_number(number),
            "tags": [],
        }
        extra = _derived(record)
        records.append(
            (
                number,
                record["customer_number"],
                first,
                last_name,
                record["email"],
                extra["display_name"],
                extra["sort_name"],
                extra["search_text"],
            )
        )
    rows = await connection.fetch(
        """
        INSERT INTO customer (partner_id, number, customer_number, kind, first_name, last_name,
          display_name, sort_name, email, language, tags, tags_text, search_text, status, source,
          version, created_at, updated_at)
        SELECT $1, r.number, r.customer_number, 'PERSON', r.first_name, r.last_name,
               r.display_name, r.sort_name, r.email, 'en', '[]', '', r.search_text, 'ACTIVE',
               'MANUAL', 1, now(), now()
        FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                    $8::text[], $9::text[])
             AS r(number, customer_number, first_name, last_name, email, display_name, sort_name,
                  search_text)
        ORDER BY r.number
        RETURNING id, number
        """,
        partner,
        *[list(column) for column in zip(*records, strict=True)],
    )
    by_number = {row["number"]: row["id"] for row in rows}
    return [by_number[number] for number in numbers]


# ---------------------------------------------------------------- SQLite


async def seed_sqlite(path: Path, profile: Profile = SQLITE) -> dict[str, int]:
    """The smaller profile into a new SQLite file, through Tortoise's own connection."""
    from tortoise import Tortoise
    from tortoise.connection import get_connection

    from config import tortoise_config

    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    url = f"sqlite://{path}"
    await asyncio.to_thread(migrate, url)
    password_hash = await hash_password(PASSWORD)
    counts: dict[str, int] = {}
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        connection = get_connection("default")
        for table in generate(profile, password_hash):
            columns = ", ".join(f'"{column}"' for column in table.columns)
            marks = ", ".join("?" for _ in table.columns)
            sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
            for start in range(0, len(table.rows), 5000):
                await connection.execute_many(sql, _sqlite_rows(table.rows[start : start + 5000]))
            counts[table.name] = len(table.rows)
        await connection.execute_script("ANALYZE")
    finally:
        await Tortoise.close_connections()
    return counts


def _sqlite_rows(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    # Tortoise's SQLite executor stores datetimes as isoformat(" ") and decimals as text.
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat(" ")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return [[convert(value) for value in row] for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", type=Path, help="seed the SQLite profile into this file")
    parser.add_argument("--server-url", default=PG_SERVER_URL, help="PostgreSQL server URL")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.sqlite:
        counts = asyncio.run(seed_sqlite(args.sqlite))
        target = str(args.sqlite)
    else:
        counts = asyncio.run(seed_postgres(server_url=args.server_url))
        target = database_url(server_url=args.server_url)
    rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
    print(f"Seeded {target} in {time.perf_counter() - started:.1f} s: {rows}")


if __name__ == "__main__":
    main()
