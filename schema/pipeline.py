"""The request pipeline: what every GraphQL operation goes through, whatever route it took.

Operations arrive by three routes: POST and GET /graphql (schema/http.py) and `subscribe`
messages on a websocket (schema/websocket.py). Each route turns its transport into a
`GraphQLRequest` and a `Caller`, then calls this one object for every step:

1. `prepare`: find the document (sent in full, or persisted: schema/persisted.py); parse
   (with the token limit) and validate (graphql-core's rules and the shape limits: depth,
   aliases, directives, introspection in production), once per document text; pick the
   operation; coerce the variables as graphql-core does; estimate the cost from those
   coerced values (schema/limits.py). A refusal is a `RequestError`: nothing ran.
2. `actor`: who is calling, from the bearer token (the only token look-up there is).
3. `execute` / `subscribe`: a compiled read (schema/compiled/) when it supports the query,
   else graphql-core's executor; every error translated as clients see it
   (schema/errors.py: domain errors keep their code, server faults are masked and logged).

A compiled statement is kept per (document, variables, token) and checks the token itself,
so a repeated dashboard query costs one round trip; any doubt (a signed-out token, a
failure) and the operation runs the ordinary way.

Every operation is observed here, once (telemetry/): its metrics and log line when it ends
(`OperationTelemetry`), and, when tracing is on, its span with the request id.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    execute,
    parse,
    specified_rules,
    subscribe,
    validate,
    visit,
)
from graphql.execution.values import VariableValues, get_variable_values
from starlette.requests import HTTPConnection
from strawberry.execution import optimized_is_awaitable

from config import Settings
from resolvers.actor import ANONYMOUS, Actor
from resolvers.auth import authenticate, hash_token
from schema.compiled import CompiledReads
from schema.context import Context
from schema.documents import fragments_of, pick_operation
from schema.errors import translate_error
from schema.limits import CostLimit, shape_rules
from schema.lru import LRU
from schema.persisted import DocumentRefused, PersistedDocuments, load_manifest
from telemetry import metrics, tracing
from telemetry.logs import new_request_id, request_id_of
from telemetry.operations import OperationTelemetry


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """One operation as a client sent it, whatever the transport."""

    query: str | None
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None
    # Persisted documents (schema/persisted.py): the request may name its document instead.
    extensions: Mapping[str, Any] | None = None
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A valid document and the operation a request runs from it."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    # No @skip/@include reads a variable: what is selected is the same for every request.
    fixed_directives: bool = True
    # Work done once per plan and kept with it (e.g. the compiler's collected selections).
    memo: dict[str, Any] = field(default_factory=dict)
    label: str = "anonymous"  # the operation's metrics label (bounded: telemetry/metrics.py)

    @property
    def name(self) -> str | None:
        return self.operation.name.value if self.operation.name else None

    @property
    def title(self) -> str:
        """What log lines and spans call the operation: its name, else its root fields."""
        if self.operation.name:
            return self.operation.name.value
        fields = [
            selection.name.value
            for selection in self.operation.selection_set.selections
            if isinstance(selection, FieldNode)
        ]
        return "{" + ",".join(fields) + "}" if fields else "anonymous"

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request that passed every check: its plan, and its variables as sent and coerced."""

    request: GraphQLRequest
    plan: Plan
    variables: VariableValues
    started: float = 0.0  # time.perf_counter() when the request reached the pipeline


# An exception escaped the operation: counted as a fault (schema/errors.py logs the detail).
FAULT = GraphQLError("Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"})
SLOW_RESOLVERS = [tracing.slow_resolvers]


class RequestError(Exception):
    """The request was refused before anything ran (parse, validation, variables, limits)."""

    def __init__(self, errors: list[GraphQLError], plan: Plan | None = None) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors
        self.plan = plan  # when the document was valid (its variables or cost were not)

    @property
    def kind(self) -> str | None:
        return self.plan.kind.value if self.plan is not None else None

    @property
    def label(self) -> str:
        return self.plan.label if self.plan is not None else "anonymous"


