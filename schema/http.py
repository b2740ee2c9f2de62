"""POST and GET /graphql per the GraphQL-over-HTTP specification, and the offline GraphiQL page.

This route only speaks HTTP: it reads the request (bounded: a body is counted while it
streams in and refused at PARTNERDESK_MAX_BODY_BYTES, whatever Content-Length claims, and so
is a GET query string), negotiates the media type and writes the response. Every GraphQL
step is the pipeline's (schema/pipeline.py), as for the websocket.

Media types: a client that accepts `application/graphql-response+json` gets it, with 4xx
status codes and no `data` entry for requests that could not be executed (parse,
validation, variable and limit errors); a client that asks for `application/json` (or sends
no Accept header) gets 200 and `"data": null` for them, as older clients expect.

Persisted documents (schema/persisted.py) come as `extensions` and `documentId`, in a POST
body or as GET parameters (`GET /graphql?extensions=...&variables=...`, cacheable by a CDN).
Every response carries the request's id (`x-request-id`), as its log line and spans do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from graphql import OperationType
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response

from config import Settings
from schema.client_address import client_ip, trusted_networks
from schema.multipart import MultipartRefused, boundary_of, place_files, split_parts
from schema.persisted import PERSISTED_QUERY_NOT_FOUND
from schema.pipeline import Caller, GraphQLRequest, Pipeline, RequestError

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MULTIPART = "multipart/form-data"
# multipart/form-data is a "simple" content type that any web page may send cross-site
# without a CORS preflight; a request with files must carry one of these headers (as
# Apollo Server's CSRF prevention asks), which only same-origin or CORS-approved pages can.
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
GRAPHIQL_PAGE = Path(__file__).resolve().parent.parent / "static" / "graphiql.html"


class ClientError(Exception):
    """The HTTP request itself is wrong: answered with `status` and one error message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes."""
    if not accept:
        return JSON
    offered: list[tuple[float, str]] = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            offered.append((quality, media.lower()))
    for _quality, media in sorted(offered, key=lambda item: -item[0]):
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in {JSON, "application/*", "*/*"}:
            return JSON
    return None


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _message_body(message: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message}]})


class GraphQLOverHTTP:
    """The Starlette endpoint for GET and POST /graphql."""

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.max_body_bytes = settings.max_body_bytes
        self.max_upload_bytes = settings.max_upload_bytes
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)
        self.graphiql = None if settings.production else GRAPHIQL_PAGE.read_text(encoding="utf-8")

    async def __call__(self, request: Request) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and self.graphiql is not None:
            return HTMLResponse(self.graphiql)
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None and not wants_page:
            message = f"Not acceptable: this endpoint answers {GRAPHQL_RESPONSE} or {JSON}."
            return self._plain(406, message, JSON)
        media_type = media_type or JSON
        try:
            graphql_request = await self._read(request)
            if not (
                graphql_request.query
                or graphql_request.document_id is not None
                or (graphql_request.extensions or {}).get("persistedQuery") is not None
            ):
                raise ClientError(400, "No GraphQL query found in the request.")
            return await self._answer(request, graphql_request, media_type)
        except ClientError as error:
            response = self._plain(error.status, error.message, media_type)
            response.headers.update(error.headers)
            return response

    async def _answer(
        self, request: Request, graphql_request: GraphQLRequest, media_type: str
    ) -> Response:
        caller = Caller(
            connection=request,
            token=bearer_token(request),
            client_ip=client_ip(request, self.trusted_proxies),
        )
        try:
            prepared = self.pipeline.prepare(graphql_request, caller)
        except RequestError as refused:
            errors = [error.formatted for error in refused.errors]
            if media_type == GRAPHQL_RESPONSE:  # no `data` entry: nothing was executed
                response = self._json(400, {"errors": errors}, media_type)
            else:
                response = self._json(200, {"data": None, "errors": errors}, media_type)
            if any(
                (error.extensions or {}).get("code") == PERSISTED_QUERY_NOT_FOUND
                for error in refused.errors
            ):
                # Never cached: the client registers the document next (Apollo's APQ).
                response.headers["cache-control"] = "private, no-cache, must-revalidate"
            return self._identified(response, caller)
        if _content_type(request) == MULTIPART and prepared.plan.kind != OperationType.MUTATION:
            raise ClientError(400, "Only mutations may carry files.")
        if request.method == "GET" and prepared.plan.kind != OperationType.QUERY:
            kind = prepared.plan.kind.value
            raise ClientError(
                405, f"Only queries run over GET; send the {kind} as POST.", {"allow": "POST"}
            )
        if prepared.plan.kind == OperationType.SUBSCRIPTION:
            raise ClientError(400, "Subscriptions run over the websocket (graphql-transport-ws).")
        result = await self.pipeline.execute(prepared, caller)
        return self._identified(self._json(200, result.formatted(), media_type), caller)

    @staticmethod
    def _identified(response: Response, caller: Caller) -> Response:
        if caller.request_id:
            response.headers["x-request-id"] = caller.request_id
        return response

    # ------------------------------------------------------------ reading the request

    async def _read(self, request: Request) -> GraphQLRequest:
        if request.method == "GET":
            return self._from_query_string(request)
        content_type = _content_type(request)
        if content_type == MULTIPART:
            return await self._from_multipart(request)
        if content_type != JSON:
            raise ClientError(
                415, "Send the request as application/json (multipart/form-data with files)."
            )
        return self._from_json(await self._body(request, self.max_body_bytes))

    async def _body(self, request: Request, limit: int) -> bytes:
        """The body, counted while it streams in: refused at the limit, never read whole first."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise self._too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, limit: int) -> ClientError:
        # The rest of the body is never read: the connection cannot be reused.
        message = f"Request body too large: at most {limit} bytes."
        return ClientError(413, message, {"connection": "close"})

    async def _from_multipart(self, request: Request) -> GraphQLRequest:
        """An operation with files (schema/multipart.py); the body may hold one upload's
        worth more than a plain request."""
        if not any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
            raise ClientError(
                400,
                "A request with files needs a GraphQL-Require-Preflight header "
                "(any value): it keeps other web sites from sending it.",
            )
        try:
            boundary = boundary_of(request.headers["content-type"])
            body = await self._body(request, self.max_upload_bytes + self.max_body_bytes)
            parts = split_parts(body, boundary)
            payload = place_files(parts, self.max_upload_bytes, self.max_body_bytes)
        except MultipartRefused as refused:
            headers = {"connection": "close"} if refused.status == 413 else {}
            raise ClientError(refused.status, refused.message, headers) from None
        return self._checked(payload)

    def _from_query_string(self, request: Request) -> GraphQLRequest:
        if len(request.scope.get("query_string", b"")) > self.max_body_bytes:
            message = (
                f"Query string too long: at most {self.max_body_bytes} bytes; POST larger requests."
            )
            raise ClientError(414, message)
        params = request.query_params
        variables = self._json_value(params.get("variables") or None, "variables")
        extensions = self._json_value(params.get("extensions") or None, "extensions")
        return self._checked(
            {
                "query": params.get("query"),
                "variables": variables,
                "operationName": params.get("operationName"),
                "extensions": extensions,
                "documentId": params.get("documentId"),
            }
        )

    def _from_json(self, body: bytes) -> GraphQLRequest:
        payload = self._json_value(body, "body")
        if isinstance(payload, list):
            raise ClientError(
                400, "Batched requests are not accepted: send one operation per request."
            )
        if not isinstance(payload, dict):
            raise ClientError(400, "The request body must be a JSON object with a `query`.")
        return self._checked(payload)

    @staticmethod
    def _json_value(text: str | bytes | None, what: str) -> Any:
        if text is None:
            return None
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        # orjson refuses what the JSON grammar allows but it does not hold: escaped lone
        # surrogates (text checks refuse them at their field) and integers beyond 64 bits
        # (graphql-core refuses them with its own message). The standard parser reads those.
        try:
            decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        except UnicodeDecodeError:
            raise ClientError(400, "The request body is not valid UTF-8.") from None
        try:
            return json.loads(decoded)
        except (ValueError, RecursionError):
            raise ClientError(400, f"Unable to parse request {what} as JSON.") from None

    @staticmethod
    def _checked(payload: dict[str, Any]) -> GraphQLRequest:
        query, variables = payload.get("query"), payload.get("variables")
        name = payload.get("operationName")
        if not isinstance(query, str | None):
            raise ClientError(
                400, "The GraphQL operation's `query` must be a string or null, if provided."
            )
        if not isinstance(variables, dict | None):
            raise ClientError(
                400, "The GraphQL operation's `variables` must be an object or null, if provided."
            )
        if not isinstance(name, str | None):
            raise ClientError(
                400,
                "The GraphQL operation's `operationName` must be a string or null, if provided.",
            )
        extensions, document_id = payload.get("extensions"), payload.get("documentId")
        if not isinstance(extensions, dict | None):
            raise ClientError(
                400, "The GraphQL operation's `extensions` must be an object or null, if provided."
            )
        if not isinstance(document_id, str | None):
            raise ClientError(
                400, "The GraphQL operation's `documentId` must be a string or null, if provided."
            )
        return GraphQLRequest(query, variables, name, extensions, document_id)

    # ------------------------------------------------------------ writing the response

    @staticmethod
    def _json(status: int, body: dict[str, Any], media_type: str) -> Response:
        return Response(
            orjson.dumps(body),
            status_code=status,
            headers={"content-type": f"{media_type}; charset=utf-8"},
        )

    @staticmethod
    def _plain(status: int, message: str, media_type: str) -> Response:
        return Response(
            _message_body(message),
            status_code=status,
            headers={"content-type": f"{media_type}; charset=utf-8"},
        )
