"""Registration, sign-in and bearer tokens for both realms."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError

import events
from config import Settings
from events import Event, EventKind
from models.account import AccountHolder
from models.auth import AuthToken, Realm
from models.partner import MemberRole, Partner, PartnerMember
from resolvers.actor import ANONYMOUS, Actor
from resolvers.conditions import NOW, to_sql
from resolvers.errors import Conflict, Unauthenticated
from resolvers.password_rules import check_new_password
from resolvers.passwords import hash_password, needs_rehash, verify_password
from resolvers.rate_limits import Limit, enforce
from resolvers.read_rules import ACTIVE_MEMBERS, valid_token
from resolvers.validation import (
    Problems,
    clean_email,
    clean_language,
    clean_phone,
    clean_text,
    lookup_key,
)
from resolvers.verification import notify_registration_attempt, send_verification_email

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
WRONG_CREDENTIALS = "E-mail or password is wrong."


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    actor: Actor


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    ttl_hours: int, *, member: PartnerMember | None = None, account: AccountHolder | None = None
) -> IssuedToken:
    """A fresh 256-bit bearer token; only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(hours=ttl_hours)
    record = await AuthToken.create(
        token_hash=hash_token(token),
        realm=Realm.PARTNER if member else Realm.ACCOUNT,
        member=member,
        account=account,
        expires_at=expires_at,
    )
    actor = Actor(member=member, account=account, token_id=record.id, token_expires_at=expires_at)
    return IssuedToken(token, expires_at, actor)


async def authenticate(token: str | None) -> Actor:
    """The actor behind a bearer token; visitors (no, unknown, expired, revoked token) are anonymous.

    The one look-up of a token, whatever route a request took (schema/pipeline.py).
    """
    if not token or len(token) > 200:
        return ANONYMOUS
    connection = get_connection("default")
    # Every request pays this look-up, so it is one fixed statement rather than an ORM
    # query built anew each time (which cost ~1 ms here).
    sql, order = _TOKEN_LOOKUP[connection.capabilities.dialect == "postgres"]
    token_hash, now = hash_token(token), datetime.now(UTC)
    values = [
        token_hash if value is _TOKEN_HASH else now if value is NOW else value for value in order
    ]
    _count, rows = await connection.execute_query(sql, values)
    if not rows:
        return ANONYMOUS
    row = dict(rows[0])
    member = account = None
    if row["member_id"] is not None:
        member = PartnerMember._init_from_db(**_prefixed(row, "m_"))
    elif row["account_id"] is not None:
        account = AccountHolder._init_from_db(**_prefixed(row, "a_"))
    expires_at = row["token_expires_at"]
    if isinstance(expires_at, str):  # SQLite hands back the stored text
        expires_at = datetime.fromisoformat(expires_at)
    return Actor(
        member=member, account=account, token_id=row["token_id"], token_expires_at=expires_at
    )


# Stands for the looked-up token's hash in the fixed statement's parameter list.
_TOKEN_HASH = object()


def _token_lookup_sql(postgres: bool) -> tuple[str, list[Any]]:
    """The token look-up statement, its WHERE clause the read rules' `valid_token`, and the
    order of its parameters (_TOKEN_HASH and NOW, bound per look-up)."""
    member_columns = PartnerMember._meta.db_fields
    account_columns = AccountHolder._meta.db_fields
    selected = ", ".join(
        ["t.id AS token_id", "t.member_id", "t.account_id", "t.expires_at AS token_expires_at"]
        + [f'm."{column}" AS "m_{column}"' for column in member_columns]
        + [f'a."{column}" AS "a_{column}"' for column in account_columns]
    )
    order: list[Any] = []

    def bind(value: Any) -> str:
        order.append(value)
        return f"${len(order)}" if postgres else "?"

    where = to_sql(valid_token(_TOKEN_HASH), "t", bind)  # type: ignore[arg-type]
    active = to_sql(ACTIVE_MEMBERS, "m", bind)
    sql = (
        f"SELECT {selected} FROM auth_token t"
        " LEFT JOIN partner_member m ON m.id = t.member_id"
        " LEFT JOIN account_holder a ON a.id = t.account_id"
        f" WHERE {where}"
        # A removed member's tokens are revoked with the removal; this makes sure of it.
        f" AND (t.member_id IS NULL OR ({active}))"
    )
    return sql, order


