"""Python enums as GraphQL enums, with a description for the enum and for each of its values.

Most enums the API shows live below schema/ (models/, resolvers/), where they are data and
know nothing of GraphQL; what each value means to a client is said here, in the schema
layer, when the enum is registered with Strawberry. (`strawberry.enum_value` would put the
descriptions into the enum's own class, and a StrEnum's values must be plain strings.)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

EnumT = TypeVar("EnumT", bound=type[Enum])


def register_enum(enum: EnumT, description: str, values: Mapping[str, str]) -> EnumT:
    """Register `enum` as a GraphQL enum described by `description`, each value by `values`
    (member name -> description). Every member needs one and no other name may appear, so a
    member added later without a description stops the server at start (ValueError)."""
    names = [member.name for member in enum]
    missing = [name for name in names if name not in values]
    unknown = [name for name in values if name not in names]
    if missing or unknown:
        raise ValueError(
            f"{enum.__name__}: describe every value and only those "
            f"(missing: {missing or 'none'}, unknown: {unknown or 'none'})"
        )
    definition: StrawberryEnumDefinition | None = getattr(enum, "__strawberry_definition__", None)
    if definition is None:
        strawberry.enum(enum, description=description)
        definition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    elif definition.description is not None:
        raise ValueError(f"{enum.__name__} is registered twice")
    else:
        # Strawberry registered it on its own already, plainly, where an annotation met it
        # before this module did (an Annotated argument is read at once): describe that one.
        definition.description = description
    assert definition is not None
    for value in definition.values:
        value.description = values[value.name]
    return enum
