"""The GraphQL schema, assembled from one Query/Mutation class per domain."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from config import Settings
from schema.activity import ActivityQuery
from schema.auth import AccountHolder, AuthMutation, AuthQuery
from schema.customers import CustomerMutation, CustomerQuery
from schema.data import UPLOAD_SCALAR, DataMutation, DataQuery, Upload
from schema.identity import IdentityMutation
from schema.inquiries import InquiryMutation, InquiryQuery
from schema.invitations import InvitationMutation, InvitationQuery
from schema.item_changes import ItemChangeMutation
from schema.items import ItemMutation, ItemQuery
from schema.node import NodeQuery
from schema.partners import Partner, PartnerMember, PartnerMutation, PartnerQuery
from schema.subscriptions import LiveSubscription
from schema.team import MemberInvitation, TeamMutation
from schema.webhooks import WebhookDelivery, WebhookEndpoint, WebhookMutation


@strawberry.type
class Query(
    NodeQuery,
    AuthQuery,
    PartnerQuery,
    CustomerQuery,
    ItemQuery,
    InquiryQuery,
    InvitationQuery,
    ActivityQuery,
    DataQuery,
):
    pass


@strawberry.type
class Subscription(LiveSubscription):
    pass


@strawberry.type
class Mutation(
    AuthMutation,
    PartnerMutation,
    CustomerMutation,
    ItemMutation,
    InquiryMutation,
    InvitationMutation,
    IdentityMutation,
    TeamMutation,
    WebhookMutation,
    DataMutation,
    ItemChangeMutation,
):
    pass


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; production settings turn off field suggestions.

    Operations never run through Strawberry's own execution (and so carry no Strawberry
    extensions): every route hands them to one pipeline (schema/pipeline.py), which parses,
    validates, limits, runs and translates errors the same way for all.
    """
    settings = settings or Settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Partner,
            PartnerMember,
            AccountHolder,
            MemberInvitation,
            WebhookEndpoint,
            WebhookDelivery,
        ],
        scalar_overrides={Upload: UPLOAD_SCALAR},
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
