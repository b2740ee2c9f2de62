"""Argon2id password hashing, off the event loop (a hash takes tens of milliseconds)."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's default is RFC 9106's low-memory Argon2id profile (64 MiB, t=3, p=4).
# "fast" is OWASP's minimum (19 MiB, t=2, p=1): still Argon2id, for test suites.
_HASHERS = {
    "standard": PasswordHasher(),
    "fast": PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),
}
_profile = "standard"


@functools.cache
def _dummy_hash(profile: str) -> str:
    """Verified against when the e-mail is unknown, so both failures take the same time."""
    return _HASHERS[profile].hash("not a real password")


def use_profile(profile: str) -> None:
    """Pick the cost profile (Settings.password_hash_profile) at application start."""
    global _profile
    _profile = profile
    _dummy_hash(profile)  # hashed now, not in the first failed sign-in


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHERS[_profile].hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash still costs one verification."""

    def verify() -> bool:
        try:
            return _HASHERS[_profile].verify(stored_hash or _dummy_hash(_profile), password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            return False  # UnicodeEncodeError: lone surrogates, never part of a stored password

    matches = await asyncio.to_thread(verify)
    return matches and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _HASHERS[_profile].check_needs_rehash(stored_hash)
