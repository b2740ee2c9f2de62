"""The GraphQL schema, assembled from one Query/Mutation class per domain."""

from __future__ import annotations

import dataclasses
import datetime
import functools

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition

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


@strawberry.type(
    description="Reads. Unless a field says otherwise, it needs a partner member's bearer token "
    "(visitors get UNAUTHENTICATED, account holders FORBIDDEN, as top-level errors) and shows "
    "only the member's own partner: another partner's objects are null or missing."
)
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


@strawberry.type(
    description="Live updates for partner members, over the graphql-transport-ws websocket at "
    '/graphql: connection_init carries {"authorization": "Bearer <token>"}. Each follows the '
    "member's own partner and reports a change once it is committed."
)
class Subscription(LiveSubscription):
    pass


@strawberry.type(
    description="Changes. Expected failures, refusals included, come back in the payload's "
    "`errors`, never as top-level errors; each mutation says who may call it."
)
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


# Strawberry's own Date and DateTime scalars, unchanged but for what they tell clients.
DATE_SCALAR = dataclasses.replace(
    DateDefinition, description='A calendar date in ISO 8601, e.g. "2026-12-31".'
)
DATE_TIME_SCALAR = dataclasses.replace(
    DateTimeDefinition,
    description='A moment in ISO 8601 with an offset, e.g. "2026-11-27T10:15:00.123456+00:00" '
    "(no fraction when it is zero): always UTC on output; input without an offset means UTC.",
)


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; production settings turn off field suggestions.

    Operations never run through Strawberry's own execution (and so carry no Strawberry
    extensions): every route hands them to one pipeline (schema/pipeline.py), which parses,
    validates, limits, runs and translates errors the same way for all.
    """
    return _schema(production=(settings or Settings()).production)


# Built once per process and kind: a schema keeps no state of the app that uses it, and building
# one takes a tenth of a second (the test suite creates an app per test).
@functools.cache
def _schema(*, production: bool) -> strawberry.Schema:
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
        scalar_overrides={
            Upload: UPLOAD_SCALAR,
            datetime.date: DATE_SCALAR,
            datetime.datetime: DATE_TIME_SCALAR,
        },
        config=StrawberryConfig(disable_field_suggestions=production),
    )