def _prefixed(row: dict[str, object], prefix: str) -> dict[str, object]:
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


class _LazyLookups(dict[bool, tuple[str, list[Any]]]):
    """The token look-up SQL per dialect, built on first use (models must be initialised)."""

    def __missing__(self, postgres: bool) -> tuple[str, list[Any]]:
        self[postgres] = lookup = _token_lookup_sql(postgres)
        return lookup


_TOKEN_LOOKUP = _LazyLookups()


async def register_partner(
    ttl_hours: int,
    *,
    partner_name: str,
    slug: str,
    name: str,
    email: str,
    password: str,
    language: str | None = None,
    client_ip: str | None = None,
    settings: Settings | None = None,
    email_verified: bool = False,
) -> IssuedToken:
    """A new partner with its owner, signed in; a verification e-mail goes to the owner,
    unless the address is known to be theirs already (`email_verified`: the demo's logins)."""
    settings = settings or Settings()
    await enforce((Limit.REGISTER_PER_IP, client_ip))
    problems = Problems()
    partner_name_clean = clean_text(
        problems, "partnerName", partner_name, max_length=200, required=True, label="Partner name"
    )
    slug_clean = (slug or "").strip().lower()
    if not SLUG.match(slug_clean):
        problems.add("slug", "Slug must be 3-63 lower-case letters, digits or hyphens.")
    name_clean = clean_text(problems, "name", name, max_length=200, required=True, label="Name")
    email_clean = clean_email(problems, "email", email, required=True)
    language_clean = clean_language(problems, "language", language) or "en"
    check_new_password(problems, "password", password, email_clean)
    problems.raise_if_any()
    assert partner_name_clean and name_clean and email_clean
    password_hash = await hash_password(password)
    try:
        async with events.transaction():
            try:
                partner = await Partner.create(
                    slug=slug_clean, name=partner_name_clean, display_name=partner_name_clean
                )
            except IntegrityError:
                raise Conflict("This slug is taken.", ("slug",)) from None
            member = await PartnerMember.create(
                partner=partner,
                email=email_clean,
                name=name_clean,
                role=MemberRole.OWNER,
                password_hash=password_hash,
                language=language_clean,
                email_verified_at=datetime.now(UTC) if email_verified else None,
            )
            if not email_verified:
                await send_verification_email(settings, member)
            return await issue_token(ttl_hours, member=member)
    except IntegrityError:
        # Registration signs in, so it cannot pretend: CONFLICT, and the address's owner
        # hears of the attempt (at most once a day).
        await notify_registration_attempt(settings, PartnerMember, email_clean)
        raise Conflict("A partner member with this e-mail exists.", ("email",)) from None


