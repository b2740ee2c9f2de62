"""The websocket route: graphql-transport-ws, for live dashboards (and queries, if sent there).

Strawberry speaks the protocol (message types, ids, the init timeout, the subscription
limit); every GraphQL step of an operation is the pipeline's (schema/pipeline.py), as for
HTTP. On top of the protocol, a socket never outlives its bearer token:

- `connection_init` must carry a partner member's token ({"authorization": "Bearer …"});
  anything else is closed with 4403;
- every `subscribe` re-checks the token (revoked, expired, member gone) before anything
  runs; a dead token closes the socket with 4401 "Unauthorized";
- revocation is pushed: signing out (and anything else that revokes tokens) publishes
  `sessions.revoked` on the event broker, and every instance closes the sockets opened with
  those tokens at once (`Sessions`);
- at the token's `expires_at` the socket is closed with 4401;
- operations still running when the token dies end with an `error` message first, and
  receive nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from graphql import GraphQLError, OperationType
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.unset import UNSET, UnsetType

from config import Settings
from events import Event, EventKind, get_broker
from resolvers.actor import ANONYMOUS, Actor
from schema.client_address import client_ip, trusted_networks
from schema.context import Context
from schema.pipeline import Caller, GraphQLRequest, Pipeline, RequestError, Result
from schema.shared_streams import SharedStreams
from telemetry import metrics

log = logging.getLogger("partnerdesk.websocket")

SESSION_ENDED = GraphQLError(
    "Your session has ended (signed out, expired or revoked): sign in again.",
    extensions={"code": "UNAUTHENTICATED"},
)


class GraphQLTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    view: GraphQLWebSocket
    # A subscribe message's persisted-document fields, by operation id, until it runs.
    persisted: dict[str, tuple[Any, Any]]

    async def handle(self) -> None:
        self.persisted = {}
        metrics.WEBSOCKETS.inc()
        try:
            await super().handle()
        finally:
            metrics.WEBSOCKETS.dec()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # Memory: the init timeout is over; its cancelled task would stay referenced (1.6 KiB)
        # for the life of the connection.
        self.connection_init_timeout_task = None
        if self.connection_acknowledged:
            self.view.sessions.open(self)

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged and not await self._token_still_valid():
            await self.end_session()
            return
        payload = message.get("payload")
        if isinstance(payload, dict) and ("extensions" in payload or "documentId" in payload):
            self.persisted[message.get("id")] = (
                payload.get("extensions"),
                payload.get("documentId"),
            )
            payload.setdefault("query", None)  # a persisted document needs no text
        await super().handle_subscribe(message)

    async def _token_still_valid(self) -> bool:
        actor = self.context.actor
        caller = Caller(self.context.request, self.view.token_of(self.context), actor.client_ip)
        current = await self.view.pipeline.actor(caller)
        return current.token_id is not None and current.token_id == actor.token_id

    async def end_session(self) -> None:
        """The token died: running operations end with an error, then the socket closes (4401)."""
        for operation_id, operation in list(self.operations.items()):
            if operation.task is not None:
                operation.task.cancel()
            with contextlib.suppress(Exception):
                await operation.send_initial_errors([SESSION_ENDED])
            self.operations.pop(operation_id, None)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=4401, reason="Unauthorized")

    async def shutdown(self) -> None:
        self.view.sessions.close(self)
        await super().shutdown()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """One operation of this socket, through the pipeline; then `complete`."""
        try:
            request = _request_of(operation, self.persisted.pop(operation.id, (None, None)))
            prepared = self.view.pipeline.prepare(request, self._caller(self.context.actor))
        except RequestError as refused:
            # An `error` message, as graphql-ws says for errors before execution: one bad
            # document does not close the socket and its other subscriptions.
            await operation.send_initial_errors(refused.errors)
            return
        try:
            actor = self.context.actor
            if prepared.plan.kind == OperationType.SUBSCRIPTION:
                caller = self._caller(actor)
                context = self.view.pipeline.context(caller, actor)
                results = self.view.shared_streams.stream(
                    prepared, context, self.view.pipeline.subscribe
                )
                with self.view.pipeline.subscription(prepared, caller):
                    async for result in results:
                        await _send_next(operation, result)
            else:
                await _send_next(
                    operation, await self.view.pipeline.execute(prepared, self._caller(actor))
                )
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except asyncio.CancelledError:
            raise
        except Exception:  # a fault: logged, the client gets a masked error
            log.exception("websocket operation %s failed", operation.id)
            with contextlib.suppress(Exception):
                await operation.send_initial_errors([GraphQLError("Internal server error")])

    def _caller(self, actor: Actor) -> Caller:
        return Caller(
            self.context.request,
            self.view.token_of(self.context),
            actor.client_ip,
            actor,
            transport="websocket",
        )


def _request_of(operation: Operation[Context, None], persisted: tuple[Any, Any]) -> GraphQLRequest:
    """The operation's request; a query or variables of the wrong JSON type are refused."""
    extensions, document_id = persisted
    if not isinstance(extensions, dict | None) or not isinstance(document_id, str | None):
        raise RequestError([GraphQLError("`extensions` must be an object, `documentId` a string.")])
    named = extensions is not None or document_id is not None
    if not isinstance(operation.query, str) and not (named and operation.query is None):
        raise RequestError([GraphQLError("The `query` must be a string.")])
    if operation.variables is not None and not isinstance(operation.variables, dict):
        raise RequestError([GraphQLError("The `variables` must be an object or null.")])
    if operation.operation_name is not None and not isinstance(operation.operation_name, str):
        raise RequestError([GraphQLError("The `operationName` must be a string or null.")])
    return GraphQLRequest(
        operation.query, operation.variables, operation.operation_name, extensions, document_id
    )


