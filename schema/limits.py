"""Query-shape limits: depth, aliases, tokens, directives and cost, all from Settings.

Each refuses an over-limit operation before any resolver runs, with a message that names
the limit; the pipeline (schema/pipeline.py) applies them to every operation on every route.
Over HTTP a refusal is a request error (400 with graphql-response+json, 200 with plain
JSON), over a websocket an `error` message; never a 5xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from graphql.utilities import value_from_ast
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
)

from config import Settings
from resolvers.pagination import DEFAULT_PAGE_SIZE

# A list without `first`/`last` (Customer.domains, ...) is assumed to hold this many rows.
UNPAGINATED_LIST_ROWS = 5


def shape_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The validation rules of the query-shape limits (depth, aliases, directives, and
    introspection in production), on top of graphql-core's specified rules."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *MaxDirectivesLimiter(settings.max_directives).validation_rules,
    ]
    if settings.production:
        rules += DisableIntrospection().validation_rules
    return rules


class MaxDirectivesLimiter(AddValidationRules):
    """Refuses documents with more than `limit` directive uses (@skip, @include, ...)."""

    def __init__(self, limit: int) -> None:
        class DirectiveCount(ValidationRule):
            def __init__(self, context: ValidationContext) -> None:
                super().__init__(context)
                self.count = 0

            def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
                self.count += 1
                if self.count == limit + 1:
                    self.report_error(
                        GraphQLError(f"Too many directives: at most {limit} are allowed.", node)
                    )

        super().__init__([DirectiveCount])


class CostLimit:
    """Refuses operations whose estimated cost exceeds the ceiling (queries, mutations and
    subscriptions alike: the pipeline asks it for every operation, on every route).

    Cost: every field costs 1, times the rows of every list above it; a list's rows are its
    `first`/`last` argument as the resolver receives it (literals, coerced variables and
    defaults; null or absent means the default page), or UNPAGINATED_LIST_ROWS.
    """

    def __init__(self, schema: GraphQLSchema, ceiling: int) -> None:
        self.schema = schema
        self.ceiling = ceiling

    def refusal(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        coerced_variables: Mapping[str, Any],
    ) -> GraphQLError | None:
        """The error refusing `operation` with these variables, or None if it is cheap enough."""
        cost = CostEstimate(self.schema, fragments, coerced_variables).operation(operation)
        if cost <= self.ceiling:
            return None
        message = f"Query is too expensive: estimated cost {cost} exceeds the limit of {self.ceiling}; ask for fewer rows (first/last) or fields."
        return GraphQLError(message, operation)


class CostEstimate:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self.selections(root, operation.selection_set, set()) if root else 0

    def selections(
        self,
        parent: GraphQLObjectType | Any,
        selection_set: SelectionSetNode | None,
        seen: set[str],
        page_rows: int = 1,
    ) -> int:
        """Cost of a selection set; `page_rows` is the page size when `parent` is a connection."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, seen, page_rows)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self.selections(condition, selection.selection_set, seen, page_rows)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: validation reports it
                    continue
                condition = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(
                    condition, fragment.selection_set, seen | {name}, page_rows
                )
        return total

    def field(self, parent: Any, node: FieldNode, seen: set[str], page_rows: int) -> int:
        name = node.name.value
        fields: dict[str, GraphQLField] = getattr(parent, "fields", {}) or {}
        definition = fields.get(name)
        if name.startswith("__") or definition is None:
            return 0  # introspection is switched off in production instead
        output = definition.type
        while isinstance(output, GraphQLNonNull):
            output = output.of_type
        rows = 1
        if "first" in definition.args or "last" in definition.args:
            # A connection: its page size multiplies what its `edges` select, not pageInfo.
            first = self.argument(node, definition, "first")
            last = self.argument(node, definition, "last")
            page = (
                DEFAULT_PAGE_SIZE if first is None and last is None else max(first or 0, last or 0)
            )
            while isinstance(output, (GraphQLNonNull, GraphQLList)):
                output = output.of_type
            return 1 + self.selections(output, node.selection_set, seen, page_rows=page)
        if isinstance(output, GraphQLList):
            rows = page_rows if name == "edges" else UNPAGINATED_LIST_ROWS
        while isinstance(output, (GraphQLNonNull, GraphQLList)):
            output = output.of_type
        return 1 + rows * self.selections(output, node.selection_set, seen)

    def argument(self, node: FieldNode, definition: GraphQLField, name: str) -> int | None:
        """The argument as the resolver receives it (graphql-core's own coercion of the
        literal, variable or default); None when it is null, absent or not a whole number."""
        argument_type = definition.args.get(name)
        if argument_type is None:
            return None
        given = next((a for a in node.arguments or () if a.name.value == name), None)
        if given is None:
            value = argument_type.default_value
        elif isinstance(given.value, VariableNode) and given.value.name.value not in self.variables:
            value = argument_type.default_value  # an omitted variable leaves the default
        else:
            value = value_from_ast(given.value, argument_type.type, dict(self.variables))
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value
