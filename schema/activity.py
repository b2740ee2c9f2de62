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
from schema.enums import register_enum
from schema.ids import to_global_id
from schema.relay import (
    CONNECTION_EDGES,
    EDGE_CURSOR,
    EDGE_NODE,
    After,
    Connection,
    First,
    Node,
    build_connection,
    page_request,
)

if TYPE_CHECKING:
    from schema.customers import Customer

ITEM = "A domain, contract or task"
register_enum(
    ActivityVerb,
    "What kind of change an activity event records.",
    {
        "CUSTOMER_CREATED": "A customer was created (by a member, a convert, a connect or an "
        "import).",
        "CUSTOMER_UPDATED": "A customer's fields changed (by a member or an import).",
        "CUSTOMER_ARCHIVED": "A customer was archived.",
        "CUSTOMER_RESTORED": "An archived customer was made ACTIVE again.",
        "ITEM_ASSIGNED": f"{ITEM} was assigned to the customer.",
        "ITEM_UNASSIGNED": f"{ITEM} was taken off the customer.",
        "ITEM_UPDATED": f"{ITEM} changed.",
        "ITEM_DELETED": f"{ITEM} was deleted.",
        "CUSTOMERS_IMPORTED": "A CSV import ended (done or failed), with its counts.",
        "CUSTOMER_ERASED": "A customer's personal data was erased.",
        "INQUIRY_RECEIVED": "An inquiry arrived through the public profile.",
        "INQUIRY_CONVERTED": "An inquiry was assigned to a customer.",
        "INQUIRY_DISMISSED": "An inquiry was dismissed.",
        "INVITATION_RECEIVED": "An account holder sent an access authorization.",
        "INVITATION_CONNECTED": "An access authorization was connected to a customer.",
        "INVITATION_DECLINED": "An access authorization was declined.",
        "INVITATION_WITHDRAWN": "The account holder withdrew an access authorization.",
        "INVITATION_EXPIRED": "An access authorization expired undecided.",
        "ACCESS_REVOKED": "The account holder revoked a connected access authorization.",
        "EMAIL_SENT": "An e-mail sent on the partner's behalf was accepted by the mail server.",
        "EMAIL_FAILED": "An e-mail sent on the partner's behalf failed for good.",
        "MEMBER_INVITED": "Someone was invited to join the team.",
        "MEMBER_JOINED": "An invited person joined the team.",
        "MEMBER_ROLE_CHANGED": "A member's role changed.",
        "MEMBER_REMOVED": "A member was removed from the team.",
        "OWNERSHIP_TRANSFERRED": "Ownership passed to another member.",
        "WEBHOOK_CREATED": "A webhook endpoint was registered.",
        "WEBHOOK_UPDATED": "A webhook endpoint was changed.",
        "WEBHOOK_DELETED": "A webhook endpoint was removed.",
        "WEBHOOK_SECRET_ROTATED": "A webhook endpoint's signing secret was rotated.",
        "WEBHOOK_DISABLED": "PartnerDesk disabled a webhook endpoint (410 Gone, or failing too "
        "long).",
    },
)


@strawberry.type(description="One change in the partner's data, newest first in every list.")
class ActivityEvent(Node):
    verb: ActivityVerb = strawberry.field(description="What kind of change.")
    at: datetime = strawberry.field(description="When it happened.")
    actor_name: str | None = strawberry.field(
        description="Who made the change, by the name they had then; null for the system and "
        "for visitors."
    )
    summary: str = strawberry.field(
        description="The change in one line of English, at most 500 characters."
    )
    subject_id: strawberry.ID | None = strawberry.field(
        description="Global id of the object concerned (customer, inquiry, authorization, item, "
        "e-mail, member, endpoint, import); a deleted one no longer resolves."
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

    @strawberry.field(description="The customer whose timeline holds it; null: partner-wide.")
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers")] | None:
        from schema.customers import Customer

        if self._customer_id is None:
            return None
        found = await info.context.loaders.customer.load(self._customer_id)
        return Customer.from_model(found) if found else None


@strawberry.type(description="An activity event in a page of them, with its cursor.")
class ActivityEdge:
    node: ActivityEvent = strawberry.field(description=EDGE_NODE)
    cursor: str = strawberry.field(description=EDGE_CURSOR)


@strawberry.type(description="A page of activity events (Relay connection).")
class ActivityConnection(Connection):
    edges: list[ActivityEdge] = strawberry.field(description=CONNECTION_EDGES)

    @classmethod
    def of(cls, page: Page[ActivityEventModel]) -> ActivityConnection:
        return build_connection(cls, ActivityEdge, page, ActivityEvent.from_model)


@strawberry.type
class ActivityQuery:
    @strawberry.field(description="The partner's whole activity feed, newest first.")
    async def activity(
        self, info: Info, first: First = 20, after: After = None
    ) -> ActivityConnection:
        page = await activity.partner_activity(info.context.actor, page_request(first, after))
        return ActivityConnection.of(page)
