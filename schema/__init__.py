"""The GraphQL schema, assembled from one Query/Mutation class per domain."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from config import Settings
from schema.activity import ActivityQuery
from schema.auth import AccountHolder, AuthMutation, AuthQuery
from schema.compiled import CompiledReads
from schema.customers import CustomerMutation, CustomerQuery
from schema.extensions import ErrorTranslation
from schema.inquiries import InquiryMutation, InquiryQuery
from schema.invitations import InvitationMutation, InvitationQuery
from schema.items import ItemMutation, ItemQuery
from schema.limits import limit_extensions
from schema.node import NodeQuery
from schema.partners import Partner, PartnerMember, PartnerMutation, PartnerQuery
from schema.subscriptions import LiveSubscription


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
):
    pass


class PartnerDeskSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log nothing here: client errors are the client's, and ErrorTranslation logs
        server faults once, with their request id and traceback."""


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; production settings turn off introspection and suggestions."""
    settings = settings or Settings()
    production = settings.production
    extensions: list = [
        lambda: ErrorTranslation(hide_suggestions=production),
        *limit_extensions(settings),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if settings.compiled_reads:
        extensions.append(CompiledReads)
    return PartnerDeskSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Partner, PartnerMember, AccountHolder],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