async def register_account(
    ttl_hours: int,
    *,
    name: str,
    email: str,
    password: str,
    phone: str | None = None,
    company_name: str | None = None,
    language: str | None = None,
    client_ip: str | None = None,
    settings: Settings | None = None,
    email_verified: bool = False,
) -> IssuedToken:
    """A new account holder, signed in; a verification e-mail goes to their address, unless
    it is known to be theirs already (`email_verified`: the demo's logins)."""
    settings = settings or Settings()
    await enforce((Limit.REGISTER_PER_IP, client_ip))
    problems = Problems()
    name_clean = clean_text(problems, "name", name, max_length=200, required=True, label="Name")
    email_clean = clean_email(problems, "email", email, required=True)
    phone_clean = clean_phone(problems, "phone", phone)
    company_clean = clean_text(
        problems, "companyName", company_name, max_length=200, label="Company name"
    )
    language_clean = clean_language(problems, "language", language) or "en"
    check_new_password(problems, "password", password, email_clean)
    problems.raise_if_any()
    assert email_clean is not None
    password_hash = await hash_password(password)
    for _attempt in range(5):
        try:
            async with events.transaction():
                account = await AccountHolder.create(
                    account_number=f"A{secrets.randbelow(10**9):09d}",
                    email=email_clean,
                    name=name_clean,
                    phone=phone_clean,
                    company_name=company_clean,
                    language=language_clean,
                    password_hash=password_hash,
                    email_verified_at=datetime.now(UTC) if email_verified else None,
                )
                if not email_verified:
                    await send_verification_email(settings, account)
                return await issue_token(ttl_hours, account=account)
        except IntegrityError:
            if await AccountHolder.exists(email=email_clean):
                await notify_registration_attempt(settings, AccountHolder, email_clean)
                raise Conflict("An account with this e-mail exists.", ("email",)) from None
            # otherwise the random account number collided: draw again
    raise Conflict("Could not allocate an account number; try again.")


async def login(
    ttl_hours: int, *, realm: Realm, email: str, password: str, client_ip: str | None = None
) -> IssuedToken:
    """Sign in; a wrong password and an unknown e-mail give the same error."""
    normalized = lookup_key((email or "").strip().lower(), 254)
    account_key = f"{realm}:{normalized}"
    # Per (e-mail, IP), not per e-mail alone: guessing from one address must not lock the
    # owner out of their own (OWASP: no lockout an attacker can trigger cheaply). The
    # ceiling per e-mail bounds guessing spread over many addresses.
    await enforce(
        (Limit.LOGIN_PER_IP, client_ip),
        (Limit.LOGIN_PER_EMAIL_AND_IP, f"{account_key}|{client_ip or '-'}"),
        (Limit.LOGIN_PER_EMAIL_CEILING, account_key),
    )
    person: PartnerMember | AccountHolder | None = None
    if normalized is None:
        pass  # no stored e-mail looks like this: the same answer as an unknown one
    elif realm == Realm.PARTNER:
        person = await PartnerMember.get_or_none(email=normalized, removed_at=None)
    else:
        person = await AccountHolder.get_or_none(email=normalized)
    if not await verify_password(person.password_hash if person else None, password or ""):
        raise Unauthenticated(WRONG_CREDENTIALS)
    assert person is not None
    if needs_rehash(person.password_hash):
        person.password_hash = await hash_password(password)
        await person.save(update_fields=["password_hash"])
    if isinstance(person, PartnerMember):
        return await issue_token(ttl_hours, member=person)
    return await issue_token(ttl_hours, account=person)


async def logout(actor: Actor) -> None:
    """Revoke the token of this request; its open websockets close on every instance."""
    if actor.token_id is None:
        raise Unauthenticated()
    async with events.transaction():
        revoked = await AuthToken.filter(id=actor.token_id, revoked_at=None).update(
            revoked_at=datetime.now(UTC)
        )
        if revoked and actor.member is not None:
            events.publish_later(
                Event(
                    EventKind.SESSIONS_REVOKED,
                    actor.member.partner_id,
                    payload={"token_ids": [actor.token_id]},
                )
            )


async def revoke_all_tokens(person: PartnerMember | AccountHolder) -> int:
    """Sign `person` out everywhere (inside the caller's events.transaction()): every bearer
    token revoked; a member's open websockets close with 4401 on every instance."""
    column = "member_id" if isinstance(person, PartnerMember) else "account_id"
    revoked = await AuthToken.filter(**{column: person.id}, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    if isinstance(person, PartnerMember):
        events.publish_later(
            Event(EventKind.SESSIONS_REVOKED, person.partner_id, payload={"member_id": person.id})
        )
    return revoked


async def logout_everywhere(actor: Actor) -> None:
    """Revoke every token of the signed-in login, this request's too."""
    person = actor.member or actor.account
    if person is None:
        raise Unauthenticated()
    async with events.transaction():
        await revoke_all_tokens(person)
