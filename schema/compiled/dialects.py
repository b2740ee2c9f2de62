"""The SQL of each database the compiled reads run on: JSON building, formatting, parameters.

`Dialect.p(value)` adds a bound parameter and returns its placeholder; the compiler never
writes a value into the SQL text. SQLite lacks base64 and a few formatters: the functions
it calls are registered on each connection (`register_sqlite_functions`).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from resolvers.pagination import EPOCH, MICROSECOND
from schema.ids import to_global_id
from schema.items import format_amount


class Dialect:
    """The JSON and formatting SQL of one database; `p()` adds a bound parameter."""

    name = ""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return self.placeholder(len(self.params))

    def placeholder(self, index: int) -> str:
        raise NotImplementedError

    PLACEHOLDER = re.compile(r"\$(\d+)")

    def used_parameters(self, sql: str) -> tuple[str, list[Any]]:
        """`sql` renumbered to the parameters it really uses, and those parameters.

        Pieces are built before it is known whether the selection needs them (a page's
        rows when only totalCount is asked for), so some parameters end up unused.
        """
        numbers: dict[int, int] = {}

        def renumber(match: re.Match[str]) -> str:
            old = int(match.group(1))
            new = numbers.setdefault(old, len(numbers) + 1)
            return self.placeholder(new)

        renumbered = self.PLACEHOLDER.sub(renumber, sql)
        return renumbered, [self.params[old - 1] for old in numbers]

    def shift_placeholders(self, sql: str, shift: int) -> str:
        """`sql` with every parameter number moved up by `shift` (a kept piece reused later
        in a statement)."""
        return self.PLACEHOLDER.sub(
            lambda match: self.placeholder(int(match.group(1)) + shift), sql
        )

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        raise NotImplementedError

    def array(self, element: str, source: str, order: tuple[str, ...] = ("_ord",)) -> str:
        """A JSON array of `element` over the rows of `source` (a subquery), in the order of
        its `order` columns."""
        raise NotImplementedError

    def nested(self, expression: str) -> str:
        """A JSON-valued subquery used as a value of an enclosing object."""
        return expression

    def string_literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def boolean(self, expression: str) -> str:
        raise NotImplementedError

    def datetime(self, column: str) -> str:
        raise NotImplementedError

    def date(self, column: str) -> str:
        raise NotImplementedError

    def json_column(self, column: str) -> str:
        raise NotImplementedError

    def base64url(self, expression: str) -> str:
        raise NotImplementedError

    def global_id(self, type_name: str, column: str) -> str:
        raise NotImplementedError

    def contains(self, column: str, word: str) -> str:
        """`column` contains `word` literally (LIKE with escaping, as Tortoise's `contains`)."""
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{column} LIKE {self.p('%' + escaped + '%')} ESCAPE '\\'"

    def epoch_micros(self, column: str) -> str:
        raise NotImplementedError

    def amount(self, column: str) -> str:
        raise NotImplementedError

    def text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"


class Postgres(Dialect):
    name = "postgres"

    def placeholder(self, index: int) -> str:
        return f"${index}"

    def p(self, value: Any) -> str:
        # asyncpg needs to know the type of parameters used only in expressions
        marker = super().p(value)
        if isinstance(value, bool):
            return f"{marker}::boolean"
        if isinstance(value, int):
            return f"{marker}::bigint"
        if isinstance(value, str):
            return f"{marker}::text"
        return marker

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        return (
            "json_build_object("
            + ", ".join(f"{self.string_literal(k)}, {v}" for k, v in pairs)
            + ")"
        )

    def array(self, element: str, source: str, order: tuple[str, ...] = ("_ord",)) -> str:
        # Ordered by the aggregate itself: a plain subquery is pulled up into the outer
        # query, so PostgreSQL reads only the columns the element uses and sorts once.
        by = ", ".join(f"_rows.{column}" for column in order)
        return f"(SELECT COALESCE(json_agg({element} ORDER BY {by}), '[]'::json) FROM ({source}) AS _rows)"

    def boolean(self, expression: str) -> str:
        return f"({expression})"

    def datetime(self, column: str) -> str:
        # Python's isoformat(): microseconds only when not zero, offset +00:00 (one to_char,
        # then the zero fraction cut, costs less than testing the microseconds first).
        utc = f"({column} AT TIME ZONE 'UTC')"
        return f"replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00'), '.000000+', '+')"

    def date(self, column: str) -> str:
        return f"to_char({column}, 'YYYY-MM-DD')"

    def json_column(self, column: str) -> str:
        return f"{column}::json"

    def base64url(self, expression: str) -> str:
        encoded = f"encode(convert_to({expression}, 'UTF8'), 'base64')"
        return f"rtrim(translate({encoded}, E'+/\\n', '-_'), '=')"

    def global_id(self, type_name: str, column: str) -> str:
        return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"

    def epoch_micros(self, column: str) -> str:
        return f"(((extract(epoch from {column}) * 1000000))::numeric)::bigint"

    def amount(self, column: str) -> str:
        # schema/items.py format_amount(): trailing zeros dropped, but at least two decimals
        return (
            f"CASE WHEN scale(trim_scale({column})) < 2 THEN round({column}, 2)::text"
            f" ELSE trim_scale({column})::text END"
        )


class Sqlite(Dialect):
    name = "sqlite"
    PLACEHOLDER = re.compile(r"\?(\d+)")

    def placeholder(self, index: int) -> str:
        return f"?{index}"  # numbered: the same parameter may appear several times

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        return "json_object(" + ", ".join(f"{self.string_literal(k)}, {v}" for k, v in pairs) + ")"

    def array(self, element: str, source: str, order: tuple[str, ...] = ("_ord",)) -> str:
        # SQLite aggregates in the order the ordered subquery yields its rows.
        return f"json((SELECT json_group_array(json({element})) FROM ({source} ORDER BY {', '.join(order)}) AS _rows))"

    def nested(self, expression: str) -> str:
        return f"json({expression})"

    def boolean(self, expression: str) -> str:
        return f"json(CASE WHEN {expression} THEN 'true' ELSE 'false' END)"

    def datetime(self, column: str) -> str:
        # Tortoise stores isoformat(" "); the API shows isoformat().
        return f"replace({column}, ' ', 'T')"

    def date(self, column: str) -> str:
        return column

    def json_column(self, column: str) -> str:
        return f"json({column})"

    # SQLite has no base64: these two functions are registered on the connection.
    def base64url(self, expression: str) -> str:
        return f"pd_base64url({expression})"

    def global_id(self, type_name: str, column: str) -> str:
        return f"pd_global_id('{type_name}', {column})"

    def epoch_micros(self, column: str) -> str:
        return f"pd_epoch_micros({column})"

    def amount(self, column: str) -> str:
        return f"pd_amount({column})"


DIALECTS: dict[str, type[Dialect]] = {"postgres": Postgres, "sqlite": Sqlite}


def _sqlite_base64url(text: str) -> str:
    return base64.urlsafe_b64encode(str(text).encode()).decode().rstrip("=")


def _sqlite_epoch_micros(stored: str) -> int:
    moment = datetime.fromisoformat(stored)
    return (moment - EPOCH) // MICROSECOND


async def register_sqlite_functions(client: Any) -> None:
    """Give this SQLite connection the helper functions the compiled SQL calls (once)."""
    if client._connection is None:
        await client.execute_query("SELECT 1")
    raw = client._connection
    if getattr(raw, "_partnerdesk_functions", False):
        return
    await raw.create_function("pd_base64url", 1, _sqlite_base64url, deterministic=True)
    await raw.create_function(
        "pd_global_id", 2, lambda kind, pk: to_global_id(kind, pk), deterministic=True
    )
    await raw.create_function("pd_epoch_micros", 1, _sqlite_epoch_micros, deterministic=True)
    await raw.create_function(
        "pd_amount", 1, lambda text: format_amount(Decimal(text)), deterministic=True
    )
    raw._partnerdesk_functions = True
