"""Opaque global ids ("Customer:42", base64) and their decoding.

An id that does not decode, names another type or names another partner's row
all end the same way: NOT_FOUND, so nobody learns which of the three it was.
"""

from __future__ import annotations

import base64
import binascii

import strawberry

from models.global_ids import global_id
from resolvers.errors import NotFound

# Primary keys are 32-bit integer columns; a larger number cannot name a row.
MAX_PK = 2**31 - 1
# A primary key no row has (ids start at 1): what an id that names nothing looks up.
NO_ROW = 0


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, pk))


def to_opaque_id(type_name: str, key: str) -> strawberry.ID:
    """A global id that names no row: `key` is not a number, so parse_global_id rejects it
    and node() finds nothing behind it (a closed authorization's requester)."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None when `global_id` is not one of ours."""
    try:
        decoded = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, _, raw_pk = decoded.partition(":")
    if not type_name or not raw_pk.isascii() or not raw_pk.isdigit() or len(raw_pk) > 10:
        return None
    pk = int(raw_pk)
    return (type_name, pk) if pk <= MAX_PK else None


def decode_id(
    global_id: str,
    type_names: str | tuple[str, ...],
    path: tuple[str, ...],
    what: str | None = None,
) -> int:
    """The primary key behind a global id of one of `type_names`, else NotFound at `path`."""
    expected = (type_names,) if isinstance(type_names, str) else type_names
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] not in expected:
        raise NotFound(what or expected[0], path)
    return parsed[1]


def pk_or_none(global_id: str, type_name: str) -> int | None:
    """The primary key behind a global id of `type_name`, or None when it names nothing of it
    (queries answer null for such an id, as for another partner's)."""
    parsed = parse_global_id(global_id)
    return parsed[1] if parsed is not None and parsed[0] == type_name else None


def pk_or_no_row(global_id: str, type_name: str) -> int:
    """The primary key behind a global id of `type_name`, or NO_ROW, for look-ups that answer
    NOT_FOUND themselves once they have checked who is asking."""
    pk = pk_or_none(global_id, type_name)
    return NO_ROW if pk is None else pk
