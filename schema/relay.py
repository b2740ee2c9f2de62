"""Relay building blocks: the Node interface, PageInfo, and connections built from pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry

from resolvers.pagination import Page, PageRequest

T = TypeVar("T")


# The Relay arguments of every list (resolvers/pagination.py: MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE).
First = Annotated[
    int | None,
    strawberry.argument(description="How many items to return, 0 to 100; null: 20."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return the items after this cursor (a page's endCursor)."),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="Page backwards: how many items to return from the end (or before "
        "`before`), 0 to 100. Give first or last, not both; first's default then steps aside."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(description="Return the items before this cursor (a page's startCursor)."),
]

# What the edges and connections of every list say about their fields.
EDGE_NODE = "The item."
EDGE_CURSOR = (
    "Where this item sits, for after / before; opaque, and valid only for the list and "
    "order it came from."
)
CONNECTION_EDGES = "This page's items, in the list's order, each with its cursor."


@strawberry.interface(description="An object with a global id; `node(id)` fetches any of them.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Global id: opaque and stable; node(id) fetches the object by it."
    )


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page; when paging backwards, true if `before` "
        "was given."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page; when paging forwards, true if `after` "
        "was given."
    )
    start_cursor: str | None = strawberry.field(
        description="The first item's cursor, for `before`; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor, for `after`; null for an empty page."
    )


@strawberry.type
class Connection:
    """Base of every XConnection: paging info and a lazily counted total."""

    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="All matching rows, not only this page's; counted only when asked for."
    )
    async def total_count(self) -> int:
        return await self._count()


ConnectionT = TypeVar("ConnectionT", bound=Connection)


def build_connection(
    connection: type[ConnectionT], edge: type[Any], page: Page[Any], convert: Callable[[Any], Any]
) -> ConnectionT:
    return connection(
        edges=[
            edge(node=convert(item), cursor=cursor)
            for item, cursor in zip(page.items, page.cursors, strict=True)
        ],  # type: ignore[call-arg]
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
        _count=page.count,
    )


def page_request(
    first: int | None, after: str | None, last: int | None = None, before: str | None = None
) -> PageRequest:
    # `first` keeps its default of 20 unless the client pages backwards with `last`.
    if last is not None and first == 20:
        first = None
    return PageRequest(first=first, after=after, last=last, before=before)
