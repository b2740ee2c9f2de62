"""Strawberry input objects -> plain mappings for resolvers/, keeping only the fields given.

"Not given" and "given as null" differ for patches (null clears a field), so UNSET
fields are left out and explicit nulls are kept.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from strawberry import UNSET


def given_fields(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: given_fields(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not UNSET
        }
    if isinstance(value, list):
        return [given_fields(item) for item in value]
    return value
