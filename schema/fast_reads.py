"""The compiled read path served straight from the HTTP request, before Strawberry's pipeline.

CompiledReads (schema/compiled.py) spares a query graphql-core's executor, but the request
still passes Strawberry's HTTP view: request parsing, context, a dozen extension hooks,
result processing and encoding, ~0.5 ms of Python per request — more than the SQL of
`customer(id)` costs. For a POSTed query the compiled path can answer, this lane does only
what the answer depends on:

- per request: look up the bearer token, then run the one compiled statement, whose JSON
  text is the response body;
- once per document text (a bounded LRU cache, like Strawberry's parser and validation
  caches): parse with the token limit, validate with graphql-core's rules plus the same
  shape limits (depth, aliases, directives, introspection in production), pick the operation;
- once per (document, variables, member), also in a bounded LRU cache: check the variables
  as graphql-core does, apply the cost limit and compile the statement. All of that depends
  on nothing else, so a dashboard asking the same thing again costs one token look-up and
  one statement; the statement's "now" is bound when it runs.

Everything else — a parse or validation error, a mutation, bad variables, a cost over the
limit, a visitor or an account holder, a selection the compiler does not support — goes
down the ordinary path untouched, which produces every error and every other answer. The
bytes a client receives are the ordinary path's own (tests run with compiled reads on and
off, and tests/test_fast_reads.py compares this lane with the ordinary path directly).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from starlette.requests import Request

from config import Settings
from models.partner import PartnerMember
from resolvers.auth import authenticate
from schema.compiled import compile_statement, run_statement
from schema.documents import chosen_operation, fragments_of, request_variables
from schema.limits import QueryCostLimiter, shape_rules

# A request body with any other key (batches, `extensions`, ...) takes the ordinary path.
REQUEST_KEYS = frozenset({"query", "variables", "operationName"})

Key = TypeVar("Key")
Value = TypeVar("Value")


class LRU(OrderedDict[Key, Value]):
    """A dict that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def get_or_make(self, key: Key, make: Callable[[], Value]) -> Value:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.capacity:
            self.popitem(last=False)
        return value


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """A valid query document, ready for the compiler."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]


class FastReads:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *shape_rules(settings))
        self.max_tokens = settings.max_tokens
        self.cost = QueryCostLimiter(settings.max_query_cost)
        # (query text, operation name) -> plan, or None for "not a valid query".
        self.plans: LRU[tuple[str, str | None], ReadPlan | None] = LRU(256)
        # (query text, operation name, variables, member, partner) -> (SQL, parameters), or
        # None for "the ordinary path answers this".
        self.statements: LRU[tuple[Any, ...], tuple[str, list[Any]] | None] = LRU(1024)

    async def answer(self, request: Request, token: str | None) -> bytes | None:
        """The response body for a POSTed query the compiled path answers, else None.

        The actor, once looked up, is left in `request.state.actor`, so that the ordinary
        path does not look the token up a second time.
        """
        if token is None:
            return None  # visitors: the compiled path serves members only
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
        actor = await authenticate(token)
        request.state.actor = actor
        member = actor.member
        if member is None:
            return None
        key = (query, name, orjson.dumps(given, option=orjson.OPT_SORT_KEYS), member.id)
        statement = self.statements.get_or_make(
            (*key, member.partner_id), lambda: self._compile(query, name, given, member)
        )
        if statement is None:
            return None
        data = await run_statement(*statement)
        return None if data is None else b'{"data":' + data.raw.encode() + b"}"

    def _compile(
        self, query: str, name: str | None, given: dict[str, Any] | None, member: PartnerMember
    ) -> tuple[str, list[Any]] | None:
        plan = self.plans.get_or_make((query, name), lambda: self._plan(query, name))
        if plan is None:
            return None
        variables = request_variables(self.schema, plan.operation, given)
        if variables is None:
            return None
        if self.cost.refusal(self.schema, plan.document, plan.operation, variables):
            return None
        return compile_statement(plan.operation, plan.fragments, variables, member)

    def _plan(self, query: str, operation_name: str | None) -> ReadPlan | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operation = chosen_operation(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        return ReadPlan(document, operation, fragments_of(document))
