"""Relay building blocks: the Node interface, PageInfo, and connections built from pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from resolvers.pagination import Page, PageRequest

T = TypeVar("T")


@strawberry.interface(description="An object with a global id; `node(id)` fetches any of them.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Connection:
    """Base of every XConnection: paging info and a lazily counted total."""

    page_info: PageInfo
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
