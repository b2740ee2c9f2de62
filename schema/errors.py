"""UserError, the ErrorCode enum, and the translation of domain errors into payload errors."""

from __future__ import annotations

import strawberry

from resolvers.errors import DomainError, ErrorCode

strawberry.enum(ErrorCode, description="Why a mutation did not do what was asked.")


@strawberry.type(description="An expected failure of a mutation; safe to show to the user.")
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path into the mutation input, e.g. ["target", "newCustomer", "email"].'
    )
    retry_after: int | None = strawberry.field(
        default=None, description="For RATE_LIMITED: seconds until a retry can succeed."
    )


def user_errors(error: DomainError) -> list[UserError]:
    return [
        UserError(
            code=problem.code,
            message=problem.message,
            field=list(problem.path) if problem.path else None,
            retry_after=problem.retry_after,
        )
        for problem in error.errors
    ]
