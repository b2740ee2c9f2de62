"""What a new password must be: 12 to 128 characters, not the e-mail address, not common.

The common passwords are Django's list (django/contrib/auth/common-passwords.txt.gz, BSD
licence): 20,000 passwords, lower-cased and de-duplicated, compiled by Royce Williams from
breach corpora (https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce).
It ships with the code (resolvers/data/); nothing is looked up over the network.
The rules apply whenever a password is set; stored passwords are never re-checked.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from resolvers.validation import Problems

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, read once per process."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_new_password(problems: Problems, field: str, password: str, email: str | None) -> None:
    """Add to `problems` (at `field`) what is wrong with `password` as a new password."""
    password = password or ""
    if any(0xD800 <= ord(character) <= 0xDFFF for character in password):
        problems.add(field, "Password contains characters that are not text (lone surrogates).")
    elif len(password) < MIN_LENGTH:
        problems.add(field, f"Password must have at least {MIN_LENGTH} characters.")
    elif len(password) > MAX_LENGTH:
        problems.add(field, f"Password must have at most {MAX_LENGTH} characters.")
    elif email and password.strip().casefold() == email.strip().casefold():
        problems.add(field, "Password must not be your e-mail address.")
    elif password.strip().lower() in common_passwords():
        problems.add(field, "This password is too common: choose one that is harder to guess.")
