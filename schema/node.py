"""`node(id)`: fetch any object by its global id, within what the caller may see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from resolvers import (
    activity,
    customers,
    imports,
    inquiries,
    invitations,
    items,
    partners,
    team,
    webhooks,
)
from resolvers.actor import Actor
from resolvers.permissions import Audience, admit
from schema.activity import ActivityEvent
from schema.auth import AccountHolder
from schema.context import Info
from schema.customers import Customer
from schema.data import CustomerImport
from schema.ids import parse_global_id
from schema.inquiries import Inquiry
from schema.invitations import AccessInvitation, EmailDelivery
from schema.items import Contract, Domain, Task
from schema.partners import Partner, PartnerMember
from schema.relay import Node
from schema.team import MemberInvitation
from schema.webhooks import WebhookDelivery, WebhookEndpoint

NodeFetcher = Callable[[Actor, int], Awaitable[Any]]


async def _customer(actor: Actor, pk: int) -> Customer | None:
    found = await customers.get_customer(actor, pk)
    return Customer.from_model(found) if found else None


async def _partner(actor: Actor, pk: int) -> Partner | None:
    found = await partners.get_partner(actor, pk)
    return Partner.from_model(found) if found else None


async def _member(actor: Actor, pk: int) -> PartnerMember | None:
    found = await partners.get_member(actor, pk)
    return PartnerMember.from_model(found) if found else None


async def _account(actor: Actor, pk: int) -> AccountHolder | None:
    # Account holders see themselves; partners see requesters through their invitations.
    if actor.account is not None and actor.account.id == pk:
        return AccountHolder.from_model(actor.account)
    if actor.member is not None:
        requester = await invitations.requester_of_partner(actor, pk)
        return AccountHolder.from_model(requester) if requester else None
    return None


async def _activity(actor: Actor, pk: int) -> ActivityEvent | None:
    found = await activity.get_activity_event(actor, pk)
    return ActivityEvent.from_model(found) if found else None


async def _domain(actor: Actor, pk: int) -> Domain | None:
    found = await items.get_domain(actor, pk)
    return Domain.from_model(found) if found else None


async def _contract(actor: Actor, pk: int) -> Contract | None:
    found = await items.get_contract(actor, pk)
    return Contract.from_model(found) if found else None


async def _task(actor: Actor, pk: int) -> Task | None:
    found = await items.get_task(actor, pk)
    return Task.from_model(found) if found else None


async def _inquiry(actor: Actor, pk: int) -> Inquiry | None:
    found = await inquiries.get_inquiry(actor, pk)
    return Inquiry.from_model(found) if found else None


async def _invitation(actor: Actor, pk: int) -> AccessInvitation | None:
    found = await invitations.get_invitation(actor, pk)
    return AccessInvitation.from_model(found) if found else None


async def _email(actor: Actor, pk: int) -> EmailDelivery | None:
    found = await invitations.get_email_delivery(actor, pk)
    return EmailDelivery.from_model(found) if found else None


async def _member_invitation(actor: Actor, pk: int) -> MemberInvitation | None:
    found = await team.get_member_invitation(actor, pk)
    return MemberInvitation.from_model(found) if found else None


async def _webhook_endpoint(actor: Actor, pk: int) -> WebhookEndpoint | None:
    found = await webhooks.get_endpoint(actor, pk)
    return WebhookEndpoint.from_model(found) if found else None


async def _webhook_delivery(actor: Actor, pk: int) -> WebhookDelivery | None:
    found = await webhooks.get_delivery(actor, pk)
    return WebhookDelivery.from_model(found) if found else None


async def _customer_import(actor: Actor, pk: int) -> CustomerImport | None:
    found = await imports.get_customer_import(actor, pk)
    return CustomerImport.from_model(found) if found else None


# GraphQL type name -> scoped fetcher. Each domain module registers its types here.
NODE_FETCHERS: dict[str, NodeFetcher] = {
    "Customer": _customer,
    "Partner": _partner,
    "PartnerMember": _member,
    "AccountHolder": _account,
    "ActivityEvent": _activity,
    "Inquiry": _inquiry,
    "AccessInvitation": _invitation,
    "EmailDelivery": _email,
    "Domain": _domain,
    "Contract": _contract,
    "Task": _task,
    "MemberInvitation": _member_invitation,
    "WebhookEndpoint": _webhook_endpoint,
    "WebhookDelivery": _webhook_delivery,
    "CustomerImport": _customer_import,
}


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id, for anyone signed in; null when it does not "
        "exist or is not yours. Account holders fetch only their account and authorizations."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The `id` of any object of the API.")
        ],
    ) -> Node | None:
        # Anyone signed in may ask; a visitor is refused whatever the id, well-formed or not.
        admit(info.context.actor, Audience.SIGNED_IN)
        parsed = parse_global_id(id)
        if parsed is None or parsed[0] not in NODE_FETCHERS:
            return None
        type_name, pk = parsed
        return await NODE_FETCHERS[type_name](info.context.actor, pk)
