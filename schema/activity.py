"""The activity feed: ActivityEvent and its connection."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models.activity import ActivityEvent as ActivityEventModel
from models.activity import ActivityVerb
from resolvers import activity
from resolvers.pagination import Page
from schema.context import Info
from schema.ids import to_global_id
from schema.relay import Connection, Node, build_connection, page_request

if TYPE_CHECKING:
    from schema.customers import Customer

strawberry.enum(ActivityVerb)


@strawberry.type(description="One change in the partner's data, newest first in every list.")
class ActivityEvent(Node):
    verb: ActivityVerb
    at: datetime
    actor_name: str | None = strawberry.field(description="Null for the system.")
    summary: str
    subject_id: strawberry.ID | None = strawberry.field(
        description="Global id of the inquiry / invitation / item concerned."
    )
    _customer_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, event: ActivityEventModel) -> ActivityEvent:
        return cls(
            id=to_global_id("ActivityEvent", event.id),
            verb=event.verb,
            at=event.at,
            actor_name=event.actor_name,
            summary=event.summary,
            subject_id=to_global_id(event.subject_type, event.subject_id)
            if event.subject_type and event.subject_id
            else None,
            _customer_id=event.customer_id,
        )

    @strawberry.field
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers")] | None:
        from schema.customers import Customer

        if self._customer_id is None:
            return None
        found = await info.context.loaders.customer.load(self._customer_id)
        return Customer.from_model(found) if found else None


@strawberry.type
class ActivityEdge:
    node: ActivityEvent
    cursor: str


@strawberry.type
class ActivityConnection(Connection):
    edges: list[ActivityEdge]

    @classmethod
    def of(cls, page: Page[ActivityEventModel]) -> ActivityConnection:
        return build_connection(cls, ActivityEdge, page, ActivityEvent.from_model)


@strawberry.type
class ActivityQuery:
    @strawberry.field(description="The partner's whole activity feed, newest first.")
    async def activity(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ActivityConnection:
        page = await activity.partner_activity(info.context.actor, page_request(first, after))
        return ActivityConnection.of(page)
