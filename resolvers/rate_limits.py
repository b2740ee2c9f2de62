"""Rate limits on the public and sign-in operations, with the `limits` library.

Counters live in memory, or in Redis when PARTNERDESK_REDIS_URL is set so that every
server instance shares them. A limited call fails before it writes anything.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from config import Settings
from resolvers.errors import RateLimited
from telemetry import metrics


class Limit(StrEnum):
    INQUIRY_PER_IP = "inquiry-ip"
    INQUIRY_PER_PARTNER = "inquiry-partner"
    LOGIN_PER_IP = "login-ip"
    LOGIN_PER_EMAIL_AND_IP = "login-email-ip"
    LOGIN_PER_EMAIL_CEILING = "login-email-ceiling"
    REGISTER_PER_IP = "register-ip"
    INVITATION_PER_ACCOUNT = "invitation-account"
    VERIFICATION_EMAIL_PER_LOGIN = "verification-login"
    PASSWORD_RESET_PER_EMAIL = "reset-email"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        if settings.redis_url:
            storage = storage_from_string(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="partnerdesk-limits",
            )
        else:
            storage = storage_from_string("async+memory://")
        self.limiter = MovingWindowRateLimiter(storage)
        self.rules: dict[Limit, list[RateLimitItem]] = {
            Limit.INQUIRY_PER_IP: parse_many(settings.rate_limit_inquiry_ip),
            Limit.INQUIRY_PER_PARTNER: parse_many(settings.rate_limit_inquiry_partner),
            Limit.LOGIN_PER_IP: parse_many(settings.rate_limit_login_ip),
            Limit.LOGIN_PER_EMAIL_AND_IP: parse_many(settings.rate_limit_login_email),
            Limit.LOGIN_PER_EMAIL_CEILING: parse_many(settings.rate_limit_login_email_ceiling),
            Limit.REGISTER_PER_IP: parse_many(settings.rate_limit_register_ip),
            Limit.INVITATION_PER_ACCOUNT: parse_many(settings.rate_limit_invitation_account),
            Limit.VERIFICATION_EMAIL_PER_LOGIN: parse_many(settings.rate_limit_verification_email),
            Limit.PASSWORD_RESET_PER_EMAIL: parse_many(settings.rate_limit_password_reset),
        }

    async def hit(self, *checks: tuple[Limit, str | int | None]) -> None:
        """Count one attempt against every (limit, key); RateLimited if any is exhausted.

        All are tested before any is counted, so a refused call does not use up the others.
        """
        applicable = [(limit, str(key)) for limit, key in checks if key is not None]
        for limit, key in applicable:
            for item in self.rules[limit]:
                if not await self.limiter.test(item, limit.value, key):
                    metrics.RATE_LIMITED.labels(limit.value).inc()
                    stats = await self.limiter.get_window_stats(item, limit.value, key)
                    raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))
        for limit, key in applicable:
            for item in self.rules[limit]:
                await self.limiter.hit(item, limit.value, key)


_current: RateLimits | None = None


def configure_rate_limits(settings: Settings) -> RateLimits:
    """Install the limits of this process (create_app calls it)."""
    global _current
    _current = RateLimits(settings)
    return _current


async def enforce(*checks: tuple[Limit, str | int | None]) -> None:
    """Count an attempt; resolvers call this first, before they write anything."""
    if _current is None:
        configure_rate_limits(Settings())
    assert _current is not None
    await _current.hit(*checks)
