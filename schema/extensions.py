"""Schema extensions: domain errors get their code; unexpected faults are masked and logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import DomainError

log = logging.getLogger("partnerdesk.errors")
INTERNAL_ERROR = "Internal server error"
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class ErrorTranslation(SchemaExtension):
    """Top-level errors, as clients see them (see translate_error)."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", "-")
        result.errors = [
            translate_error(error, request_id, self.hide_suggestions) for error in result.errors
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
