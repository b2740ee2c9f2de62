"""The compiled read path: one SQL statement per query, the response JSON built by the database.

graphql-core spends ~6 µs per field resolving objects one by one; a page of customers with
their domains, contracts and tasks is dominated by that, not by SQL or JSON. For queries
whose every selection is understood here, `CompiledReads` writes the selection as SQL that
returns the `data` object as JSON text (json_build_object/json_agg on PostgreSQL,
json_object/json_group_array on SQLite). Anything not understood (another root field, an
unsupported field or argument, a visitor or account token, a request the resolvers would
refuse) is left to the executor, which also produces every error: the two paths answer
identically, which tests/test_compiled.py checks against generated queries.

The package, by job:
- catalog.py: which GraphQL types and fields map to which tables and columns;
- selections.py: reading the operation (fragments, directives, arguments) as the executor does;
- compiler.py: the SQL of each root field, from the read rules (resolvers/read_rules.py);
- dialects.py: the JSON and formatting SQL of PostgreSQL and SQLite.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import BREAK, Visitor, visit
from graphql.execution.values import VariableValues
from tortoise.connection import get_connection

from resolvers.actor import Actor
from resolvers.conditions import NOW
from schema.compiled.compiler import Compiler
from schema.compiled.dialects import DIALECTS, register_sqlite_functions
from schema.compiled.selections import Operation, Unsupported

log = logging.getLogger("partnerdesk.compiled")
# Statements sent past Tortoise are logged here at DEBUG, as Tortoise logs its own on
# "tortoise.db_client" (the tests count statements from both).
sql_log = logging.getLogger("partnerdesk.sql")

Statement = tuple[str, list[Any]]


class CompiledReads:
    """Compiles supported queries for partner members, and runs the statements."""

    def __init__(self, strawberry_schema: Any) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema = strawberry_schema._schema

    def compile(
        self, plan: Any, variables: VariableValues, actor: Actor, token_hash: str | None
    ) -> Statement | None:
        """The one statement answering the plan's query for `actor`, or None when the
        resolvers must answer (unsupported, or not a partner member). With `token_hash` the
        statement checks the token itself (Compiler.statement)."""
        if actor.member is None:
            return None
        make_dialect = DIALECTS.get(get_connection("default").capabilities.dialect)
        if make_dialect is None:
            return None
        collected = plan.memo.setdefault("collected", {}) if plan.fixed_directives else None
        operation = Operation(
            self.schema, self.strawberry_schema, plan.fragments, variables, collected
        )
        fragments = (
            plan.memo.setdefault("fragments", {}) if _variables_at_roots_only(plan) else None
        )
        compiler = Compiler(make_dialect(), operation, actor, fragments)
        try:
            return compiler.statement(plan.operation.selection_set, token_hash)
        except Unsupported:
            return None

    async def run(self, sql: str, params: list[Any]) -> orjson.Fragment | None:
        """The `data` a compiled statement reads; None if it failed or its token check refused
        (the executor answers then)."""
        connection = get_connection("default")
        bound = [datetime.now(UTC) if param is NOW else param for param in params]
        try:
            if connection.capabilities.dialect == "sqlite":
                await register_sqlite_functions(connection)
                _count, rows = await connection.execute_query(sql, bound)
                raw = rows[0]["data"]
            else:
                # asyncpg directly: one value, no row objects (Tortoise's execute_query builds them)
                sql_log.debug("%s: %s", sql, bound)
                async with connection.acquire_connection() as postgres:
                    raw = await postgres.fetchval(sql, *bound)
        except Exception:  # the executor answers instead, with its own errors if any
            log.exception("compiled read failed; falling back to the resolvers: %s", sql)
            return None
        return None if raw is None else orjson.Fragment(raw)


def _variables_at_roots_only(plan: Any) -> bool:
    """Whether every variable of the operation is used in a root field's arguments, so that
    what lies below the roots is the same for every request (kept in plan.memo)."""
    found = plan.memo.get("variables_at_roots_only")
    if found is None:
        found = (
            plan.fixed_directives
            and not any(
                _uses_variables(selection.selection_set)
                for selection in plan.operation.selection_set.selections
            )
            and not any(_uses_variables(fragment) for fragment in plan.fragments.values())
        )
        plan.memo["variables_at_roots_only"] = found
    return bool(found)


def _uses_variables(node: Any) -> bool:
    if node is None:
        return False

    class Finder(Visitor):
        found = False

        def enter_variable(self, *_args: Any) -> Any:
            self.found = True
            return BREAK

    finder = Finder()
    visit(node, finder)
    return finder.found