async def _send_next(operation: Operation[Context, None], result: Result) -> None:
    message: Any = {"id": operation.id, "type": "next", "payload": result.formatted()}
    await operation.send_operation_message(message)


class Sessions:
    """This process's open sockets by bearer token; closes them when their token dies.

    Per partner with open sockets here, one broker subscription listens for revocations
    (not one per socket: an idle dashboard must stay cheap). A broker notice (events may
    have been missed, e.g. while Redis was away) re-checks every token of that partner.
    """

    def __init__(self) -> None:
        self.handlers: dict[int, set[GraphQLTransportWSHandler]] = {}  # partner -> sockets
        self.listeners: dict[int, asyncio.Task[None]] = {}
        self.expiry: dict[GraphQLTransportWSHandler, asyncio.TimerHandle] = {}

    def open(self, handler: GraphQLTransportWSHandler) -> None:
        actor = handler.context.actor
        assert actor.member is not None
        partner_id = actor.member.partner_id
        self.handlers.setdefault(partner_id, set()).add(handler)
        if partner_id not in self.listeners:
            self.listeners[partner_id] = asyncio.create_task(self._listen(partner_id))
        if actor.token_expires_at is not None:
            loop = asyncio.get_running_loop()
            delay = (actor.token_expires_at - datetime.now(UTC)) / timedelta(seconds=1)
            self.expiry[handler] = loop.call_later(
                max(delay, 0), lambda: asyncio.ensure_future(handler.end_session())
            )

    def close(self, handler: GraphQLTransportWSHandler) -> None:
        timer = self.expiry.pop(handler, None)
        if timer is not None:
            timer.cancel()
        member = handler.context.actor.member
        if member is None:
            return
        sockets = self.handlers.get(member.partner_id)
        if sockets is None:
            return
        sockets.discard(handler)
        if not sockets:
            del self.handlers[member.partner_id]
            listener = self.listeners.pop(member.partner_id, None)
            if listener is not None:
                listener.cancel()

    async def _listen(self, partner_id: int) -> None:
        try:
            async with get_broker().subscribe(partner_id) as stream:
                async for event in stream:
                    if event.kind == EventKind.SESSIONS_REVOKED:
                        await self._revoked(partner_id, event)
                    elif event.is_notice:
                        await self._recheck(partner_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session listener of partner %s failed", partner_id)

    async def _revoked(self, partner_id: int, event: Event) -> None:
        token_ids = set(event.payload.get("token_ids") or ())
        member_id = event.payload.get("member_id")
        for handler in list(self.handlers.get(partner_id, ())):
            actor = handler.context.actor
            if actor.token_id in token_ids or (
                member_id is not None and actor.member is not None and actor.member.id == member_id
            ):
                await handler.end_session()

    async def _recheck(self, partner_id: int) -> None:
        for handler in list(self.handlers.get(partner_id, ())):
            if not await handler._token_still_valid():
                await handler.end_session()


class GraphQLWebSocket(GraphQL[Context, None]):
    """The Starlette websocket endpoint of /graphql (graphql-transport-ws only)."""

    graphql_transport_ws_handler_class = GraphQLTransportWSHandler

    def __init__(self, schema: Any, pipeline: Pipeline, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            # The legacy graphql-ws protocol would run operations outside the pipeline.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # Browsers may open the websocket only from our own origin or an allowed one.
            allowed_origins=settings.allowed_origins,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
        )
        self.pipeline = pipeline
        self.settings = settings
        self.shared_streams = SharedStreams()
        self.sessions = Sessions()
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)

    async def get_context(self, request: Any, response: Any) -> Context:
        # The socket's actor comes from connection_init (on_ws_connect).
        actor = replace(ANONYMOUS, client_ip=client_ip(request, self.trusted_proxies))
        return Context.build(request, self.settings, actor, response=response)

    @staticmethod
    def token_of(context: Context) -> str | None:
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        scheme, _, token = header.partition(" ") if isinstance(header, str) else ("", "", "")
        return token.strip() or None if scheme.lower() == "bearer" else None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Subscriptions are for partner members: `connection_init` must carry
        {"authorization": "Bearer <token>"}; anything else closes the socket with 4403."""
        caller = Caller(context.request, self.token_of(context), context.actor.client_ip)
        actor = await self.pipeline.actor(caller)
        if actor.member is None:
            raise ConnectionRejectionError(
                {"message": "A partner member's bearer token is required."}
            )
        context.actor = actor
        context.loaders = type(context.loaders)(actor)
        return UNSET

    def encode_json(self, data: object) -> str:
        # Text, not bytes: browsers' graphql-ws clients only read text frames. orjson writes
        # a compiled read's data (an orjson.Fragment) as the database built it.
        return orjson.dumps(data).decode()

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        return await super().run(request, UNSET, UNSET)
