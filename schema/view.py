"""POST/GET /graphql per the GraphQL-over-HTTP specification, and the offline GraphiQL page.

Media types: a client that accepts `application/graphql-response+json` gets it, with
4xx status codes for requests that could not be executed (parse or validation
errors); a client that asks for `application/json` (or sends no Accept header)
gets 200 for every well-formed request, as older clients expect.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, StrawberryGraphQLError
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from config import Settings
from resolvers.actor import Actor
from resolvers.auth import authenticate
from schema.client_address import client_ip
from schema.compiled import CompiledData
from schema.context import Context, Loaders
from schema.fast_lane import FastLane
from schema.subscriptions import SharedStreams

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
GRAPHIQL_PAGE = Path(__file__).resolve().parent.parent / "static" / "graphiql.html"


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


def _error_response(status: int, message: str, media_type: str = JSON) -> Response:
    return Response(
        json.dumps({"errors": [{"message": message}]}), status_code=status, media_type=media_type
    )


class _SharingSchema:
    """The schema as a websocket handler sees it: `stream` goes through SharedStreams."""

    __slots__ = ("schema", "shared")

    def __init__(self, schema: BaseSchema, shared: SharedStreams) -> None:
        self.schema = schema
        self.shared = shared

    async def stream(self, query: str, **options: Any) -> Any:
        return await self.shared.stream(self.schema, query, **options)


class GraphQLTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws where shareable subscriptions run once per event for all their
    subscribers, not once per socket (performance: schema/subscriptions.py, SharedStreams)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.schema = options["view"].sharing_schema

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # Memory: the init timeout is over; its cancelled task would stay referenced (1.6 KiB)
        # for the life of the connection.
        self.connection_init_timeout_task = None


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = GraphQLTransportWSHandler

    def __init__(self, schema: Any, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
            # Browsers may open the websocket only from our own origin or an allowed one.
            allowed_origins=settings.allowed_origins,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
        )
        self.settings = settings
        # POSTed queries and mutations skip Strawberry's request pipeline (schema/fast_lane.py).
        self.fast_lane = FastLane(schema, settings) if settings.compiled_reads else None
        self.shared_streams = SharedStreams()
        self.sharing_schema = cast(BaseSchema, _SharingSchema(self.schema, self.shared_streams))
        self.trusted_proxies = [
            ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies
        ]

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # The fast lane may have looked the token up already.
        actor = getattr(request.state, "actor", None) or await authenticate(bearer_token(request))
        return self.context_for(request, actor, response)

    def context_for(self, request: HTTPConnection, actor: Actor, response: Any = None) -> Context:
        actor = replace(actor, client_ip=client_ip(request, self.trusted_proxies))
        return Context.build(request, self.settings, actor, response)

    def parse_json(self, data: str | bytes) -> Any:
        """The request body (or GET `variables`) as JSON; anything malformed is a 400."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            value = json.loads(text)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        except (ValueError, RecursionError):
            raise HTTPException(400, "Unable to parse request body as JSON.") from None
        if isinstance(value, list):
            raise HTTPException(
                400, "Batched requests are not accepted: send one operation per request."
            )
        if not isinstance(value, dict):
            raise HTTPException(400, "The request body must be a JSON object with a `query`.")
        return value

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, dict) and isinstance(data.get("data"), CompiledData) and len(data) == 1:
            return '{"data":' + data["data"].raw + "}"  # built by the database already
        # Text, not bytes: the websocket handlers send what this returns, and browsers'
        # graphql-ws clients only read text frames.
        return orjson.dumps(data).decode()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Subscriptions are for partner members: `connection_init` must carry
        {"authorization": "Bearer <token>"}; anything else closes the socket with 4403."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        scheme, _, token = header.partition(" ") if isinstance(header, str) else ("", "", "")
        actor = await authenticate(token.strip() if scheme.lower() == "bearer" else None)
        if actor.member is None:
            raise ConnectionRejectionError(
                {"message": "A partner member's bearer token is required."}
            )
        context.actor = replace(actor, client_ip=context.actor.client_ip)
        context.loaders = Loaders(actor.member.partner_id)
        return UNSET

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's own page loads React and GraphiQL from a CDN; ours is local.
        return HTMLResponse(GRAPHIQL_PAGE.read_text(encoding="utf-8"))

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        response = await super().process_result(request, result)
        # A request error (nothing executed) is a 400 under graphql-response+json.
        # Field errors carry a path (execution ran); parse, validation and limit errors don't.
        request.state.request_error = (
            result.data is None
            and bool(result.errors)
            and all(error.path is None for error in result.errors or ())
        )
        return response

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if self.is_websocket_request(request):
            return await super().run(request, UNSET, UNSET)
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None and not wants_page:
            return _error_response(
                406, f"Not acceptable: this endpoint answers {GRAPHQL_RESPONSE} or {JSON}."
            )
        media_type = media_type or JSON
        if request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != JSON:
                return _error_response(415, "Send the request as application/json.")
            limit = self.settings.max_body_bytes
            declared = request.headers.get("content-length", "")
            if (declared.isdigit() and int(declared) > limit) or len(await request.body()) > limit:
                return _error_response(413, f"Request body too large: at most {limit} bytes.")
            if self.fast_lane is not None:
                answer = await self.fast_lane.answer(
                    request, bearer_token(request), lambda actor: self.context_for(request, actor)
                )
                if answer is not None:
                    status = 400 if answer.request_error and media_type == GRAPHQL_RESPONSE else 200
                    headers = {"content-type": f"{media_type}; charset=utf-8"}
                    return Response(answer.body, status_code=status, headers=headers)
        try:
            response = await super().run(request, UNSET, UNSET)
        except HTTPException as error:
            status = error.status_code
            if request.method == "GET" and "mutation" in error.reason.lower():
                status = 405  # GraphQL-over-HTTP: mutations are never allowed over GET
            response = _error_response(status, error.reason, media_type)
            if status == 405:
                response.headers["allow"] = "POST"
            return response
        except StrawberryGraphQLError as error:
            return _error_response(400, str(error), media_type)
        if isinstance(response, HTMLResponse):
            return response
        if media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if getattr(request.state, "request_error", False):
                response.status_code = 400
        else:
            response.headers["content-type"] = f"{JSON}; charset=utf-8"
        return response
