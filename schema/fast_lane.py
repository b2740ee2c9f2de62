"""POSTed operations served straight from the HTTP request, before Strawberry's pipeline.

Strawberry's HTTP view runs every request through request parsing, context building, a
dozen extension hooks, result processing and encoding: ~1 ms of Python per request, more
than the SQL of `customer(id)` or of the public inquiry form costs. This lane does only
what the answer depends on, with the same rules:

- once per document text (a bounded LRU cache, like Strawberry's parser and validation
  caches): parse with the token limit, validate with graphql-core's rules plus the same
  shape limits (depth, aliases, directives, introspection in production), and pick the
  operation. Invalid documents are not answered here;
- a query the compiled read path supports, asked by a partner member, is answered by its
  one statement, whose JSON text is the response body (schema/compiled.py). The statement
  is kept per (document, variables, bearer token) and checks the token itself, so a
  repeated dashboard query is one round trip; the variables (checked as graphql-core checks
  them) and the cost limit are applied when it is compiled;
- per request otherwise: look up the bearer token and apply the cost limit;
- any other query or mutation runs on graphql-core's executor directly, with the request
  context Strawberry would build and the same error translation (schema/extensions.py).

Whatever the lane does not answer — a parse or validation error, a cost over the limit,
a subscription, an unusual request body — goes down the ordinary path untouched, which
produces those errors. So clients get the ordinary path's bytes:
the suite runs with the lane on and off (PARTNERDESK_COMPILED_READS), and
tests/test_compiled.py compares the two directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from starlette.requests import Request
from strawberry.execution import optimized_is_awaitable

from config import Settings
from models.partner import PartnerMember
from resolvers.actor import ANONYMOUS, Actor
from resolvers.auth import authenticate, hash_token
from schema.compiled import compile_statement, run_statement
from schema.context import Context
from schema.documents import chosen_operation, fragments_of, request_variables, with_defaults
from schema.extensions import translate_error
from schema.limits import QueryCostLimiter, shape_rules

# A request body with any other key (batches, `extensions`, ...) takes the ordinary path.
REQUEST_KEYS = frozenset({"query", "variables", "operationName"})
EXECUTED_HERE = (OperationType.QUERY, OperationType.MUTATION)

Key = TypeVar("Key")
Value = TypeVar("Value")


class LRU(OrderedDict[Key, Value]):
    """A dict that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def get_or_make(self, key: Key, make: Callable[[], Value]) -> Value:
        held, value = self.find(key)
        if not held:
            value = make()
            self.put(key, value)
        return value  # type: ignore[return-value]  # held: the stored Value

    def put(self, key: Key, value: Value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)

    def find(self, key: Key) -> tuple[bool, Value | None]:
        """(whether `key` is held, its value)."""
        if key in self:
            self.move_to_end(key)
            return True, self[key]
        return False, None


@dataclass(frozen=True, slots=True)
class Plan:
    """A valid query or mutation document, ready to run."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    # Nothing was executed (only errors without a path): a 400 under graphql-response+json.
    request_error: bool = False


class FastLane:
    def __init__(self, schema: Any, settings: Settings) -> None:
        self.strawberry_schema = schema
        self.schema: GraphQLSchema = schema._schema
        self.rules = (*specified_rules, *shape_rules(settings))
        self.max_tokens = settings.max_tokens
        self.hide_suggestions = settings.production
        self.cost = QueryCostLimiter(settings.max_query_cost)
        # (query text, operation name) -> plan, or None for "the ordinary path answers".
        self.plans: LRU[tuple[str, str | None], Plan | None] = LRU(256)
        # (query text, operation name, variables, bearer token hash) -> (SQL, parameters), or
        # None for "not a compiled read".
        self.statements: LRU[tuple[Any, ...], tuple[str, list[Any]] | None] = LRU(1024)

    async def answer(
        self,
        request: Request,
        token: str | None,
        make_context: Callable[[Actor], Context],
    ) -> Answer | None:
        """The response to a POSTed query or mutation, or None for the ordinary path.

        The actor, once looked up, is left in `request.state.actor`, so that the ordinary
        path does not look the token up a second time.
        """
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if type(payload) is not dict or not payload.keys() <= REQUEST_KEYS:
            return None
        query = payload.get("query")
        given = payload.get("variables")
        name = payload.get("operationName")
        if (
            type(query) is not str
            or (given is not None and type(given) is not dict)
            or (name is not None and type(name) is not str)
        ):
            return None
        plan = self.plans.get_or_make((query, name), lambda: self._plan(query, name))
        if plan is None:
            return None
        actor = None
        if token is not None and plan.operation.operation == OperationType.QUERY:
            # A kept statement checks the token itself: no separate look-up (compiled.py).
            token_hash = hash_token(token)
            key = (query, name, orjson.dumps(given, option=orjson.OPT_SORT_KEYS), token_hash)
            held, statement = self.statements.find(key)
            if not held:
                actor = await authenticate(token)
                member = actor.member
                statement = self._compile(plan, given, member, token_hash) if member else None
                self.statements.put(key, statement)
            if statement is not None:
                data = await run_statement(*statement)
                if data is not None:
                    return Answer(b'{"data":' + data.raw.encode() + b"}")
                self.statements.pop(key, None)  # signed out, expired or failed: the ordinary way
        if actor is None:
            actor = await authenticate(token) if token is not None else ANONYMOUS
        request.state.actor = actor
        return await self._execute(plan, name, given, make_context(actor))

    def _compile(
        self, plan: Plan, given: dict[str, Any] | None, member: PartnerMember, token_hash: str
    ) -> tuple[str, list[Any]] | None:
        """The compiled statement; None if the compiler does not support the operation, or
        graphql-core or the cost limit refuses the variables (the executor then reports it)."""
        variables = request_variables(self.schema, plan.operation, given)
        if variables is None or self.cost.refusal(
            self.schema, plan.document, plan.operation, variables
        ):
            return None
        return compile_statement(plan.operation, plan.fragments, variables, member, token_hash)

    async def _execute(
        self, plan: Plan, name: str | None, given: dict[str, Any] | None, context: Context
    ) -> Answer | None:
        """Run the operation on graphql-core's executor, as Strawberry's Schema.execute does
        (none of our schema extensions acts on fields, so they add no middleware)."""
        # graphql-core checks the variables itself (its errors are the ordinary path's).
        variables = with_defaults(plan.operation, given)
        if self.cost.refusal(self.schema, plan.document, plan.operation, variables):
            return None
        outcome = execute(
            self.schema,
            plan.document,
            context_value=context,
            variable_values=given,
            operation_name=name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as Strawberry passes it
            executor_class=self.strawberry_schema.execution_context_class,
            operation_extensions=None,
        )
        result: ExecutionResult = await outcome if isinstance(outcome, Awaitable) else outcome
        response: dict[str, Any] = {"data": result.data}
        errors = [
            translate_error(error, context.request_id, self.hide_suggestions)
            for error in result.errors or ()
        ]
        if errors:
            response["errors"] = [error.formatted for error in errors]
        request_error = result.data is None and bool(errors) and all(e.path is None for e in errors)
        return Answer(orjson.dumps(response), request_error)

    def _plan(self, query: str, operation_name: str | None) -> Plan | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operation = chosen_operation(document, operation_name)
        if operation is None or operation.operation not in EXECUTED_HERE:
            return None
        return Plan(document, operation, fragments_of(document))
