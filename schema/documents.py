"""Reading a parsed GraphQL request: which operation runs, and its fragments."""

from __future__ import annotations

from graphql import DocumentNode, FragmentDefinitionNode, GraphQLError, OperationDefinitionNode


def pick_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | GraphQLError:
    """The operation a request runs, or the error graphql-core's executor would report."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        named = [o for o in operations if o.name and o.name.value == operation_name]
        if not named:
            return GraphQLError(f"Unknown operation named '{operation_name}'.")
        return named[0]
    if len(operations) == 1:
        return operations[0]
    if not operations:
        return GraphQLError("Must provide an operation.")
    return GraphQLError("Must provide operation name if query contains multiple operations.")


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