@dataclass(slots=True)
class Result:
    """What an operation produced: `data` may be JSON the database built (orjson.Fragment)."""

    data: dict[str, Any] | orjson.Fragment | None
    errors: list[GraphQLError] = field(default_factory=list)

    def formatted(self) -> dict[str, Any]:
        response: dict[str, Any] = {"data": self.data}
        if self.errors:
            response["errors"] = [error.formatted for error in self.errors]
        return response


def _fixed_directives(document: DocumentNode) -> bool:
    """Whether no directive argument in the document is a variable."""
    found = False

    class Finder(Visitor):
        def enter_directive(self, node: Any, *_args: Any) -> Any:
            nonlocal found
            if any(isinstance(argument.value, VariableNode) for argument in node.arguments or ()):
                found = True
                return BREAK
            return None

    visit(document, Finder())
    return not found


def variables_key(variables: Mapping[str, Any] | None) -> bytes:
    """The variables as a cache key: the same for the same values, whatever their order
    (and for none sent and `{}`)."""
    variables = variables or {}
    try:
        return orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # text orjson will not write (a lone surrogate): JSON escapes it
        return json.dumps(variables, sort_keys=True).encode()


@dataclass(slots=True)
class Caller:
    """Who sends an operation, and over which connection (for the request context)."""

    connection: HTTPConnection
    token: str | None
    client_ip: str | None
    actor: Actor | None = None  # once known (a websocket knows it from connection_init)
    transport: str = "http"  # or "websocket"
    request_id: str = ""  # given by the pipeline (HTTP: shared with the tracing middleware)
    known_partner_id: int | None = None  # from a kept compiled statement, without the actor

    @property
    def partner_id(self) -> int | None:
        """The calling member's partner (for log lines), if known without a look-up."""
        if self.actor is None:
            return self.known_partner_id
        return self.actor.member.partner_id if self.actor.member is not None else None


class Pipeline:
    def __init__(self, schema: Any, settings: Settings) -> None:
        self.strawberry_schema = schema
        self.schema: GraphQLSchema = schema._schema
        self.settings = settings
        self.rules = (*specified_rules, *shape_rules(settings))
        self.cost = CostLimit(self.schema, settings.max_query_cost)
        self.hide_suggestions = settings.production
        self.compiled = CompiledReads(schema) if settings.compiled_reads else None
        # (query text, operation name) -> plan, or the errors refusing it.
        self.plans: LRU[tuple[str, str | None], Plan | list[GraphQLError]] = LRU(256)
        # (query, operation name, variables, token hash) -> kept compiled statement, or None
        # for "not a compiled read".
        # The caller's partner is kept with it, for the log line (no actor look-up on a hit).
        self.statements: LRU[tuple[Any, ...], tuple[tuple[str, list[Any]] | None, int | None]] = (
            LRU(1024)
        )
        # token hash -> the member it signed in, for compiling only: a compiled statement
        # checks its token itself (valid_token), so a member signed out since reads nothing.
        # Never used to run anything else on the caller's behalf.
        self.readers: LRU[str, Actor] = LRU(4096)
        manifest = load_manifest(settings.trusted_documents) if settings.trusted_documents else {}
        self.documents = PersistedDocuments(manifest, settings.trusted_documents_only)
        self.telemetry = OperationTelemetry()
        for text in manifest.values():  # trusted documents' names get their labels first
            self._name_operations(text)

    # ------------------------------------------------------------ 1. prepare

    def prepare(self, request: GraphQLRequest, caller: Caller | None = None) -> Prepared:
        """The checked request; RequestError with the reasons otherwise (counted and logged)."""
        started = time.perf_counter()
        try:
            return self._prepare(request, started)
        except RequestError as refused:
            if caller is not None:
                self.telemetry.refused(
                    kind=refused.kind,
                    label=refused.label,
                    title=refused.plan.title if refused.plan is not None else "(invalid)",
                    errors=refused.errors,
                    seconds=time.perf_counter() - started,
                    request_id=self.request_id(caller),
                    transport=caller.transport,
                )
            raise

    def _prepare(self, request: GraphQLRequest, started: float) -> Prepared:
        try:
            query, register_as = self.documents.document(
                request.query, request.extensions, request.document_id
            )
        except DocumentRefused as refused:
            raise RequestError([refused.error]) from None
        if not query:
            raise RequestError([GraphQLError("No GraphQL query found in the request.")])
        if query is not request.query:
            request = replace(request, query=query)
        key = (query, request.operation_name)
        held, plan = self.plans.find(key)
        if not held:
            plan = self._plan(query, request.operation_name)
            self.plans.put(key, plan)
        if isinstance(plan, list):
            raise RequestError(plan)
        assert plan is not None
        if register_as is not None:  # an APQ registration, now known to be a valid document
            self.documents.register(register_as, query)
        definitions = plan.operation.variable_definitions or ()
        variables = get_variable_values(
            self.schema,
            definitions,
            dict(request.variables or {}),
            max_errors=50,
            hide_suggestions=self.hide_suggestions,
        )
        if isinstance(variables, list):
            errors = [self._client_facing(error) for error in variables]
            raise RequestError(errors, plan)
        refusal = self.cost.refusal(plan.operation, plan.fragments, variables.coerced)
        if refusal is not None:
            raise RequestError([refusal], plan)
        return Prepared(request, plan, variables, started)

    def _plan(self, query: str, operation_name: str | None) -> Plan | list[GraphQLError]:
        try:
            document = parse(query, max_tokens=self.settings.max_tokens)
        except GraphQLError as error:
            return [error]
        except RecursionError:
            return [GraphQLError("The document is nested too deeply to be read.")]
        errors = validate(self.schema, document, self.rules, hide_suggestions=self.hide_suggestions)
        if errors:
            return [self._client_facing(error) for error in errors]
        operation = pick_operation(document, operation_name)
        if isinstance(operation, GraphQLError):
            return [operation]
        label = self.telemetry.names.label(operation.name.value if operation.name else None)
        return Plan(
            document, operation, fragments_of(document), _fixed_directives(document), label=label
        )

    def _name_operations(self, text: str) -> None:
        try:
            document = parse(text, max_tokens=self.settings.max_tokens)
        except GraphQLError:
            return  # refused when it is sent, like any invalid document
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                self.telemetry.names.label(definition.name.value)

    def _client_facing(self, error: GraphQLError) -> GraphQLError:
        return translate_error(error, "-", self.hide_suggestions)

    # ------------------------------------------------------------ 2. who is calling

    async def actor(self, caller: Caller) -> Actor:
        """The caller's actor, looked up from the bearer token once per caller."""
        if caller.actor is None:
            found = await authenticate(caller.token) if caller.token else ANONYMOUS
            caller.actor = replace(found, client_ip=caller.client_ip)
        return caller.actor

    def context(self, caller: Caller, actor: Actor) -> Context:
        return Context.build(caller.connection, self.settings, actor, self.request_id(caller))

    @staticmethod
    def request_id(caller: Caller) -> str:
        """The caller's request id: per HTTP request, per websocket operation."""
        if not caller.request_id:
            scope = caller.connection.scope
            caller.request_id = (
                request_id_of(scope) if scope["type"] == "http" else new_request_id()
            )
        return caller.request_id

    # ------------------------------------------------------------ 3. run

    async def execute(self, prepared: Prepared, caller: Caller) -> Result:
        """Run a query or mutation, observed: its metrics, log line and (if on) span."""
        tracer = tracing.current()
        errors: list[GraphQLError] = []
        try:
            if tracer is None:
                result = await self._execute(prepared, caller)
            else:
                with tracer.start_as_current_span(
                    f"{prepared.plan.kind.value} {prepared.plan.title}",
                    attributes={
                        "graphql.operation.type": prepared.plan.kind.value,
                        "graphql.operation.name": prepared.plan.name or "",
                        "partnerdesk.request_id": self.request_id(caller),
                    },
                ):
                    result = await self._execute(prepared, caller)
            errors = result.errors
            return result
        except BaseException:
            errors = [FAULT]
            raise
        finally:
            self.telemetry.finished(
                kind=prepared.plan.kind.value,
                label=prepared.plan.label,
                title=prepared.plan.title,
                errors=errors,
                seconds=time.perf_counter() - prepared.started,
                request_id=self.request_id(caller),
                transport=caller.transport,
                partner_id=caller.partner_id,
            )

    async def _execute(self, prepared: Prepared, caller: Caller) -> Result:
        """A compiled read when it can be, else graphql-core's executor."""
        if self.compiled is not None and prepared.plan.kind == OperationType.QUERY:
            data = await self._compiled(prepared, caller)
            if data is not None:
                return Result(data)
        actor = await self.actor(caller)
        context = self.context(caller, actor)
        outcome = execute(
            self.schema,
            prepared.plan.document,
            context_value=context,
            variable_values=dict(prepared.request.variables or {}),
            operation_name=prepared.request.operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as Strawberry passes it
            executor_class=self.strawberry_schema.execution_context_class,
            middleware=SLOW_RESOLVERS if tracing.current() is not None else None,
        )
        result: ExecutionResult = await outcome if isinstance(outcome, Awaitable) else outcome
        return self._translated(result, context)

    async def _compiled(self, prepared: Prepared, caller: Caller) -> orjson.Fragment | None:
        """The compiled read's data, or None when the executor must answer."""
        assert self.compiled is not None
        if caller.token is None and caller.actor is None:
            return None  # visitors' reads are refused or tiny: the executor answers them
        request = prepared.request
        token_hash = hash_token(caller.token) if caller.token else None
        key = (request.query, request.operation_name, variables_key(request.variables), token_hash)
        _held, kept = self.statements.find(key)
        if kept is None:
            actor = await self._reader(caller, token_hash)
            caller.known_partner_id = actor.member.partner_id if actor.member else None
            statement = self.compiled.compile(prepared.plan, prepared.variables, actor, token_hash)
            self.statements.put(key, (statement, caller.partner_id))
        else:
            statement, caller.known_partner_id = kept
        if statement is None:
            return None
        with tracing.statement_span(statement[0]):
            data = await self.compiled.run(*statement)
        if data is None:  # signed out, expired or failed: the ordinary way
            self.statements.pop(key, None)
            if token_hash is not None:
                self.readers.pop(token_hash, None)
        return data

    async def _reader(self, caller: Caller, token_hash: str | None) -> Actor:
        """Who a statement is compiled for: the caller's member, looked up once per token."""
        if caller.actor is not None or token_hash is None:
            return await self.actor(caller)
        held, actor = self.readers.find(token_hash)
        if not held or actor is None:
            actor = await self.actor(caller)
            if actor.member is not None:
                self.readers.put(token_hash, actor)
        return actor

    @contextlib.contextmanager
    def subscription(self, prepared: Prepared, caller: Caller) -> Iterator[None]:
        """Observe a subscription while it runs: counted and logged once, and active meanwhile."""
        self.telemetry.subscription_started(
            label=prepared.plan.label,
            title=prepared.plan.title,
            request_id=self.request_id(caller),
            partner_id=caller.partner_id,
        )
        metrics.SUBSCRIPTIONS.inc()
        try:
            yield
        finally:
            metrics.SUBSCRIPTIONS.dec()

    async def subscribe(self, prepared: Prepared, context: Context) -> AsyncIterator[Result]:
        """A subscription's results, each with its errors translated."""
        outcome = subscribe(
            self.schema,
            prepared.plan.document,
            context_value=context,
            variable_values=dict(prepared.request.variables or {}),
            operation_name=prepared.request.operation_name,
            executor_class=self.strawberry_schema.execution_context_class,
        )
        source = await outcome if isinstance(outcome, Awaitable) else outcome
        if isinstance(source, ExecutionResult):
            yield self._translated(source, context)
            return
        try:
            async for result in source:
                yield self._translated(result, context)
        finally:
            await source.aclose()  # type: ignore[attr-defined]

    def _translated(self, result: ExecutionResult, context: Context) -> Result:
        errors = [
            translate_error(error, context.request_id, self.hide_suggestions)
            for error in result.errors or ()
        ]
        return Result(result.data, errors)
