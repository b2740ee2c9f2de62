"""The compiled read path: one SQL statement per operation, the response JSON built by the database.

graphql-core spends ~6 µs per field resolving objects one by one; a page of customers with
their domains, contracts and tasks is dominated by that, not by SQL or JSON. For queries
whose every selection is understood here, `CompiledReads` translates the selection into
SQL that returns the `data` object as JSON text (json_build_object/json_agg on PostgreSQL,
json_object/json_group_array on SQLite) and sets the execution result, so graphql-core's
executor never runs. Anything not understood (another root field, an unsupported field or
argument, a visitor or account token, an argument the resolvers would refuse) falls back to
the ordinary resolvers, which also produce every error: the two paths answer identically,
which tests/test_compiled.py checks against generated queries.

The rules are the resolvers' own: rows are scoped to the signed-in member's partner, lists
are ordered like resolvers/loaders.py orders them, pages use resolvers/pagination.py's
validation and cursors, and filters mean what resolvers/customers.py makes them mean.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension
from tortoise.connection import get_connection

from models.partner import PartnerMember
from resolvers.customers import SORT_COLUMNS, CustomerSortField
from resolvers.errors import DomainError
from resolvers.pagination import EPOCH, MICROSECOND, PageRequest, SortKey, decode_cursor
from resolvers.validation import filter_text, search_words
from schema.documents import chosen_operation, fragments_of, request_variables
from schema.ids import parse_global_id, to_global_id
from schema.items import format_amount

log = logging.getLogger("partnerdesk.compiled")
# Statements sent past Tortoise are logged here at DEBUG, as Tortoise logs its own on
# "tortoise.db_client" (the tests count statements from both).
sql_log = logging.getLogger("partnerdesk.sql")


class Unsupported(Exception):
    """The operation needs the ordinary resolvers."""


class CompiledData(dict):
    """`data` already serialised by the database; the HTTP view writes `raw` as is."""

    def __init__(self, raw: str) -> None:
        super().__init__()
        self.raw = raw


# ---------------------------------------------------------------- SQL dialects


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


# ---------------------------------------------------------------- what can be compiled


@dataclass(frozen=True)
class Scalar:
    """A field read from one column; `kind` says how it is written as JSON."""

    column: str
    kind: str = "plain"  # plain | datetime | date | json | boolean


@dataclass(frozen=True)
class GlobalId:
    type_name: str


@dataclass(frozen=True)
class Address:
    pass


@dataclass(frozen=True)
class Money:
    pass


@dataclass(frozen=True)
class ChildList:
    """A list of another table's rows belonging to this row, in the loaders' order."""

    type_name: str
    table: str
    foreign_key: str
    order: tuple[str, ...]
    status_argument: bool = False


@dataclass(frozen=True)
class ObjectType:
    table: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def _common(type_name: str) -> dict[str, Any]:
    return {"id": GlobalId(type_name), "createdAt": Scalar("created_at", "datetime")}


TYPES: dict[str, ObjectType] = {
    "Customer": ObjectType(
        "customer",
        {
            **_common("Customer"),
            "customerNumber": Scalar("customer_number"),
            "kind": Scalar("kind"),
            "displayName": Scalar("display_name"),
            "firstName": Scalar("first_name"),
            "lastName": Scalar("last_name"),
            "companyName": Scalar("company_name"),
            "email": Scalar("email"),
            "phone": Scalar("phone"),
            "address": Address(),
            "vatId": Scalar("vat_id"),
            "language": Scalar("language"),
            "notes": Scalar("notes"),
            "tags": Scalar("tags", "json"),
            "status": Scalar("status"),
            "source": Scalar("source"),
            "version": Scalar("version"),
            "updatedAt": Scalar("updated_at", "datetime"),
            "domains": ChildList("Domain", "domain", "customer_id", ("name", "id")),
            "contracts": ChildList("Contract", "contract", "customer_id", ("starts_on", "id")),
            "tasks": ChildList(
                "Task", "task", "customer_id", ("due_on", "id"), status_argument=True
            ),
        },
    ),
    "Domain": ObjectType(
        "domain",
        {
            **_common("Domain"),
            "name": Scalar("name"),
            "asciiName": Scalar("ascii_name"),
            "status": Scalar("status"),
            "expiresOn": Scalar("expires_on", "date"),
        },
    ),
    "Contract": ObjectType(
        "contract",
        {
            **_common("Contract"),
            "contractNumber": Scalar("contract_number"),
            "product": Scalar("product"),
            "status": Scalar("status"),
            "startsOn": Scalar("starts_on", "date"),
            "endsOn": Scalar("ends_on", "date"),
            "monthlyFee": Money(),
        },
    ),
    "Task": ObjectType(
        "task",
        {
            **_common("Task"),
            "title": Scalar("title"),
            "description": Scalar("description"),
            "status": Scalar("status"),
            "priority": Scalar("priority"),
            "dueOn": Scalar("due_on", "date"),
            "completedAt": Scalar("completed_at", "datetime"),
        },
    ),
}


# ---------------------------------------------------------------- selections


@dataclass
class Selected:
    """One response key: the field, its arguments, and the merged sub-selection."""

    name: str
    node: FieldNode
    children: list[FieldNode] = field(default_factory=list)


class Operation:
    """Reads the GraphQL document: fragments, variables, @skip/@include, arguments."""

    def __init__(
        self, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def collect(
        self, type_name: str, selection_sets: list[SelectionSetNode | None]
    ) -> dict[str, Selected]:
        """Response key -> field, merged across fragments and duplicates, in document order."""
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
                    if self.applies(
                        selection.type_condition.name.value if selection.type_condition else None,
                        type_name,
                    ):
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
        if condition is None or condition == type_name:
            return True
        if condition == "Node":
            return True
        raise Unsupported(f"fragment on {condition}")

    def included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                raise Unsupported(f"@{name}")
            (argument,) = directive.arguments
            value = self.value(argument.value)
            if not isinstance(value, bool):
                raise Unsupported("directive argument")
            if (name == "skip") == value:
                return False
        return True

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, (StringValueNode, EnumValueNode)):
            return node.value
        if isinstance(node, BooleanValueNode):
            return node.value
        if isinstance(node, NullValueNode):
            return None
        if isinstance(node, ListValueNode):
            return [self.value(item) for item in node.values]
        if isinstance(node, ObjectValueNode):
            return {item.name.value: self.value(item.value) for item in node.fields}
        raise Unsupported("argument value")

    def arguments(self, node: FieldNode, allowed: set[str]) -> dict[str, Any]:
        given = {argument.name.value: argument for argument in node.arguments or ()}
        if set(given) - allowed:
            raise Unsupported("argument")
        return {name: self.value(argument.value) for name, argument in given.items()}


# ---------------------------------------------------------------- the compiler


class Compiler:
    """Builds the SQL of one operation for one partner."""

    def __init__(
        self, dialect: Dialect, operation: Operation, partner_id: int, member_id: int
    ) -> None:
        self.sql = dialect
        self.operation = operation
        self.partner_id = partner_id
        self.member_id = member_id
        self.aliases = 0

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def typename(self, name: str) -> str:
        return self.sql.string_literal(name)

    # -- objects

    def object(self, type_name: str, row: str, selections: list[FieldNode]) -> str:
        mapping = TYPES[type_name]
        pairs = []
        for key, selected in self.operation.collect(
            type_name, [n.selection_set for n in selections]
        ).items():
            if selected.name == "__typename":
                pairs.append((key, self.typename(type_name)))
                continue
            spec = mapping.fields.get(selected.name)
            if spec is None:
                raise Unsupported(f"{type_name}.{selected.name}")
            pairs.append((key, self.field(spec, row, selected)))
        return self.sql.obj(pairs)

    def field(self, spec: Any, row: str, selected: Selected) -> str:
        node = selected.node
        if not isinstance(spec, ChildList) and node.arguments:
            raise Unsupported("argument")
        if isinstance(spec, GlobalId):
            return self.sql.global_id(spec.type_name, f"{row}.id")
        if isinstance(spec, Scalar):
            column = f"{row}.{spec.column}"
            if spec.kind == "datetime":
                return self.sql.datetime(column)
            if spec.kind == "date":
                return self.sql.date(column)
            if spec.kind == "json":
                return self.sql.json_column(column)
            return column
        if isinstance(spec, Address):
            parts = {
                "street": "street",
                "postalCode": "postal_code",
                "city": "city",
                "country": "country",
            }
            pairs = []
            for key, sub in self.operation.collect(
                "Address", [n.selection_set for n in selected.children]
            ).items():
                if sub.name == "__typename":
                    pairs.append((key, self.typename("Address")))
                elif sub.name in parts:
                    pairs.append((key, f"{row}.{parts[sub.name]}"))
                else:
                    raise Unsupported("Address field")
            present = " OR ".join(f"{row}.{column} IS NOT NULL" for column in parts.values())
            return f"CASE WHEN {present} THEN {self.sql.obj(pairs)} ELSE NULL END"
        if isinstance(spec, Money):
            amount = f"{row}.fee_amount"
            formatted = self.sql.amount(amount)
            pairs = []
            for key, sub in self.operation.collect(
                "Money", [n.selection_set for n in selected.children]
            ).items():
                if sub.name == "__typename":
                    pairs.append((key, self.typename("Money")))
                elif sub.name == "amount":
                    pairs.append((key, formatted))
                elif sub.name == "currency":
                    pairs.append((key, f"upper({row}.fee_currency)"))
                else:
                    raise Unsupported("Money field")
            return f"CASE WHEN {amount} IS NOT NULL AND {row}.fee_currency <> '' THEN {self.sql.obj(pairs)} ELSE NULL END"
        if isinstance(spec, ChildList):
            return self.child_list(spec, row, selected)
        raise Unsupported("field")

    def child_list(self, spec: ChildList, row: str, selected: Selected) -> str:
        allowed = {"status"} if spec.status_argument else set()
        arguments = self.operation.arguments(selected.node, allowed)
        if any(child.arguments != selected.node.arguments for child in selected.children[1:]):
            raise Unsupported("differing arguments")
        child = self.alias()
        where = [
            f"{child}.partner_id = {self.sql.p(self.partner_id)}",
            f"{child}.{spec.foreign_key} = {row}.id",
        ]
        status = arguments.get("status")
        if status is not None:
            if not isinstance(status, str):
                raise Unsupported("status")
            where.append(f"{child}.status = {self.sql.p(status)}")
        element = self.object(spec.type_name, "_rows", selected.children)
        source = f"SELECT {child}.* FROM {TYPES[spec.type_name].table} {child} WHERE {' AND '.join(where)}"
        return self.sql.array(element, source, spec.order)

    # -- root fields

    def root(self, key: str, selected: Selected) -> str:
        name = selected.name
        if name == "__typename":
            return self.typename("Query")
        if name == "customer":
            return self.customer(selected)
        if name == "customers":
            return self.customers(selected)
        if name == "pendingInvitationCount":
            if selected.node.arguments or selected.node.selection_set:
                raise Unsupported("argument")
            return self.pending_invitation_count()
        if name == "viewer":
            return self.viewer(selected)
        raise Unsupported(f"Query.{name}")

    def pending_invitation_count(self) -> str:
        # resolvers/invitations.py pending_invitation_count: PENDING and not yet expired
        return (
            f"(SELECT count(*) FROM access_invitation WHERE partner_id = {self.sql.p(self.partner_id)}"
            f" AND status = 'PENDING' AND expires_at > {self.sql.p(NOW)})"
        )

    def new_inquiry_count(self) -> str:
        return f"(SELECT count(*) FROM inquiry WHERE partner_id = {self.sql.p(self.partner_id)} AND status = 'NEW')"

    def viewer(self, selected: Selected) -> str:
        """The signed-in member (the compiled path only ever runs for members)."""
        if selected.node.arguments:
            raise Unsupported("argument")
        pairs = []
        for key, sub in self.operation.collect(
            "Viewer", [n.selection_set for n in selected.children]
        ).items():
            if sub.name == "__typename":
                pairs.append((key, self.typename("Viewer")))
            elif sub.name == "realm":
                pairs.append((key, "'PARTNER'"))
            elif sub.name == "account":
                pairs.append((key, "NULL"))
            elif sub.name == "member":
                pairs.append((key, self.member(sub)))
            else:
                raise Unsupported("Viewer field")
        return self.sql.obj(pairs)

    def member(self, selected: Selected) -> str:
        row = self.alias()
        pairs = []
        for key, sub in self.operation.collect(
            "PartnerMember", [n.selection_set for n in selected.children]
        ).items():
            if sub.node.arguments:
                raise Unsupported("argument")
            if sub.name == "__typename":
                pairs.append((key, self.typename("PartnerMember")))
            elif sub.name == "id":
                pairs.append((key, self.sql.global_id("PartnerMember", f"{row}.id")))
            elif sub.name in ("email", "name", "role"):
                pairs.append((key, f"{row}.{sub.name}"))
            elif sub.name == "partner":
                pairs.append((key, self.partner(sub)))
            else:
                raise Unsupported("PartnerMember field")
        return self.sql.nested(
            f"(SELECT {self.sql.obj(pairs)} FROM partner_member {row} WHERE {row}.id = {self.sql.p(self.member_id)})"
        )

    def partner(self, selected: Selected) -> str:
        row = self.alias()
        pairs = []
        for key, sub in self.operation.collect(
            "Partner", [n.selection_set for n in selected.children]
        ).items():
            if sub.node.arguments:
                raise Unsupported("argument")
            if sub.name == "__typename":
                pairs.append((key, self.typename("Partner")))
            elif sub.name == "id":
                pairs.append((key, self.sql.global_id("Partner", f"{row}.id")))
            elif sub.name in ("slug", "name"):
                pairs.append((key, f"{row}.{sub.name}"))
            elif sub.name == "pendingInvitationCount":
                pairs.append((key, self.pending_invitation_count()))
            elif sub.name == "newInquiryCount":
                pairs.append((key, self.new_inquiry_count()))
            else:
                raise Unsupported("Partner field")
        return self.sql.nested(
            f"(SELECT {self.sql.obj(pairs)} FROM partner {row} WHERE {row}.id = {self.sql.p(self.partner_id)})"
        )

    def customer(self, selected: Selected) -> str:
        arguments = self.operation.arguments(selected.node, {"id"})
        global_id = arguments.get("id")
        parsed = parse_global_id(global_id) if isinstance(global_id, str) else None
        if parsed is None or parsed[0] != "Customer":
            return "NULL"  # as the resolver: an id that is not a customer's finds nothing
        row = self.alias()
        body = self.object("Customer", row, selected.children)
        return self.sql.nested(
            f"(SELECT {body} FROM customer {row} WHERE {row}.partner_id = {self.sql.p(self.partner_id)}"
            f" AND {row}.id = {self.sql.p(parsed[1])})"
        )

    def customers(self, selected: Selected) -> str:
        if any(child.arguments != selected.node.arguments for child in selected.children[1:]):
            raise Unsupported("differing arguments")
        arguments = self.operation.arguments(
            selected.node, {"first", "after", "last", "before", "filter", "orderBy"}
        )
        if arguments.get("last") is not None or arguments.get("before") is not None:
            raise Unsupported("backward paging")
        first = arguments.get("first", 20)
        if first is None:
            first = 20  # as resolvers/pagination.py: null means the default page
        after = arguments.get("after")
        if not isinstance(first, int) or (after is not None and not isinstance(after, str)):
            raise Unsupported("paging argument")
        try:
            size, _backwards = PageRequest(first=first, after=after).validated_size()
        except DomainError:
            raise Unsupported("the resolver reports this page size") from None
        order = arguments.get("orderBy") or {}
        sort_field = CustomerSortField(order.get("field") or CustomerSortField.DISPLAY_NAME)
        descending = (order.get("direction") or "ASC") == "DESC"
        column, is_datetime = SORT_COLUMNS[sort_field]
        keys = (SortKey(column, descending, is_datetime), SortKey("id", descending))
        row = self.alias()
        where = [f"{row}.partner_id = {self.sql.p(self.partner_id)}"]
        where += self.customer_filter(row, arguments.get("filter") or {})
        filtered = list(where)
        if after is not None:
            try:
                values = decode_cursor(keys, after, "after")
            except DomainError:
                raise Unsupported("the resolver reports this cursor") from None
            comparison = "<" if descending else ">"
            (sort_value, last_id) = values
            # The inclusive bound first: an index range scan uses it (the OR is a filter).
            where.append(
                f"{row}.{column} {comparison}= {self.sql.p(sort_value)} AND"
                f" ({row}.{column} {comparison} {self.sql.p(sort_value)} OR"
                f" ({row}.{column} = {self.sql.p(sort_value)} AND {row}.id {comparison} {self.sql.p(last_id)}))"
            )
        direction = " DESC" if descending else ""
        ordering = f"{row}.{column}{direction}, {row}.id{direction}"
        page_name = f"page_{row}"
        page = (
            f"SELECT {row}.*, row_number() OVER (ORDER BY {ordering}) AS _ord FROM customer {row}"
            f" WHERE {' AND '.join(where)} ORDER BY {ordering} LIMIT {self.sql.p(size + 1)}"
        )
        cursor = self.cursor(keys, "_rows")
        pairs = []
        for key, sub in self.operation.collect(
            "CustomerConnection", [n.selection_set for n in selected.children]
        ).items():
            if sub.name == "__typename":
                pairs.append((key, self.typename("CustomerConnection")))
            elif sub.name == "totalCount":
                pairs.append(
                    (key, f"(SELECT count(*) FROM customer {row} WHERE {' AND '.join(filtered)})")
                )
            elif sub.name == "edges":
                edge_pairs = []
                for edge_key, edge_field in self.operation.collect(
                    "CustomerEdge", [n.selection_set for n in sub.children]
                ).items():
                    if edge_field.name == "__typename":
                        edge_pairs.append((edge_key, self.typename("CustomerEdge")))
                    elif edge_field.name == "cursor":
                        edge_pairs.append((edge_key, cursor))
                    elif edge_field.name == "node":
                        edge_pairs.append(
                            (edge_key, self.object("Customer", "_rows", edge_field.children))
                        )
                    else:
                        raise Unsupported("edge field")
                element = self.sql.obj(edge_pairs)
                pairs.append(
                    (
                        key,
                        self.sql.array(
                            element,
                            f"SELECT * FROM {page_name} WHERE _ord <= {self.sql.p(size)}",
                        ),
                    )
                )
            elif sub.name == "pageInfo":
                pairs.append(
                    (
                        key,
                        self.page_info(
                            sub, f"SELECT * FROM {page_name}", size, cursor, after is not None
                        ),
                    )
                )
            else:
                raise Unsupported("connection field")
        # The page is a CTE: edges, hasNextPage and the cursors all read it, once.
        return self.sql.nested(f"(WITH {page_name} AS ({page}) SELECT {self.sql.obj(pairs)})")

    def page_info(
        self, selected: Selected, page: str, size: int, cursor: str, has_previous: bool
    ) -> str:
        pairs = []
        for key, sub in self.operation.collect(
            "PageInfo", [n.selection_set for n in selected.children]
        ).items():
            if sub.name == "__typename":
                pairs.append((key, self.typename("PageInfo")))
            elif sub.name == "hasNextPage":
                pairs.append(
                    (
                        key,
                        self.sql.boolean(
                            f"(SELECT count(*) FROM ({page}) AS _page) > {self.sql.p(size)}"
                        ),
                    )
                )
            elif sub.name == "hasPreviousPage":
                pairs.append((key, self.sql.boolean("1 = 1" if has_previous else "1 = 0")))
            elif sub.name in ("startCursor", "endCursor"):
                pick = "MIN" if sub.name == "startCursor" else "MAX"
                pairs.append(
                    (
                        key,
                        f"(SELECT {cursor} FROM ({page}) AS _rows WHERE _ord = (SELECT {pick}(_ord) FROM ({page}) AS _p"
                        f" WHERE _ord <= {self.sql.p(size)}))",
                    )
                )
            else:
                raise Unsupported("pageInfo field")
        return self.sql.obj(pairs)

    def cursor(self, keys: tuple[SortKey, ...], row: str) -> str:
        """The SQL twin of resolvers/pagination.py's cursor encoding."""
        sort, _id = keys
        signature = ",".join(("-" if key.descending else "") + key.field for key in keys)
        value = (
            self.sql.epoch_micros(f"{row}.{sort.field}")
            if sort.is_datetime
            else f"{row}.{sort.field}"
        )
        text = f"{self.sql.string_literal(signature + '|')} || {row}.id || '|' || {self.sql.text(value)}"
        return self.sql.base64url(text)

    def customer_filter(self, row: str, given: Mapping[str, Any]) -> list[str]:
        """resolvers/customers.py list_customers' filter, condition for condition."""
        conditions = []
        for name in given:
            if name not in ("search", "status", "source", "tag"):
                raise Unsupported("filter")
        if given.get("status") is not None:
            conditions.append(f"{row}.status = {self.sql.p(given['status'])}")
        if given.get("source") is not None:
            conditions.append(f"{row}.source = {self.sql.p(given['source'])}")
        try:
            tag = filter_text(given.get("tag"), ("filter", "tag")).strip().lower()
            words = search_words(given.get("search"), ("filter", "search"))
        except DomainError:
            raise Unsupported("the resolver reports this filter") from None
        if tag:
            conditions.append(self.sql.contains(f"{row}.tags_text", f"\n{tag}\n"))
        for word in words:
            conditions.append(self.sql.contains(f"{row}.search_text", word))
        return conditions


