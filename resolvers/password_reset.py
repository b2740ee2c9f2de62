"""Forgotten and changed passwords: requestPasswordReset, resetPassword, changePassword.

`requestPasswordReset` never tells whether an address exists, in its answer or in its
timing: the request itself does the same work for every address (validate, count against
the rate limit, INSERT one `PasswordResetRequest`, commit; over the limit, nothing but the
same ok). Who the address belongs to is
looked up afterwards, by `dispatch_password_resets`: at once in a task started after the
commit, and by every housekeeping sweep for requests a stopped process left behind. Each
request is claimed by a conditional UPDATE, so several processes send its e-mail once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import events
from config import Settings
from mailers.identity_templates import PASSWORD_RESET
from mailers.outbox import queue_email
from models.account import AccountHolder
from models.auth import Realm
from models.identity import PasswordResetRequest, TokenPurpose
from models.partner import PartnerMember
from resolvers.actor import Actor
from resolvers.auth import IssuedToken, issue_token, revoke_all_tokens
from resolvers.errors import InvalidToken, RateLimited, Unauthenticated, ValidationFailed
from resolvers.password_rules import check_new_password
from resolvers.passwords import hash_password, verify_password
from resolvers.rate_limits import Limit, enforce
from resolvers.validation import Problems, lookup_key
from resolvers.verification import find_usable_token, issue_one_time_token, link, use_token

log = logging.getLogger("partnerdesk.password_reset")

DISPATCH_BATCH = 100
KEEP_HANDLED = timedelta(days=1)
# Dispatch tasks started after commit; referenced here so that they are not collected.
_dispatching: set[asyncio.Task[int]] = set()


async def request_password_reset(
    settings: Settings, realm: Realm, email: str, client_ip: str | None = None
) -> None:
    """Record a reset request; the same statements whether or not the address is known.

    Over a rate limit the request is dropped (nothing stored, no e-mail) and the answer is
    still ok, as the contract promises for every request: RATE_LIMITED would tell a caller
    that the address had been asked for lately."""
    address = lookup_key((email or "").strip().lower(), 254) or ""
    try:
        await enforce(
            (Limit.LOGIN_PER_IP, client_ip),
            (Limit.PASSWORD_RESET_PER_EMAIL, f"{realm}:{address}"),
        )
    except RateLimited:
        log.info("password reset request dropped: over its rate limit")
        return
    if not address:
        return  # nothing stored could match: the same answer, nothing to do
    async with events.transaction():
        await PasswordResetRequest.create(
            realm=realm, email=address, requested_at=datetime.now(UTC)
        )
        events.after_commit(lambda: _dispatch_soon(settings))


def _dispatch_soon(settings: Settings) -> None:
    task = asyncio.get_running_loop().create_task(_dispatch_quietly(settings))
    _dispatching.add(task)
    task.add_done_callback(_dispatching.discard)


async def _dispatch_quietly(settings: Settings) -> int:
    try:
        return await dispatch_password_resets(settings)
    except Exception:  # the next housekeeping sweep tries again
        log.exception("password reset dispatch failed")
        return 0


async def dispatch_password_resets(settings: Settings) -> int:
    """Send the reset e-mail of every unhandled request whose address is known; how many were sent.

    Safe with several processes: each request is claimed once (conditional UPDATE)."""
    now = datetime.now(UTC)
    await PasswordResetRequest.filter(handled_at__lt=now - KEEP_HANDLED).delete()
    pending = (
        await PasswordResetRequest.filter(handled_at=None)
        .order_by("id")
        .limit(DISPATCH_BATCH)
        .values_list("id", "realm", "email")
    )
    sent = 0
    for request_id, realm, email in pending:
        async with events.transaction():
            claimed = await PasswordResetRequest.filter(id=request_id, handled_at=None).update(
                handled_at=datetime.now(UTC)
            )
            if not claimed:
                continue
            person: PartnerMember | AccountHolder | None
            if realm == Realm.PARTNER:
                person = await PartnerMember.get_or_none(email=email, removed_at=None)
            else:
                person = await AccountHolder.get_or_none(email=email)
            if person is None:
                continue
            minutes = settings.password_reset_ttl_minutes
            token, _ = await issue_one_time_token(
                person, TokenPurpose.RESET_PASSWORD, timedelta(minutes=minutes)
            )
            await queue_email(
                template=PASSWORD_RESET,
                language=person.language,
                to_address=person.email,
                to_name=person.name,
                values={
                    "recipient": person.name,
                    "link": link(settings, "reset-password", token),
                    "minutes": str(minutes),
                },
            )
            sent += 1
    return sent


async def _set_password(
    settings: Settings, person: PartnerMember | AccountHolder, password_hash: str
) -> IssuedToken:
    """New password, every session signed out, a fresh token (inside a transaction)."""
    await type(person).filter(id=person.id).update(password_hash=password_hash)
    await revoke_all_tokens(person)
    if isinstance(person, PartnerMember):
        return await issue_token(settings.token_ttl_hours, member=person)
    return await issue_token(settings.token_ttl_hours, account=person)


async def reset_password(settings: Settings, token: str, new_password: str) -> IssuedToken:
    """Set a new password with the e-mail's token (used up); every session signs out."""
    found = await find_usable_token(token, TokenPurpose.RESET_PASSWORD)
    person: PartnerMember | AccountHolder | None
    if found.member_id is not None:
        person = await PartnerMember.get_or_none(id=found.member_id, removed_at=None)
    else:
        person = await AccountHolder.get_or_none(id=found.account_id)
    if person is None:
        raise InvalidToken()
    problems = Problems()
    check_new_password(problems, "newPassword", new_password, person.email)
    problems.raise_if_any()
    password_hash = await hash_password(new_password)
    async with events.transaction():
        await use_token(found)
        if person.email_verified_at is None:  # the link reached the address: it is theirs
            await type(person).filter(id=person.id).update(email_verified_at=datetime.now(UTC))
        return await _set_password(settings, person, password_hash)


async def change_password(
    settings: Settings, actor: Actor, current_password: str, new_password: str
) -> IssuedToken:
    """Replace the signed-in person's password; every session, this one too, signs out, and
    the returned token carries on."""
    signed_in = actor.member or actor.account
    if signed_in is None:
        raise Unauthenticated()
    await enforce(
        (Limit.LOGIN_PER_IP, actor.client_ip),
        (Limit.LOGIN_PER_EMAIL_AND_IP, f"change:{signed_in.email}|{actor.client_ip or '-'}"),
    )
    person = await type(signed_in).get(id=signed_in.id)
    if not await verify_password(person.password_hash, current_password or ""):
        raise ValidationFailed.at(("currentPassword",), "Current password is wrong.")
    problems = Problems()
    check_new_password(problems, "newPassword", new_password, person.email)
    problems.raise_if_any()
    password_hash = await hash_password(new_password)
    async with events.transaction():
        return await _set_password(settings, person, password_hash)
