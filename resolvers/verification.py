"""Verified e-mail addresses: one-time tokens, the verification e-mail, verifyEmail, resend,
and the notice to an address's owner when someone tries to register with it.

One-time tokens (verification and reset here, member invitations in resolvers/team.py) are
256-bit and URL-safe (`secrets.token_urlsafe(32)`); only their SHA-256 is stored and looked
up by its unique index, so a guess is compared against nothing in Python. A token is used
by a conditional UPDATE: of any number of concurrent uses exactly one succeeds.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import events
from config import Settings
from mailers.identity_templates import REGISTRATION_ATTEMPT, VERIFY_EMAIL
from mailers.outbox import queue_email
from models.account import AccountHolder
from models.identity import IdentityToken, TokenPurpose
from models.partner import PartnerMember
from resolvers.actor import Actor
from resolvers.errors import AlreadyProcessed, InvalidToken, Unauthenticated
from resolvers.rate_limits import Limit, enforce
from resolvers.validation import lookup_key

Person = PartnerMember | AccountHolder
TOKEN_MAX_LENGTH = 100  # token_urlsafe(32) is 43 characters; longer text finds nothing
NOTICE_INTERVAL = timedelta(days=1)


def new_secret() -> tuple[str, str]:
    """(token for the e-mail's link, its SHA-256 for the database)."""
    token = secrets.token_urlsafe(32)
    return token, secret_hash(token)


def secret_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lookup_hash(token: str | None) -> str | None:
    """The hash a token given by a client is looked up by; None when it cannot be one of ours."""
    key = lookup_key((token or "").strip(), TOKEN_MAX_LENGTH)
    return secret_hash(key) if key else None


def link(settings: Settings, page: str, token: str | None = None) -> str:
    """`{PARTNERDESK_PUBLIC_URL}/page?token=…`: where the frontend takes the token."""
    url = f"{settings.public_url}/{page}"
    return f"{url}?token={quote(token, safe='')}" if token else url


def person_fields(person: Person) -> dict[str, int | None]:
    if isinstance(person, PartnerMember):
        return {"member_id": person.id, "account_id": None}
    return {"member_id": None, "account_id": person.id}


async def issue_one_time_token(
    person: Person, purpose: TokenPurpose, lifetime: timedelta
) -> tuple[str, datetime]:
    """A fresh token of `purpose` for `person`; their earlier unused ones stop working.
    Call inside the events.transaction() that queues its e-mail."""
    now = datetime.now(UTC)
    await IdentityToken.filter(
        **person_fields(person), purpose=purpose, used_at=None, revoked_at=None
    ).update(revoked_at=now)
    token, token_hash = new_secret()
    expires_at = now + lifetime
    owner = person_fields(person)
    await IdentityToken.create(
        purpose=purpose,
        token_hash=token_hash,
        expires_at=expires_at,
        member_id=owner["member_id"],
        account_id=owner["account_id"],
    )
    return token, expires_at


async def find_usable_token(token: str | None, purpose: TokenPurpose) -> IdentityToken:
    """The unused, unrevoked, unexpired token of `purpose`, or InvalidToken (nothing more said)."""
    token_hash = lookup_hash(token)
    found = None
    if token_hash is not None:
        found = await IdentityToken.get_or_none(
            token_hash=token_hash,
            purpose=purpose,
            used_at=None,
            revoked_at=None,
            expires_at__gt=datetime.now(UTC),
        )
    if found is None:
        raise InvalidToken()
    return found


async def use_token(token: IdentityToken) -> None:
    """Consume `token` inside the caller's transaction; InvalidToken if another use won."""
    now = datetime.now(UTC)
    used = await IdentityToken.filter(
        id=token.id, used_at=None, revoked_at=None, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        raise InvalidToken()


async def send_verification_email(settings: Settings, person: Person) -> None:
    """Queue a fresh verification link to `person` (inside the caller's events.transaction())."""
    hours = settings.email_verification_ttl_hours
    token, _ = await issue_one_time_token(person, TokenPurpose.VERIFY_EMAIL, timedelta(hours=hours))
    await queue_email(
        template=VERIFY_EMAIL,
        language=person.language,
        to_address=person.email,
        to_name=person.name,
        values={
            "recipient": person.name,
            "link": link(settings, "verify-email", token),
            "hours": str(hours),
        },
    )


async def verify_email(token: str) -> None:
    """Mark the address the token was sent to as verified; the token is used up."""
    found = await find_usable_token(token, TokenPurpose.VERIFY_EMAIL)
    now = datetime.now(UTC)
    async with events.transaction():
        await use_token(found)
        if found.member_id is not None:
            await PartnerMember.filter(id=found.member_id, email_verified_at=None).update(
                email_verified_at=now
            )
        else:
            await AccountHolder.filter(id=found.account_id, email_verified_at=None).update(
                email_verified_at=now
            )


async def resend_verification_email(settings: Settings, actor: Actor) -> None:
    """A fresh verification link for the signed-in person; earlier links stop working."""
    person: Person | None = actor.member or actor.account
    if person is None:
        raise Unauthenticated()
    if person.email_verified_at is not None:
        raise AlreadyProcessed("Your e-mail address is already verified.")
    await enforce((Limit.VERIFICATION_EMAIL_PER_LOGIN, f"{type(person).__name__}:{person.id}"))
    async with events.transaction():
        await send_verification_email(settings, person)


async def notify_registration_attempt(settings: Settings, model: type[Person], email: str) -> None:
    """Tell the owner of `email` that someone tried to register with it: at most once a day.

    Its own transaction, after the failed registration rolled back; the conditional UPDATE
    makes concurrent attempts send one notice."""
    now = datetime.now(UTC)
    async with events.transaction():
        owners = model.filter(email=email)
        if model is PartnerMember:
            owners = owners.filter(removed_at=None)
        due = await owners.filter(registration_notice_at=None).update(registration_notice_at=now)
        if not due:
            due = await owners.filter(registration_notice_at__lt=now - NOTICE_INTERVAL).update(
                registration_notice_at=now
            )
        if not due:
            return
        person = await owners.get()
        await queue_email(
            template=REGISTRATION_ATTEMPT,
            language=person.language,
            to_address=person.email,
            to_name=person.name,
            values={"recipient": person.name, "link": link(settings, "reset-password")},
        )
