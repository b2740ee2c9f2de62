"""Row conditions declared as data, rendered as a Tortoise filter or as SQL.

The read rules (resolvers/read_rules.py) say which rows a list, a count or a page holds
once, as conditions; the resolvers run them through Tortoise (`to_q`) and the compiled read
path writes them into its one SQL statement (`to_sql`). Both renderings live here, side by
side, so that a condition means the same thing on both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from tortoise.expressions import Q


class _Now:
    """The moment the query runs: bound when it is sent, so a kept statement stays right."""

    def __repr__(self) -> str:
        return "NOW"


NOW = _Now()

Operator = Literal["=", "<", "<=", ">", ">="]
_LOOKUPS = {"=": "", "<": "__lt", "<=": "__lte", ">": "__gt", ">=": "__gte"}


@dataclass(frozen=True)
class Compare:
    """`column <op> value`."""

    column: str
    op: Operator
    value: Any


@dataclass(frozen=True)
class OneOf:
    """`column IN (values)`."""

    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class IsNull:
    """`column IS NULL` (or, with null=False, IS NOT NULL)."""

    column: str
    null: bool = True


@dataclass(frozen=True)
class Contains:
    """`column` contains `text` literally (LIKE with %, _ and \\ escaped)."""

    column: str
    text: str
    ignore_case: bool = False


@dataclass(frozen=True)
class AnyOf:
    """At least one of the conditions (OR)."""

    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        # Tortoise reads an empty OR as "no condition", SQL as "false": never build one.
        if not self.conditions:
            raise ValueError("AnyOf needs at least one condition")


@dataclass(frozen=True)
class AllOf:
    """Every one of the conditions (AND)."""

    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError("AllOf needs at least one condition")


Condition = Compare | OneOf | IsNull | Contains | AnyOf | AllOf


def equals(**columns: Any) -> tuple[Condition, ...]:
    """`column = value` for each keyword: the common case, briefly."""
    return tuple(Compare(column, "=", value) for column, value in columns.items())


# ---------------------------------------------------------------- Tortoise


def _plain(value: Any) -> Any:
    if value is NOW:
        return datetime.now(UTC)
    return value.value if isinstance(value, Enum) else value


def to_q(conditions: Iterable[Condition]) -> Q:
    """All `conditions` as one Tortoise filter."""
    return Q(*[_q(condition) for condition in conditions], join_type=Q.AND)


def _q(condition: Condition) -> Q:
    lookup: dict[str, Any]
    if isinstance(condition, Compare):
        lookup = {condition.column + _LOOKUPS[condition.op]: _plain(condition.value)}
    elif isinstance(condition, OneOf):
        lookup = {f"{condition.column}__in": [_plain(value) for value in condition.values]}
    elif isinstance(condition, IsNull):
        lookup = {f"{condition.column}__isnull": condition.null}
    elif isinstance(condition, Contains):
        operator = "icontains" if condition.ignore_case else "contains"
        lookup = {f"{condition.column}__{operator}": condition.text}
    else:
        join = Q.OR if isinstance(condition, AnyOf) else Q.AND
        return Q(*[_q(part) for part in condition.conditions], join_type=join)
    return Q(**lookup)
    if isinstance(condition, AnyOf):
        return Q(*[_q(part) for part in condition.conditions], join_type=Q.OR)
    return Q(*[_q(part) for part in condition.conditions], join_type=Q.AND)


# ---------------------------------------------------------------- SQL


def to_sql(conditions: Iterable[Condition], row: str, bind: Callable[[Any], str]) -> str:
    """All `conditions` as one SQL expression over the table aliased `row`.

    `bind(value)` adds a statement parameter and returns its placeholder; NOW is passed to
    it as is, for the caller to bind to the time the statement runs.
    """
    parts = [_sql(condition, row, bind) for condition in conditions]
    return " AND ".join(parts) if parts else "1 = 1"


def _bound(value: Any, bind: Callable[[Any], str]) -> str:
    return bind(value if value is NOW else _plain(value))


def _sql(condition: Condition, row: str, bind: Callable[[Any], str]) -> str:
    if isinstance(condition, Compare):
        return f"{row}.{condition.column} {condition.op} {_bound(condition.value, bind)}"
    if isinstance(condition, OneOf):
        if not condition.values:
            return "1 = 0"
        values = ", ".join(_bound(value, bind) for value in condition.values)
        return f"{row}.{condition.column} IN ({values})"
    if isinstance(condition, IsNull):
        return f"{row}.{condition.column} IS {'' if condition.null else 'NOT '}NULL"
    if isinstance(condition, Contains):
        escaped = condition.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = bind("%" + escaped + "%")
        if condition.ignore_case:
            return f"upper({row}.{condition.column}) LIKE upper({pattern}) ESCAPE '\\'"
        return f"{row}.{condition.column} LIKE {pattern} ESCAPE '\\'"
    joiner = " OR " if isinstance(condition, AnyOf) else " AND "
    return "(" + joiner.join(_sql(part, row, bind) for part in condition.conditions) + ")"
