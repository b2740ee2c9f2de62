"""The GraphQL schema, assembled from one Query/Mutation class per domain."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from config import Settings
from schema.activity import ActivityQuery
from schema.auth import AccountHolder, AuthMutation, AuthQuery
from schema.customers import CustomerMutation, CustomerQuery
from schema.extensions import ErrorTranslation
from schema.node import NodeQuery
from schema.partners import Partner, PartnerMember, PartnerMutation, PartnerQuery


@strawberry.type
class Query(NodeQuery, AuthQuery, PartnerQuery, CustomerQuery, ActivityQuery):
    pass


@strawberry.type
class Mutation(AuthMutation, PartnerMutation, CustomerMutation):
    pass


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; production settings turn off introspection and suggestions."""
    settings = settings or Settings()
    extensions: list = [
        ErrorTranslation,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Partner, PartnerMember, AccountHolder],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
