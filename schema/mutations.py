"""`@mutation`: every mutation is guarded the same way.

    @mutation(description="...")
    async def update_customer(self, info: Info, id: strawberry.ID, ...) -> CustomerPayload:
        customer = await customers.update_customer(info.context.actor, customer_pk(id), ...)
        return CustomerPayload(customer=Customer.from_model(customer), errors=[])

1. who may call it: the audience of resolvers/permissions.py, checked before anything
   else, so a visitor learns UNAUTHENTICATED before anything about the ids it sent;
2. the body: decode ids (a malformed or foreign one is NOT_FOUND at its field), run the
   flow in resolvers/, build the payload;
3. expected failures (a DomainError from any step) become the payload's `errors`, every
   other field null (false for the Boolean `ok` / `accepted`).

The schema's description of the mutation is the one given, followed by who may call it,
taken from the same table the check uses, so the documentation cannot drift from the rule.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.utils.str_converters import to_camel_case

from resolvers.errors import DomainError
from resolvers.permissions import MUTATION_AUDIENCES, admit
from schema.errors import user_errors

Resolver = TypeVar("Resolver", bound=Callable[..., Awaitable[Any]])


def mutation(*, description: str) -> Callable[[Resolver], Any]:
    """strawberry.mutation with the audience check and the errors-as-data translation;
    `description` says what it does (one line), the audience is added to it."""

    def decorate(resolver: Resolver) -> Any:
        audience = MUTATION_AUDIENCES[to_camel_case(resolver.__name__)]
        documented = f"{description} Who may call it: {audience.value}."
        failure = _FailedPayload(resolver)

        @functools.wraps(resolver)
        async def guarded(self: Any, info: Any, **arguments: Any) -> Any:
            try:
                admit(info.context.actor, audience)
                return await resolver(self, info, **arguments)
            except DomainError as error:
                return failure(error)

        return strawberry.mutation(guarded, description=documented)

    return decorate


class _FailedPayload:
    """Builds a resolver's payload type for a failure: `errors` set, the rest empty."""

    def __init__(self, resolver: Callable[..., Any]) -> None:
        self.resolver = resolver
        # Found on first use (types may be lazy), then kept: resolving the annotations is
        # slow, and a refused login or a lost race should not pay for it every time.
        self.payload: Any = None
        self.empty: dict[str, Any] = {}

    def __call__(self, error: DomainError) -> Any:
        if self.payload is None:
            payload = typing.get_type_hints(self.resolver)["return"]
            fields = payload.__strawberry_definition__.fields
            self.empty = {
                field.python_name: False if field.type is bool else None
                for field in fields
                if field.python_name != "errors"
            }
            self.payload = payload
        return self.payload(**self.empty, errors=user_errors(error))
