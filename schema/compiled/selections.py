"""Reading an operation the way graphql-core's executor does: fields, fragments, directives,
and arguments converted to exactly the Python values the resolvers receive.

Arguments go through graphql-core's coercion and then Strawberry's conversion (input
objects, enums, scalars), so the compiler calls the same functions with the same values as
the resolvers do (e.g. schema/customer_inputs.py `customer_list`) and both paths mean the
same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments


class Unsupported(Exception):
    """The operation needs the ordinary resolvers."""


@dataclass
class Selected:
    """One response key: the field, its arguments, and the merged sub-selection."""

    name: str
    node: FieldNode
    children: list[FieldNode] = field(default_factory=list)

    def sub_selections(self) -> list[SelectionSetNode | None]:
        return [child.selection_set for child in self.children]


class Operation:
    """One operation's document, fragments and coerced variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        strawberry_schema: Any,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        collected: dict[Any, dict[str, Selected]] | None = None,
    ) -> None:
        self.schema = schema
        self.strawberry_schema = strawberry_schema
        self.fragments = fragments
        self.variables = variables
        # Collected selections, kept across compiles of one document when no directive
        # depends on a variable (the usual case): collecting is a third of compiling.
        self.collected = collected

    def collect(
        self, type_name: str, selection_sets: list[SelectionSetNode | None]
    ) -> dict[str, Selected]:
        """Response key -> field, merged across fragments and duplicates, in document order."""
        if self.collected is None:
            return self._collect(type_name, selection_sets)
        key = (type_name, *map(id, selection_sets))
        found = self.collected.get(key)
        if found is None:
            found = self.collected[key] = self._collect(type_name, selection_sets)
        return found

    def _collect(
        self, type_name: str, selection_sets: list[SelectionSetNode | None]
    ) -> dict[str, Selected]:
        collected: dict[str, Selected] = {}

        def visit(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> None:
            if selection_set is None:
                return
            for selection in selection_set.selections:
                if not self.included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    entry = collected.get(key)
                    if entry is None:
                        collected[key] = entry = Selected(selection.name.value, selection)
                    entry.children.append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if self.applies(condition.name.value if condition else None, type_name):
                        visit(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        raise Unsupported("unknown fragment")
                    if self.applies(fragment.type_condition.name.value, type_name):
                        visit(fragment.selection_set, seen | {name})

        for selection_set in selection_sets:
            visit(selection_set, frozenset())
        return collected

    @staticmethod
    def applies(condition: str | None, type_name: str) -> bool:
        if condition is None or condition == type_name or condition == "Node":
            return True
        raise Unsupported(f"fragment on {condition}")

    def included(self, selection: Any) -> bool:
        """@skip and @include, as the executor reads them; any other directive: unsupported."""
        for directive in selection.directives or ():
            if directive.name.value not in ("skip", "include"):
                raise Unsupported(f"@{directive.name.value}")
        skip = get_directive_values(GraphQLSkipDirective, selection, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, selection, self.variables)
        return not (include and include.get("if") is False)

    def arguments(self, type_name: str, selected: Selected) -> dict[str, Any]:
        """The field's arguments as its resolver receives them (Python names and values).

        A field selected twice under one response key with different arguments is left to
        the executor (which reports the conflict or merges it its own way).
        """
        node = selected.node
        if any(child.arguments != node.arguments for child in selected.children[1:]):
            raise Unsupported("differing arguments")
        parent = self.schema.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType)
        definition = parent.fields[node.name.value]
        if not definition.args:
            return {}  # most fields take none: nothing to coerce
        raw = get_argument_values(definition, node, self.variables)
        strawberry_field = definition.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if strawberry_field is None:
            raise Unsupported("a field without a Strawberry definition")
        converter = self.strawberry_schema.schema_converter
        return convert_arguments(
            raw,
            strawberry_field.arguments,
            scalar_registry=converter.scalar_registry,
            config=self.strawberry_schema.config,
        )
