"""The schema documents itself: every type, field, argument, input field and enum value has a
one-line description (issue 15), and every mutation says who may call it.

`make lint-schema` (part of `make lint`) runs graphql-schema-linter's *-have-descriptions and
Relay rules on the same exported schema (tools/package.json).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)

from config import Settings
from resolvers.permissions import MUTATION_AUDIENCES
from schema import create_schema

BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}

pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]


def schema_elements(schema: GraphQLSchema) -> Iterator[tuple[str, str | None]]:
    """(coordinate, description) of every element a frontend developer reads about."""
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in BUILT_IN_SCALARS:
            continue
        yield name, named.description
        yield from members(named)


def members(named: GraphQLNamedType) -> Iterator[tuple[str, str | None]]:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for field_name, field in named.fields.items():
            yield f"{named.name}.{field_name}", field.description
            for argument_name, argument in field.args.items():
                yield f"{named.name}.{field_name}({argument_name}:)", argument.description
    elif isinstance(named, GraphQLInputObjectType):
        for field_name, input_field in named.fields.items():
            yield f"{named.name}.{field_name}", input_field.description
    elif isinstance(named, GraphQLEnumType):
        for value_name, value in named.values.items():
            yield f"{named.name}.{value_name}", value.description
    else:
        assert isinstance(named, GraphQLScalarType | GraphQLUnionType), named


def missing_descriptions() -> tuple[list[str], int]:
    elements = list(schema_elements(create_schema(Settings())._schema))
    missing = [
        coordinate for coordinate, description in elements if not (description or "").strip()
    ]
    return missing, len(elements)


def test_the_walk_finds_every_kind_of_element() -> None:
    coordinates = {
        coordinate for coordinate, _ in schema_elements(create_schema(Settings())._schema)
    }
    assert {
        "UserError",
        "UserError.field",
        "Query.customers(first:)",
        "ErrorCode.NOT_FOUND",
    } <= coordinates


def test_every_schema_element_has_a_description() -> None:
    missing, total = missing_descriptions()
    coverage = (1000 * (total - len(missing)) // total) / 10  # rounded down: 99.9, never 100
    shown = "\n  ".join(missing[:40])
    assert not missing, (
        f"{total - len(missing)} of {total} schema elements have a description ({coverage}%); "
        f"{len(missing)} missing, first ones:\n  {shown}"
    )


def test_descriptions_are_one_line() -> None:
    # GraphiQL's docs pane shows a description as one paragraph; a line break in the Python
    # source's string (a missing space at a join) would show as a wrapped or glued word.
    broken = [
        coordinate
        for coordinate, description in schema_elements(create_schema(Settings())._schema)
        if description and ("\n" in description or "  " in description)
    ]
    assert broken == []


def test_every_mutation_says_who_may_call_it() -> None:
    mutation_type = create_schema(Settings())._schema.mutation_type
    assert mutation_type is not None
    undocumented = [
        name
        for name, field in mutation_type.fields.items()
        if not (field.description or "").endswith(
            f"Who may call it: {MUTATION_AUDIENCES[name].value}."
        )
    ]
    assert undocumented == []
