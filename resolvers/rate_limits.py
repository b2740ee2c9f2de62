"""Rate limits on the public and sign-in operations: moving windows, declared as `limits`
items ("5/minute;20/hour") from the settings.

With PARTNERDESK_REDIS_URL the windows live in Redis (the `limits` library's moving-window
strategy), so every server instance shares them; without it, in this process
(`LocalWindows`). A limited call fails before it writes anything.
"""

from __future__ import annotations

import math
import time
from collections import deque
from enum import StrEnum
from typing import Protocol

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


class Windows(Protocol):
    """Moving windows of attempts, per (item, limit, key): `limits`' strategy interface."""

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    async def retry_after(self, item: RateLimitItem, *identifiers: str) -> float: ...


class SharedWindows:
    """The windows in Redis, shared by every instance (`limits`' moving-window strategy)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        storage = storage_from_string(
            "async+" + redis_url, implementation="redispy", key_prefix=f"{prefix}-limits"
        )
        self.limiter = MovingWindowRateLimiter(storage)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self.limiter.test(item, *identifiers)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self.limiter.hit(item, *identifiers)

    async def retry_after(self, item: RateLimitItem, *identifiers: str) -> float:
        stats = await self.limiter.get_window_stats(item, *identifiers)
        return stats.reset_time - time.time()


class LocalWindows:
    """The windows in this process: the attempt times of each key, oldest first.

    The same moving window as `limits`' strategy (at most `amount` attempts in any
    `expiry` seconds), without its in-memory storage, which hands every expiry check of
    every key to a thread and made each limited request several thread hops slower. Keys
    whose attempts have all left their window are dropped every SWEEP_EVERY attempts, so
    memory follows the keys active within the longest window, not every key ever seen.
    """

    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self.attempts: dict[str, deque[float]] = {}
        self.longest_window = 0.0
        self.since_sweep = 0

    @staticmethod
    def _key(item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        return item.key_for(*identifiers)

    def _recent(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> deque[float]:
        """The key's attempts within the item's window (older ones are dropped)."""
        times = self.attempts.get(self._key(item, identifiers))
        if times is None:
            return deque()
        start = time.monotonic() - item.get_expiry()
        while times and times[0] <= start:
            times.popleft()
        return times

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return len(self._recent(item, identifiers)) < item.amount

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        times = self._recent(item, identifiers)
        if len(times) >= item.amount:
            return False
        self.attempts[self._key(item, identifiers)] = times
        times.append(time.monotonic())
        self.longest_window = max(self.longest_window, float(item.get_expiry()))
        self.since_sweep += 1
        if self.since_sweep >= self.SWEEP_EVERY:
            self._sweep()
        return True

    async def retry_after(self, item: RateLimitItem, *identifiers: str) -> float:
        times = self._recent(item, identifiers)
        if len(times) < item.amount:
            return 0.0
        # The attempt that frees a place is the one `amount` places from the newest.
        return times[-item.amount] + item.get_expiry() - time.monotonic()

    def _sweep(self) -> None:
        self.since_sweep = 0
        start = time.monotonic() - self.longest_window
        for key in [key for key, times in self.attempts.items() if not times or times[-1] <= start]:
            del self.attempts[key]


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.windows: Windows = (
            SharedWindows(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else LocalWindows()
        )
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
                if not await self.windows.test(item, limit.value, key):
                    metrics.RATE_LIMITED.labels(limit.value).inc()
                    wait = await self.windows.retry_after(item, limit.value, key)
                    raise RateLimited(max(1, math.ceil(wait)))
        for limit, key in applicable:
            for item in self.rules[limit]:
                await self.windows.hit(item, limit.value, key)


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