class _Now:
    """A parameter bound to the time the statement runs, so that a compiled statement can
    be kept and run again (schema/fast_reads.py caches them)."""

    def __repr__(self) -> str:
        return "NOW"


NOW = _Now()


# ---------------------------------------------------------------- the extension


def compile_operation(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    partner_id: int,
    member_id: int,
    dialect: Dialect,
    token_hash: str | None = None,
) -> tuple[str, list[Any]]:
    """(SQL returning the `data` object as JSON text, parameters); Unsupported otherwise.

    With `token_hash`, the statement also checks that this bearer token still belongs to the
    member (not revoked, not expired) and reads nothing otherwise (data NULL): a kept
    statement then needs no separate token look-up.
    """
    if operation.operation != OperationType.QUERY:
        raise Unsupported("not a query")
    reader = Operation(fragments, variables)
    compiler = Compiler(dialect, reader, partner_id, member_id)
    pairs = [
        (key, compiler.root(key, selected))
        for key, selected in reader.collect("Query", [operation.selection_set]).items()
    ]
    data = dialect.text(dialect.obj(pairs))
    if token_hash is not None:
        # resolvers/auth.py authenticate(): the same conditions
        signed_in = (
            f"EXISTS (SELECT 1 FROM auth_token WHERE token_hash = {dialect.p(token_hash)}"
            f" AND member_id = {dialect.p(member_id)} AND revoked_at IS NULL"
            f" AND expires_at > {dialect.p(NOW)})"
        )
        data = f"CASE WHEN {signed_in} THEN {data} END"
    return dialect.used_parameters(f"SELECT {data} AS data")


