"""Errors as clients see them: UserError in mutation payloads, and top-level errors.

Expected failures of mutations are data (`user_errors`: a DomainError's problems as the
payload's `errors`). Everything else reaching the top-level "errors" array goes through
`translate_error`: domain errors raised by queries keep their message and gain a code,
server faults are masked and logged with a request id.
"""

from __future__ import annotations

import logging
import re

import strawberry
from graphql import GraphQLError

from resolvers.errors import DomainError, ErrorCode
from schema.enums import register_enum

log = logging.getLogger("partnerdesk.errors")
INTERNAL_ERROR = "Internal server error"
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")

register_enum(
    ErrorCode,
    "Why an operation failed: UserError.code in mutation payloads, and extensions.code of the "
    "top-level errors of queries.",
    {
        "UNAUTHENTICATED": "No valid bearer token (none, unknown, expired or revoked), or a "
        "wrong e-mail or password at login.",
        "FORBIDDEN": "Signed in, but this realm or role may not do this.",
        "NOT_FOUND": "Does not exist or belongs to another partner (never told apart).",
        "VALIDATION": "Bad input: `field` points at it and `message` says what is wrong.",
        "CONFLICT": "Clashes with the current data, e.g. a stale version, a concurrent change, "
        "or a taken unique value (slug, e-mail, domain, contract number, external ID).",
        "ALREADY_PROCESSED": "Decided or done already, e.g. an inquiry assigned or dismissed, "
        "an authorization decided, an address verified.",
        "EXPIRED": "Past its expiry: an access authorization or a member invitation.",
        "PROFILE_NOT_PUBLIC": "The partner's profile is not public (or the slug names none): "
        "it takes no inquiries or authorizations.",
        "RATE_LIMITED": "Too many attempts: retry after `retryAfter` seconds.",
        "EMAIL_NOT_VERIFIED": "The e-mail address must be verified first (the link we sent).",
        "INVALID_TOKEN": "A verification, password-reset or member-invitation token that is "
        "unknown, used, revoked or expired (never told apart).",
        "LAST_OWNER": "The partner would be left without an OWNER: transfer ownership first.",
    },
)

# Every payload's `errors` (schema/mutations.py fills them, and empties the rest, on failure).
PAYLOAD_ERRORS = (
    "Empty on success; otherwise why the mutation failed, and every other field is null "
    "(ok / accepted: false)."
)


@strawberry.type(description="An expected failure of a mutation; safe to show to the user.")
class UserError:
    code: ErrorCode = strawberry.field(description="What kind of failure, for program logic.")
    message: str = strawberry.field(
        description="What went wrong, in English; safe to show to the user."
    )
    field: list[str] | None = strawberry.field(
        description="Path to the input at fault (argument and input field names), e.g. "
        '["target", "newCustomer", "email"]; null when no single input is.'
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


def translate_error(error: GraphQLError, request_id: str, hide_suggestions: bool) -> GraphQLError:
    """One top-level error, as clients see it.

    - A DomainError raised by a query (UNAUTHENTICATED, NOT_FOUND, bad cursor, ...)
      keeps its readable message and gains `extensions.code` (and `field`).
    - Any other exception is a server fault: its message could leak internals, so the
      client gets "Internal server error" and a request id; the log gets the traceback.
    - Parse and validation errors (no original exception) pass unchanged, except that in
      production "Did you mean ...?" suggestions are cut from every message (graphql-core
      adds them to unknown-argument errors even with field suggestions off).
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        if hide_suggestions and "Did you mean" in error.message:
            message = SUGGESTION.sub("", error.message).rstrip()
            return GraphQLError(
                message, nodes=error.nodes, path=error.path, extensions=error.extensions
            )
        return error
    if isinstance(original, DomainError):
        first = original.errors[0]
        extensions = {"code": first.code.value}
        if first.path:
            extensions["field"] = list(first.path)  # type: ignore[assignment]
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=extensions
        )
    log.error("request %s: unexpected error at %s", request_id, error.path, exc_info=original)
    return GraphQLError(
        INTERNAL_ERROR,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )
