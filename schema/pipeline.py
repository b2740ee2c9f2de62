"""The request pipeline: what every GraphQL operation goes through, whatever route it took.

Operations arrive by three routes: POST and GET /graphql (schema/http.py) and `subscribe`
messages on a websocket (schema/websocket.py). Each route turns its transport into a
`GraphQLRequest` and a `Caller`, then calls this one object for every step:

1. `prepare`: parse (with the token limit) and validate (graphql-core's rules and the shape
   limits: depth, aliases, directives, introspection in production), once per document
   text; pick the operation; coerce the variables as graphql-core does; estimate the cost
   from those coerced values (schema/limits.py). A refusal is a `RequestError`: nothing ran.
2. `actor`: who is calling, from the bearer token (the only token look-up there is).
3. `execute` / `subscribe`: a compiled read (schema/compiled/) when it supports the query,
   else graphql-core's executor; every error translated as clients see it
   (schema/errors.py: domain errors keep their code, server faults are masked and logged).

A compiled statement is kept per (document, variables, token) and checks the token itself,
so a repeated dashboard query costs one round trip; any doubt (a signed-out token, a
failure) and the operation runs the ordinary way.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import orjson
from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
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

Key = TypeVar("Key")
Value = TypeVar("Value")


class LRU(OrderedDict[Key, Value], Generic[Key, Value]):
    """A dict that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def find(self, key: Key) -> tuple[bool, Value | None]:
        """(whether `key` is held, its value)."""
        if key in self:
            self.move_to_end(key)
            return True, self[key]
        return False, None

    def put(self, key: Key, value: Value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """One operation as a client sent it, whatever the transport."""

    query: str | None
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None


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

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request that passed every check: its plan, and its variables as sent and coerced."""

    request: GraphQLRequest
    plan: Plan
    variables: VariableValues


class RequestError(Exception):
    """The request was refused before anything ran (parse, validation, variables, limits)."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


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
    """The variables as a cache key: the same for the same values, whatever their order."""
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
        self.statements: LRU[tuple[Any, ...], tuple[str, list[Any]] | None] = LRU(1024)
        # token hash -> the member it signed in, for compiling only: a compiled statement
        # checks its token itself (valid_token), so a member signed out since reads nothing.
        # Never used to run anything else on the caller's behalf.
        self.readers: LRU[str, Actor] = LRU(4096)

    # ------------------------------------------------------------ 1. prepare

    def prepare(self, request: GraphQLRequest) -> Prepared:
        """The checked request; RequestError with the reasons otherwise."""
        if not request.query:
            raise RequestError([GraphQLError("No GraphQL query found in the request.")])
        key = (request.query, request.operation_name)
        held, plan = self.plans.find(key)
        if not held:
            plan = self._plan(request.query, request.operation_name)
            self.plans.put(key, plan)
        if isinstance(plan, list):
            raise RequestError(plan)
        assert plan is not None
        definitions = plan.operation.variable_definitions or ()
        variables = get_variable_values(
            self.schema,
            definitions,
            dict(request.variables or {}),
            max_errors=50,
            hide_suggestions=self.hide_suggestions,
        )
        if isinstance(variables, list):
            raise RequestError([self._client_facing(error) for error in variables])
        refusal = self.cost.refusal(plan.operation, plan.fragments, variables.coerced)
        if refusal is not None:
            raise RequestError([refusal])
        return Prepared(request, plan, variables)

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
        return Plan(document, operation, fragments_of(document), _fixed_directives(document))

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
        return Context.build(caller.connection, self.settings, actor)

    # ------------------------------------------------------------ 3. run

    async def execute(self, prepared: Prepared, caller: Caller) -> Result:
        """Run a query or mutation: compiled when it can be, else graphql-core's executor."""
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
        held, statement = self.statements.find(key)
        if not held:
            actor = await self._reader(caller, token_hash)
            statement = self.compiled.compile(prepared.plan, prepared.variables, actor, token_hash)
            self.statements.put(key, statement)
        if statement is None:
            return None
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
