"""The compiler: one operation, for one actor, as one SQL statement returning `data` as JSON.

Which rows, in which order and under which filters is not decided here: the read rules
(resolvers/read_rules.py) say it, rendered to SQL by resolvers/conditions.py `to_sql`, and
the arguments mean what the resolvers' own helpers make of them
(schema/customer_inputs.py `customer_list`). This module only shapes the JSON: objects,
lists and connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.customer import Customer
from models.inquiry import Inquiry
from models.invitation import AccessInvitation
from models.partner import Partner
from resolvers.actor import Actor
from resolvers.conditions import Compare, Condition, to_sql
from resolvers.customers import customer_order_keys
from resolvers.errors import DomainError
from resolvers.pagination import SortKey, beyond, decode_cursor, signature
from resolvers.read_rules import (
    CUSTOMERS,
    NEW_INQUIRIES,
    PENDING_INVITATIONS,
    READ_RULES,
    tenant_condition,
    valid_token,
)
from schema.compiled.catalog import TYPES, Address, ChildList, GlobalId, Money, Scalar
from schema.compiled.dialects import Dialect
from schema.compiled.selections import Operation, Selected, Unsupported
from schema.customer_inputs import customer_list
from schema.ids import pk_or_none

# Object bodies kept per document (Compiler.fragments); a bound on memory, not a tuning knob.
MAX_FRAGMENTS = 64


@dataclass(frozen=True, slots=True)
class Fragment:
    """An object body's SQL as first built: its parameters were numbered from first_param + 1
    and it named `aliases` table aliases."""

    text: str
    params: list[Any]
    first_param: int
    aliases: int


ADDRESS_COLUMNS = {
    "street": "street",
    "postalCode": "postal_code",
    "city": "city",
    "country": "country",
}


class Compiler:
    """Builds the SQL of one operation for one signed-in partner member.

    `fragments` keeps the SQL of object bodies across compiles of one document, when no
    variable is used below its root fields: a customer's JSON (with its child lists) is
    then the same text for every request of that partner, and only the root (the page,
    the filters, the cursor) is built anew for new variables.
    """

    def __init__(
        self,
        dialect: Dialect,
        operation: Operation,
        actor: Actor,
        fragments: dict[tuple[Any, ...], Fragment] | None = None,
    ) -> None:
        assert actor.member is not None
        self.sql = dialect
        self.operation = operation
        self.actor = actor
        self.member = actor.member
        self.aliases = 0
        self.fragments = fragments

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def typename(self, name: str) -> str:
        return self.sql.string_literal(name)

    def where(self, row: str, conditions: list[Condition]) -> str:
        """The read rules' conditions over the table aliased `row`, with bound parameters."""
        return to_sql(conditions, row, self.sql.p)

    def fields(self, type_name: str, selected: Selected, pick: Any) -> str:
        """A JSON object of the sub-selection of `selected` on `type_name`; `pick(key, sub)`
        gives each field's SQL (raising Unsupported for what it does not know)."""
        pairs = []
        for key, sub in self.operation.collect(type_name, selected.sub_selections()).items():
            if sub.name == "__typename":
                pairs.append((key, self.typename(type_name)))
            else:
                pairs.append((key, pick(key, sub)))
        return self.sql.obj(pairs)

    # ------------------------------------------------------------ objects of the catalog

    def object(self, type_name: str, row: str, selected: Selected) -> str:
        if self.fragments is None:
            return self._object(type_name, row, selected)
        key = (
            self.sql.name,
            self.member.partner_id,  # the child lists' tenant parameter
            type_name,
            row,
            self.aliases,
            tuple(map(id, selected.children)),
        )
        kept = self.fragments.get(key)
        if kept is None:
            first_param, first_alias = len(self.sql.params), self.aliases
            text = self._object(type_name, row, selected)
            kept = Fragment(
                text, self.sql.params[first_param:], first_param, self.aliases - first_alias
            )
            if len(self.fragments) >= MAX_FRAGMENTS:
                self.fragments.clear()
            self.fragments[key] = kept
            return text
        self.aliases += kept.aliases
        shift = len(self.sql.params) - kept.first_param
        self.sql.params.extend(kept.params)
        return self.sql.shift_placeholders(kept.text, shift) if shift else kept.text

    def _object(self, type_name: str, row: str, selected: Selected) -> str:
        mapping = TYPES[type_name]

        def pick(_key: str, sub: Selected) -> str:
            spec = mapping.fields.get(sub.name)
            if spec is None:
                raise Unsupported(f"{type_name}.{sub.name}")
            if not isinstance(spec, ChildList) and sub.node.arguments:
                raise Unsupported("argument")
            return self.field(spec, type_name, row, sub)

        return self.fields(type_name, selected, pick)

    def field(self, spec: Any, type_name: str, row: str, selected: Selected) -> str:
        if isinstance(spec, GlobalId):
            return self.sql.global_id(spec.type_name, f"{row}.id")
        if isinstance(spec, Scalar):
            column = f"{row}.{spec.column}"
            formats = {
                "datetime": self.sql.datetime,
                "date": self.sql.date,
                "json": self.sql.json_column,
            }
            return formats[spec.kind](column) if spec.kind in formats else column
        if isinstance(spec, Address):
            return self.address(row, selected)
        if isinstance(spec, Money):
            return self.money(row, selected)
        if isinstance(spec, ChildList):
            return self.child_list(spec, type_name, row, selected)
        raise Unsupported("field")

    def address(self, row: str, selected: Selected) -> str:
        def pick(_key: str, sub: Selected) -> str:
            if sub.name not in ADDRESS_COLUMNS:
                raise Unsupported("Address field")
            return f"{row}.{ADDRESS_COLUMNS[sub.name]}"

        body = self.fields("Address", selected, pick)
        present = " OR ".join(f"{row}.{column} IS NOT NULL" for column in ADDRESS_COLUMNS.values())
        return f"CASE WHEN {present} THEN {body} ELSE NULL END"

    def money(self, row: str, selected: Selected) -> str:
        amount = f"{row}.fee_amount"
        columns = {"amount": self.sql.amount(amount), "currency": f"upper({row}.fee_currency)"}

        def pick(_key: str, sub: Selected) -> str:
            if sub.name not in columns:
                raise Unsupported("Money field")
            return columns[sub.name]

        body = self.fields("Money", selected, pick)
        return (
            f"CASE WHEN {amount} IS NOT NULL AND {row}.fee_currency <> '' THEN {body} ELSE NULL END"
        )

    def child_list(self, spec: ChildList, parent_type: str, row: str, selected: Selected) -> str:
        """The child rows as their loader reads them: scoped, filtered by the field's
        arguments (the rules' filters of the same names), in the rules' child order."""
        rules = READ_RULES[spec.model]
        arguments = self.operation.arguments(parent_type, selected)
        if any(name not in rules.filters for name in arguments):
            raise Unsupported("child list argument")
        child = self.alias()
        conditions = [tenant_condition(spec.model, self.actor), *rules.conditions(arguments)]
        element = self.object(spec.type_name, "_rows", selected)
        source = (
            f"SELECT {child}.* FROM {TYPES[spec.type_name].table} {child}"
            f" WHERE {self.where(child, conditions)} AND {child}.{spec.foreign_key} = {row}.id"
        )
        return self.sql.array(element, source, rules.child_order)

    # ------------------------------------------------------------ root fields

    def root(self, selected: Selected) -> str:
        name = selected.name
        if name == "__typename":
            return self.typename("Query")
        if name in ("pendingInvitationCount", "viewer") and (
            selected.node.arguments or (name != "viewer" and selected.node.selection_set)
        ):
            raise Unsupported("argument")
        if name == "customer":
            return self.customer(selected)
        if name == "customers":
            return self.customers(selected)
        if name == "pendingInvitationCount":
            return self.count(AccessInvitation, list(PENDING_INVITATIONS))
        if name == "viewer":
            return self.viewer(selected)
        raise Unsupported(f"Query.{name}")

    def count(self, model: type[Any], conditions: list[Condition]) -> str:
        """A count of the actor's rows of `model` that meet the rules' `conditions`."""
        row = self.alias()
        where = self.where(row, [tenant_condition(model, self.actor), *conditions])
        return f"(SELECT count(*) FROM {model._meta.db_table} {row} WHERE {where})"

    def customer(self, selected: Selected) -> str:
        arguments = self.operation.arguments("Query", selected)
        pk = pk_or_none(arguments["id"], "Customer")
        if pk is None:
            return "NULL"  # as the resolver: an id that is not a customer's finds nothing
        row = self.alias()
        conditions = [tenant_condition(Customer, self.actor), Compare("id", "=", pk)]
        body = self.object("Customer", row, selected)
        return self.sql.nested(
            f"(SELECT {body} FROM customer {row} WHERE {self.where(row, conditions)})"
        )

    def customers(self, selected: Selected) -> str:
        page, wanted, order = customer_list(**self.operation.arguments("Query", selected))
        if page.last is not None or page.before is not None:
            raise Unsupported("backward paging")
        keys = customer_order_keys(order)
        row = self.alias()
        try:
            size, _backwards = page.validated_size()
            filtered = [
                tenant_condition(Customer, self.actor),
                *CUSTOMERS.conditions(wanted),
            ]
            after = decode_cursor(keys, page.after, "after") if page.after is not None else None
        except DomainError:
            raise Unsupported("the resolver reports this request") from None
        windowed = filtered if after is None else [*filtered, beyond(keys, after, forwards=False)]
        ordering = ", ".join(
            f"{row}.{key.field}{' DESC' if key.descending else ''}" for key in keys
        )
        page_name = f"page_{row}"
        rows_sql = (
            f"SELECT {row}.*, row_number() OVER (ORDER BY {ordering}) AS _ord FROM customer {row}"
            f" WHERE {self.where(row, windowed)} ORDER BY {ordering} LIMIT {self.sql.p(size + 1)}"
        )
        cursor = self.cursor(keys, "_rows")

        def pick(_key: str, sub: Selected) -> str:
            if sub.name == "totalCount":
                return f"(SELECT count(*) FROM customer {row} WHERE {self.where(row, filtered)})"
            if sub.name == "edges":
                element = self.edge(sub, cursor)
                return self.sql.array(
                    element, f"SELECT * FROM {page_name} WHERE _ord <= {self.sql.p(size)}"
                )
            if sub.name == "pageInfo":
                return self.page_info(
                    sub, f"SELECT * FROM {page_name}", size, cursor, after is not None
                )
            raise Unsupported("connection field")

        body = self.fields("CustomerConnection", selected, pick)
        # The page is a CTE: edges, hasNextPage and the cursors all read it, once.
        return self.sql.nested(f"(WITH {page_name} AS ({rows_sql}) SELECT {body})")

    def edge(self, selected: Selected, cursor: str) -> str:
        def pick(_key: str, sub: Selected) -> str:
            if sub.name == "cursor":
                return cursor
            if sub.name == "node":
                return self.object("Customer", "_rows", sub)
            raise Unsupported("edge field")

        return self.fields("CustomerEdge", selected, pick)

    def page_info(
        self, selected: Selected, page: str, size: int, cursor: str, has_previous: bool
    ) -> str:
        def pick(_key: str, sub: Selected) -> str:
            if sub.name == "hasNextPage":
                return self.sql.boolean(
                    f"(SELECT count(*) FROM ({page}) AS _page) > {self.sql.p(size)}"
                )
            if sub.name == "hasPreviousPage":
                return self.sql.boolean("1 = 1" if has_previous else "1 = 0")
            if sub.name in ("startCursor", "endCursor"):
                extreme = "MIN" if sub.name == "startCursor" else "MAX"
                return (
                    f"(SELECT {cursor} FROM ({page}) AS _rows WHERE _ord = (SELECT {extreme}(_ord)"
                    f" FROM ({page}) AS _p WHERE _ord <= {self.sql.p(size)}))"
                )
            raise Unsupported("pageInfo field")

        return self.fields("PageInfo", selected, pick)

    def cursor(self, keys: tuple[SortKey, ...], row: str) -> str:
        """resolvers/pagination.py's cursor ("signature|id|sort value", base64url), in SQL."""
        if len(keys) != 2:
            raise Unsupported("cursor of another shape")
        sort = keys[0]
        value = (
            self.sql.epoch_micros(f"{row}.{sort.field}")
            if sort.is_datetime
            else f"{row}.{sort.field}"
        )
        prefix = self.sql.string_literal(signature(keys) + "|")
        return self.sql.base64url(f"{prefix} || {row}.id || '|' || {self.sql.text(value)}")

    def viewer(self, selected: Selected) -> str:
        """The signed-in member (the compiled path only ever runs for members)."""

        def pick(_key: str, sub: Selected) -> str:
            if sub.name == "realm":
                return "'PARTNER'"
            if sub.name == "account":
                return "NULL"
            if sub.name == "member":
                return self.viewer_member(sub)
            raise Unsupported("Viewer field")

        return self.fields("Viewer", selected, pick)

    def viewer_member(self, selected: Selected) -> str:
        row = self.alias()

        def pick(_key: str, sub: Selected) -> str:
            if sub.node.arguments:
                raise Unsupported("argument")
            if sub.name == "id":
                return self.sql.global_id("PartnerMember", f"{row}.id")
            if sub.name in ("email", "name", "role"):
                return f"{row}.{sub.name}"
            if sub.name == "partner":
                return self.partner(sub)
            raise Unsupported("PartnerMember field")

        body = self.fields("PartnerMember", selected, pick)
        return self.sql.nested(
            f"(SELECT {body} FROM partner_member {row} WHERE {row}.id = {self.sql.p(self.member.id)})"
        )

    def partner(self, selected: Selected) -> str:
        row = self.alias()

        def pick(_key: str, sub: Selected) -> str:
            if sub.node.arguments:
                raise Unsupported("argument")
            if sub.name == "id":
                return self.sql.global_id("Partner", f"{row}.id")
            if sub.name in ("slug", "name"):
                return f"{row}.{sub.name}"
            if sub.name == "pendingInvitationCount":
                return self.count(AccessInvitation, list(PENDING_INVITATIONS))
            if sub.name == "newInquiryCount":
                return self.count(Inquiry, list(NEW_INQUIRIES))
            raise Unsupported("Partner field")

        body = self.fields("Partner", selected, pick)
        where = self.where(row, [tenant_condition(Partner, self.actor)])
        return self.sql.nested(f"(SELECT {body} FROM partner {row} WHERE {where})")

    # ------------------------------------------------------------ the statement

    def statement(self, root_selection: Any, token_hash: str | None) -> tuple[str, list[Any]]:
        """(SQL returning the `data` object as JSON text, parameters).

        With `token_hash`, the statement also checks that this bearer token still signs the
        member in (resolvers/read_rules.py `valid_token`, as the token look-up checks it) and
        reads nothing otherwise (data NULL): a kept statement then needs no separate look-up.
        """
        pairs = [
            (key, self.root(selected))
            for key, selected in self.operation.collect("Query", [root_selection]).items()
        ]
        data = self.sql.text(self.sql.obj(pairs))
        if token_hash is not None:
            token = self.alias()
            signed_in = self.where(
                token, [*valid_token(token_hash), Compare("member_id", "=", self.member.id)]
            )
            data = f"CASE WHEN EXISTS (SELECT 1 FROM auth_token {token} WHERE {signed_in}) THEN {data} END"
        return self.sql.used_parameters(f"SELECT {data} AS data")
