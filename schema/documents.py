"""Reading a parsed GraphQL request: which operation runs, its fragments, its variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import value_from_ast_untyped


def chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs: the named one, or the only one; None if ambiguous."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return operations[0] if len(operations) == 1 else None


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def with_defaults(
    operation: OperationDefinitionNode, given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The request's variables with the defaults of omitted ones filled in, unchecked."""
    variables = dict(given or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables and definition.default_value is not None:
            variables[name] = value_from_ast_untyped(definition.default_value)
    return variables


def request_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, given: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The request's variables as JSON values, defaults of omitted ones filled in.

    None when graphql-core would refuse them (a missing required variable, a wrong type):
    code that reads variables without graphql-core's executor (the compiled read path) then
    leaves the request to the executor, which reports the error.
    """
    definitions = operation.variable_definitions or ()
    coerced = get_variable_values(schema, definitions, dict(given or {}), max_errors=1)
    return None if isinstance(coerced, list) else with_defaults(operation, given)