DIALECTS: dict[str, Callable[[], Dialect]] = {"postgres": Postgres, "sqlite": Sqlite}


def compile_statement(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    member: PartnerMember,
    token_hash: str | None = None,
) -> tuple[str, list[Any]] | None:
    """The one statement answering the operation for `member`'s partner, or None when the
    operation is not supported here (the resolvers answer it). `token_hash`: see
    compile_operation."""
    make_dialect = DIALECTS.get(get_connection("default").capabilities.dialect)
    if make_dialect is None:
        return None
    try:
        return compile_operation(
            operation,
            fragments,
            variables,
            member.partner_id,
            member.id,
            make_dialect(),
            token_hash,
        )
    except Unsupported:
        return None


async def run_statement(sql: str, params: list[Any]) -> CompiledData | None:
    """The `data` a compiled statement reads; None if it failed or its token check refused
    (the ordinary path answers)."""
    connection = get_connection("default")
    bound = [datetime.now(UTC) if param is NOW else param for param in params]
    try:
        if connection.capabilities.dialect == "sqlite":
            await _register_sqlite_functions(connection)
            _count, rows = await connection.execute_query(sql, bound)
            raw = rows[0]["data"]
        else:
            # asyncpg directly: one value, no row objects (Tortoise's execute_query builds them)
            sql_log.debug("%s: %s", sql, bound)
            async with connection.acquire_connection() as postgres:
                raw = await postgres.fetchval(sql, *bound)
    except Exception:  # the resolvers answer instead, with their own errors if any
        log.exception("compiled read failed; falling back to the resolvers: %s", sql)
        return None
    return None if raw is None else CompiledData(raw)


class CompiledReads(SchemaExtension):
    """Answers supported queries with one SQL statement; everything else falls through."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.result is None:
            result = await self._try_compiled()
            if result is not None:
                context.result = result
        yield

    async def _try_compiled(self) -> ExecutionResult | None:
        context = self.execution_context
        document = context.graphql_document
        actor = getattr(context.context, "actor", None)
        if document is None or actor is None or actor.member is None:
            return None
        operation = chosen_operation(document, context.operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        variables = request_variables(context.schema._schema, operation, context.variables)
        if variables is None:
            return None
        statement = compile_statement(operation, fragments_of(document), variables, actor.member)
        data = None if statement is None else await run_statement(*statement)
        return ExecutionResult(data=data) if data is not None else None


def _sqlite_base64url(text: str) -> str:
    return base64.urlsafe_b64encode(str(text).encode()).decode().rstrip("=")


def _sqlite_epoch_micros(stored: str) -> int:
    moment = datetime.fromisoformat(stored)
    return (moment - EPOCH) // MICROSECOND


async def _register_sqlite_functions(client: Any) -> None:
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
