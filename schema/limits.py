"""Query-shape limits: depth, aliases, tokens, directives and cost, all from Settings.

Each refuses an over-limit operation before any resolver runs, with a message that
names the limit; over HTTP that is a request error (400 with graphql-response+json,
200 with plain JSON), never a 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
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
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from config import Settings
from schema.documents import chosen_operation, fragments_of, with_defaults

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


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories (not instances: those race between requests) for every query-shape limit.

    The validation rules are built once: they are part of ValidationCache's key, and rule
    classes made anew per request (as each limiter's constructor makes them) would miss the
    cache every time, re-validating every document (~2 ms per request).
    """
    rules = shape_rules(settings)
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: QueryCostLimiter(settings.max_query_cost),
    ]


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


class QueryCostLimiter(SchemaExtension):
    """Refuses operations whose estimated cost exceeds the ceiling.

    Cost: every field costs 1, times the rows of every list above it; a list's rows are its
    `first`/`last` argument (variables and defaults included), or UNPAGINATED_LIST_ROWS.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            operation = chosen_operation(document, context.operation_name)
            if operation is not None:
                # Omitted variables count with their defaults (a `$first: Int = 100`).
                variables = with_defaults(operation, context.variables)
                error = self.refusal(context.schema._schema, document, operation, variables)
                if error is not None:
                    context.result = ExecutionResult(data=None, errors=[error])
        yield

    def refusal(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> GraphQLError | None:
        """The error refusing `operation` with these variables, or None if it is cheap enough."""
        cost = CostEstimate(schema, fragments_of(document), variables).operation(operation)
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
            page = max(
                self.argument(node, definition, "first"), self.argument(node, definition, "last"), 0
            )
            while isinstance(output, (GraphQLNonNull, GraphQLList)):
                output = output.of_type
            return 1 + self.selections(output, node.selection_set, seen, page_rows=page)
        if isinstance(output, GraphQLList):
            rows = page_rows if name == "edges" else UNPAGINATED_LIST_ROWS
        while isinstance(output, (GraphQLNonNull, GraphQLList)):
            output = output.of_type
        return 1 + rows * self.selections(output, node.selection_set, seen)

    def argument(self, node: FieldNode, definition: GraphQLField, name: str) -> int:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else 0
            return 0
        arg = definition.args.get(name)
        default = arg.default_value if arg is not None else None
        return default if isinstance(default, int) else 0
