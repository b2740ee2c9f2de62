"""Keyset (cursor) pagination: page 500 costs what page 1 costs.

A cursor is the sort-key values of the row it points at, so the next page is a
`WHERE (key, id) > (cursor)` range scan on an index, never an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from resolvers.conditions import AllOf, AnyOf, Compare, Condition, to_q
from resolvers.errors import ValidationFailed

MAX_PAGE_SIZE = 100
# The page a list answers when `first` (and `last`) is left out or null; the cost limit
# (schema/limits.py) counts such a list at this size too.
DEFAULT_PAGE_SIZE = 20
ModelT = TypeVar("ModelT", bound=Model)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False
    is_datetime: bool = False


@dataclass(frozen=True)
class PageRequest:
    first: int | None = DEFAULT_PAGE_SIZE
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated_size(self) -> tuple[int, bool]:
        """(page size, backwards?) after checking the Relay arguments."""
        if self.first is not None and self.last is not None:
            raise ValidationFailed.at(("last",), "Give either first or last, not both.")
        backwards = self.last is not None
        size = self.last if backwards else self.first
        name = "last" if backwards else "first"
        if size is None:
            size = DEFAULT_PAGE_SIZE
        if size < 0:
            raise ValidationFailed.at((name,), f"{name} must not be negative.")
        if size > MAX_PAGE_SIZE:
            raise ValidationFailed.at((name,), f"{name} must be at most {MAX_PAGE_SIZE}.")
        return size, backwards


@dataclass
class Page(Generic[ModelT]):
    items: list[ModelT]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def signature(keys: Sequence[SortKey]) -> str:
    """The ordering a cursor belongs to, written into it ("-created_at,-id")."""
    return ",".join(("-" if key.descending else "") + key.field for key in keys)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _cursor_value(value: Any) -> str:
    # Datetimes as whole epoch microseconds: exact, and easy for SQL to produce too
    # (schema/compiled.py builds the same cursors inside the database).
    if isinstance(value, datetime):
        return str((value - EPOCH) // MICROSECOND)
    return str(value)


def _encode(keys: Sequence[SortKey], row: Model) -> str:
    """ "signature|id|sort value" in unpadded base64url; the id is the last, unique key."""
    *sort_keys, _id_key = keys
    parts = [signature(keys), str(row.pk)] + [
        _cursor_value(getattr(row, key.field)) for key in sort_keys
    ]
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(keys: Sequence[SortKey], cursor: str, argument: str) -> list[Any]:
    """The key values a cursor of this ordering points at; ValidationFailed for anything else."""
    invalid = ValidationFailed.at((argument,), f"{argument} is not a cursor of this list.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid from None
    parts = text.split("|", len(keys))
    if len(parts) != len(keys) + 1 or parts[0] != signature(keys):
        raise invalid
    *sort_keys, _id_key = keys
    raw_id, *raw_values = parts[1:]
    values: list[Any] = []
    try:
        for key, raw in zip(sort_keys, raw_values, strict=True):
            if key.is_datetime:
                values.append(EPOCH + int(raw) * MICROSECOND)
            elif key.field == "number" or key.field.endswith("_number"):
                values.append(int(raw))
            elif "\x00" in raw:  # no stored text holds NUL, and PostgreSQL refuses it
                raise invalid
            else:
                values.append(raw)
        values.append(int(raw_id))
    except (ValueError, OverflowError):
        raise invalid from None
    # Ids and numbers are 32-bit integer columns: anything larger names no row.
    if any(isinstance(value, int) and not -(2**31) <= value < 2**31 for value in values):
        raise invalid
    return values


def beyond(keys: Sequence[SortKey], values: list[Any], forwards: bool) -> Condition:
    """Rows strictly after `values` in the (possibly reversed) key order."""
    alternatives: list[Condition] = []
    for position, key in enumerate(keys):
        ascending = key.descending != forwards  # reversed when paging backwards
        earlier = [Compare(keys[i].field, "=", values[i]) for i in range(position)]
        step = Compare(key.field, "<" if ascending else ">", values[position])
        alternatives.append(AllOf((*earlier, step)))
    # The first key's inclusive bound says nothing new, but it is what an index range scan
    # can use: to a generic PostgreSQL plan (config.py) the OR alone is only a row filter.
    first_bound = Compare(
        keys[0].field, "<=" if keys[0].descending != forwards else ">=", values[0]
    )
    return AllOf((first_bound, AnyOf(tuple(alternatives))))


async def keyset_page(
    query: QuerySet[ModelT], keys: Sequence[SortKey], request: PageRequest
) -> Page[ModelT]:
    """One page of `query` in `keys` order (the last key must be unique, e.g. id)."""
    size, backwards = request.validated_size()
    after = decode_cursor(keys, request.after, "after") if request.after else None
    before = decode_cursor(keys, request.before, "before") if request.before else None

    def ordering(reverse: bool) -> list[str]:
        return [("-" if key.descending != reverse else "") + key.field for key in keys]

    window = query
    if after is not None:
        window = window.filter(to_q([beyond(keys, after, forwards=False)]))
    if before is not None:
        window = window.filter(to_q([beyond(keys, before, forwards=True)]))
    rows = list(await window.order_by(*ordering(backwards)).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    return Page(
        items=rows,
        cursors=[_encode(keys, row) for row in rows],
        has_next_page=more if not backwards else before is not None,
        has_previous_page=more if backwards else after is not None,
        count=query.count,
    )
