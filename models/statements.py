"""Fixed SQL statements for the hot write paths, without model objects.

Tortoise's `Model.create()` builds a model instance, converts every field and then runs
its INSERT; on the public inquiry form and in every activity row that is most of the
write's Python time. These helpers run the one statement directly, on whatever
connection is current (inside `in_transaction()`, the transaction's), in the dialect of
that connection. Values must already be validated and in the column's Python type;
datetimes are stored as Tortoise stores them (its SQLite adapter, asyncpg's codec).
They read rows with `execute_query_dict`: Tortoise's `execute_query` drops the rows of an
INSERT or UPDATE on PostgreSQL, RETURNING or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.connection import get_connection


def _placeholders(postgres: bool, count: int) -> list[str]:
    return [f"${n}" for n in range(1, count + 1)] if postgres else ["?"] * count


def _is_postgres(connection: Any) -> bool:
    return bool(connection.capabilities.dialect == "postgres")


async def insert_returning_id(table: str, values: Mapping[str, Any]) -> int:
    """INSERT one row into `table` (a trusted name) and return its new id."""
    connection = get_connection("default")
    columns = ", ".join(f'"{column}"' for column in values)
    marks = ", ".join(_placeholders(_is_postgres(connection), len(values)))
    sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING id'
    rows = await connection.execute_query_dict(sql, list(values.values()))
    return int(rows[0]["id"])


async def update_returning_ids(
    table: str, values: Mapping[str, Any], where: Mapping[str, Any]
) -> list[int]:
    """UPDATE `table` SET values WHERE every `where` column equals its value; the ids of
    the rows it changed (none: the condition no longer held, e.g. a lost race)."""
    connection = get_connection("default")
    marks = _placeholders(_is_postgres(connection), len(values) + len(where))
    set_marks, where_marks = marks[: len(values)], marks[len(values) :]
    assignments = ", ".join(
        f'"{column}" = {mark}' for column, mark in zip(values, set_marks, strict=True)
    )
    conditions = " AND ".join(
        f'"{column}" = {mark}' for column, mark in zip(where, where_marks, strict=True)
    )
    sql = f'UPDATE "{table}" SET {assignments} WHERE {conditions} RETURNING id'
    rows = await connection.execute_query_dict(sql, [*values.values(), *where.values()])
    return [int(row["id"]) for row in rows]


async def next_in_sequence(table: str, column: str, row_id: int, by: int = 1) -> int:
    """Increment the counter `column` of one row by `by` and return its new value (the last
    of the `by` numbers handed out), in one statement.

    The UPDATE locks the row until the transaction ends, so concurrent callers get
    consecutive values and never the same one.
    """
    connection = get_connection("default")
    step, mark = _placeholders(_is_postgres(connection), 2)
    sql = f'UPDATE "{table}" SET "{column}" = "{column}" + {step} WHERE id = {mark} RETURNING "{column}"'
    rows = await connection.execute_query_dict(sql, [by, row_id])
    return int(rows[0][column])


async def insert_rows(
    table: str, rows: Sequence[Mapping[str, Any]], returning: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """INSERT many rows (all with the same columns) in one statement; the `returning`
    columns of the new rows, in no particular order. Keep rows x columns under 30,000
    (the parameter limit of both databases)."""
    if not rows:
        return []
    connection = get_connection("default")
    columns = list(rows[0])
    marks = iter(_placeholders(_is_postgres(connection), len(rows) * len(columns)))
    tuples = ", ".join("(" + ", ".join(next(marks) for _column in columns) + ")" for _row in rows)
    names = ", ".join(f'"{column}"' for column in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES {tuples}'
    values = [row[column] for row in rows for column in columns]
    if not returning:
        await connection.execute_query(sql, values)
        return []
    sql += " RETURNING " + ", ".join(f'"{column}"' for column in returning)
    return list(await connection.execute_query_dict(sql, values))


async def fetch_value(sql_postgres: str, values: list[Any]) -> Any:
    """The first column of the first row of a fixed query (written with $1, $2, ...), or None."""
    connection = get_connection("default")
    sql = sql_postgres
    if not _is_postgres(connection):
        for number in range(len(values), 0, -1):
            sql = sql.replace(f"${number}", f"?{number}")
    rows = await connection.execute_query_dict(sql, values)
    return next(iter(rows[0].values())) if rows else None


async def refresh_statistics(table: str) -> None:
    """Let PostgreSQL's planner know a bulk load changed `table` (ANALYZE, as its manual
    advises after bulk loading; autovacuum would, later, if it runs at all). SQLite's planner
    keeps no such statistics by default: nothing to do there."""
    connection = get_connection("default")
    if _is_postgres(connection):
        await connection.execute_script(f'ANALYZE "{table}"')
