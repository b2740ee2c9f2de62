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
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.connection import get_connection
from tortoise.models import Model

ModelT = TypeVar("ModelT", bound=Model)


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
    table: str,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str] = (),
    returning_sql: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """INSERT many rows (all with the same columns) in one statement; the `returning`
    columns of the new rows, in no particular order, and the `returning_sql` expressions
    (trusted SQL, e.g. a subquery about the new row, named with AS). Keep rows x columns
    under 30,000 (the parameter limit of both databases)."""
    if not rows:
        return []
    connection = get_connection("default")
    columns = list(rows[0])
    marks = iter(_placeholders(_is_postgres(connection), len(rows) * len(columns)))
    tuples = ", ".join("(" + ", ".join(next(marks) for _column in columns) + ")" for _row in rows)
    names = ", ".join(f'"{column}"' for column in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES {tuples}'
    values = [row[column] for row in rows for column in columns]
    if not returning and not returning_sql:
        await connection.execute_query(sql, values)
        return []
    sql += " RETURNING " + ", ".join([*(f'"{column}"' for column in returning), *returning_sql])
    return list(await connection.execute_query_dict(sql, values))


async def fetch_rows(sql_postgres: str, values: list[Any]) -> list[dict[str, Any]]:
    """The rows of a fixed query written with $1, $2, ... (numbered ?1, ?2 on SQLite)."""
    connection = get_connection("default")
    sql = sql_postgres
    if not _is_postgres(connection):
        for number in range(len(values), 0, -1):
            sql = sql.replace(f"${number}", f"?{number}")
    return list(await connection.execute_query_dict(sql, values))


async def fetch_value(sql_postgres: str, values: list[Any]) -> Any:
    """The first column of the first row of a fixed query (written with $1, $2, ...), or None."""
    rows = await fetch_rows(sql_postgres, values)
    return next(iter(rows[0].values())) if rows else None


async def refresh_statistics(table: str) -> None:
    """Let PostgreSQL's planner know a bulk load changed `table` (ANALYZE, as its manual
    advises after bulk loading; autovacuum would, later, if it runs at all). SQLite's planner
    keeps no such statistics by default: nothing to do there."""
    connection = get_connection("default")
    if _is_postgres(connection):
        await connection.execute_script(f'ANALYZE "{table}"')


# ---------------------------------------------------------------- models from plain rows


def model_columns(model: type[Model], alias: str) -> list[str]:
    """SELECT list items for every column of `model` on table alias `alias`, named
    <alias>_<column> (so that several tables' columns can share one row)."""
    return [f'{alias}."{column}" AS "{alias}_{column}"' for column in model._meta.db_fields]


def model_from_row(model: type[ModelT], row: Mapping[str, Any], alias: str) -> ModelT | None:
    """The `model` whose columns `model_columns(model, alias)` selected; None for the empty
    side of a LEFT JOIN. Converted as Tortoise converts its own SELECTs' rows."""
    values = {column: row[f"{alias}_{column}"] for column in model._meta.db_fields}
    if values[model._meta.db_pk_column] is None:
        return None
    return model._init_from_db(**values)


def to_db_values(model: type[Model], values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (field name -> Python value) as `model`'s columns store them."""
    fields = model._meta.fields_map
    return {
        fields[name].source_field or name: fields[name].to_db_value(value, model)
        for name, value in values.items()
    }


def with_defaults(model: type[Model], values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` completed as `Model.create` completes them: each field left out gets its
    default, or the current time if it is auto_now / auto_now_add."""
    now = datetime.now(UTC)
    complete = dict(values)
    for name in model._meta.fields_db_projection:
        field = model._meta.fields_map[name]
        if name in complete or field.generated:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            complete[name] = now
        elif field.default is not None:
            complete[name] = field.default() if callable(field.default) else field.default
    return complete


async def insert_model(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """INSERT one row of `model` from `values` (by field name; the rest as `with_defaults`)
    and return it as a model, read back by the same statement: `Model.create` in one plain
    statement."""
    columns = to_db_values(model, with_defaults(model, values))
    returning = [f'"{column}" AS "row_{column}"' for column in model._meta.db_fields]
    [row] = await insert_rows(model._meta.db_table, [columns], returning_sql=returning)
    created = model_from_row(model, row, "row")
    assert created is not None
    return created
