"""Read rules: which rows of each aggregate an actor sees, in which order, under which filters.

Declared once, as data, and used by every read: the resolvers' keyset pages, loaders,
counts and `node` run them through Tortoise, and the compiled read path
(schema/compiled/) writes the same declarations into its SQL. Adding a filter or a sort
order is one entry here, which both paths pick up.

`scoped(model, actor)` is the only place that writes the tenant condition: every read of
tenant data starts from it (tests/test_read_rules.py checks that no other module filters
on `partner_id` by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.activity import ActivityEvent
from models.customer import Customer
from models.customer_data import CustomerImport, DataExport
from models.inquiry import Inquiry, InquiryStatus
from models.invitation import AccessInvitation, InvitationStatus
from models.item import Contract, Domain, Task
from models.outbox import EmailDelivery
from models.partner import Partner, PartnerMember
from models.statements import fetch_rows, model_columns, model_from_row, to_db_values
from models.team import MemberInvitation, MemberInvitationStatus
from models.webhook import WebhookDelivery, WebhookEndpoint
from resolvers.actor import Actor
from resolvers.conditions import (
    NOW,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Contains,
    IsNull,
    OneOf,
    equals,
    to_q,
    to_sql,
)
from resolvers.pagination import SortKey
from resolvers.validation import filter_text, search_words

ModelT = TypeVar("ModelT", bound=Model)
# A named filter: the conditions a given value stands for (None and "" are never passed).
FilterRule = Callable[[Any], Sequence[Condition]]


@dataclass(frozen=True)
class Scope:
    """Whose rows these are: rows whose `member_column` holds the signed-in member's partner,
    or, where account holders read too, whose `account_column` holds the account's id."""

    member_column: str = "partner_id"
    account_column: str | None = None


@dataclass(frozen=True)
class ReadRules:
    model: type[Model]
    scope: Scope = Scope()
    # orderBy name -> sort keys, ascending; the last key is unique (the id). The first entry
    # is the list's default order.
    orders: Mapping[str, tuple[SortKey, ...]] = field(default_factory=dict)
    # The order of the rows when they are a child list of another row (Customer.domains).
    child_order: tuple[str, ...] = ("id",)
    filters: Mapping[str, FilterRule] = field(default_factory=dict)

    def order(self, name: str | None = None, descending: bool = False) -> tuple[SortKey, ...]:
        keys = self.orders[name] if name else next(iter(self.orders.values()))
        if not descending:
            return keys
        return tuple(SortKey(key.field, not key.descending, key.is_datetime) for key in keys)

    def conditions(self, given: Mapping[str, Any] | Any) -> list[Condition]:
        """The conditions of the named filters given (a mapping, or a dataclass of filter
        values such as resolvers/customers.py CustomerFilter); unknown names are a
        programming error."""
        values = given if isinstance(given, Mapping) else vars(given)
        found: list[Condition] = []
        for name, value in values.items():
            if value is None or value == "" or value == [] or value == ():
                continue  # not given, or "any" (an empty status list)
            found.extend(self.filters[name](value))
        return found


def _words(columns: tuple[str, ...]) -> FilterRule:
    """Every word of the search text in at least one of the columns, case-insensitively."""

    def conditions(text: str) -> list[Condition]:
        return [
            AnyOf(tuple(Contains(column, word, ignore_case=True) for column in columns))
            for word in search_words(text, ("filter", "search"))
        ]

    return conditions


def _utc(moment: datetime) -> datetime:
    """A moment without an offset means UTC, as everywhere in the API."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _tag(text: str) -> list[Condition]:
    tag = filter_text(text, ("filter", "tag")).strip().lower()
    return [Contains("tags_text", f"\n{tag}\n")] if tag else []


BY_ID = (SortKey("id"),)
NEWEST_FIRST = (SortKey("id", descending=True),)

CUSTOMERS = ReadRules(
    Customer,
    orders={
        "DISPLAY_NAME": (SortKey("sort_name"), SortKey("id")),
        "CREATED_AT": (SortKey("created_at", is_datetime=True), SortKey("id")),
        "UPDATED_AT": (SortKey("updated_at", is_datetime=True), SortKey("id")),
        "CUSTOMER_NUMBER": (SortKey("number"), SortKey("id")),
    },
    filters={
        # search_text is kept lower-cased (resolvers/customers.py), so a plain LIKE matches.
        "search": lambda text: [
            Contains("search_text", word) for word in search_words(text, ("filter", "search"))
        ],
        "status": lambda status: equals(status=status),
        "source": lambda source: equals(source=source),
        "tag": _tag,
        "created_after": lambda moment: [Compare("created_at", ">=", _utc(moment))],
        "created_before": lambda moment: [Compare("created_at", "<", _utc(moment))],
    },
)

_ITEM_FILTERS: dict[str, FilterRule] = {
    "customer_id": lambda customer_id: equals(customer_id=customer_id),
    "unassigned": lambda unassigned: [IsNull("customer_id", null=unassigned)],
}
DOMAINS = ReadRules(
    Domain,
    orders={"OLDEST_FIRST": BY_ID},
    child_order=("name", "id"),
    filters={**_ITEM_FILTERS, "search": _words(("name", "ascii_name"))},
)
CONTRACTS = ReadRules(
    Contract,
    orders={"OLDEST_FIRST": BY_ID},
    child_order=("starts_on", "id"),
    filters={**_ITEM_FILTERS, "search": _words(("contract_number", "product"))},
)
TASKS = ReadRules(
    Task,
    orders={"OLDEST_FIRST": BY_ID},
    child_order=("due_on", "id"),
    filters={
        **_ITEM_FILTERS,
        "search": _words(("title", "description")),
        "status": lambda status: equals(status=status),
    },
)

INQUIRIES = ReadRules(
    Inquiry,
    orders={"NEWEST_FIRST": NEWEST_FIRST},
    filters={"status": lambda status: equals(status=status)},
)
# newInquiryCount and the inquiries badge.
NEW_INQUIRIES = equals(status=InquiryStatus.NEW)

# An access invitation reads as EXPIRED once past expires_at, swept or not (effective_status
# in resolvers/invitations.py): the status filter and the badge go by that status too.
PENDING_INVITATIONS: tuple[Condition, ...] = (
    Compare("status", "=", InvitationStatus.PENDING),
    Compare("expires_at", ">", NOW),
)
_OVERDUE = AllOf(
    (Compare("status", "=", InvitationStatus.PENDING), Compare("expires_at", "<=", NOW))
)


# PENDING and unexpired, or CONNECTED: the partner may see who sent it.
LIVE_INVITATION = AnyOf(
    (Compare("status", "=", InvitationStatus.CONNECTED), AllOf(PENDING_INVITATIONS))
)


def _effective_status(status: InvitationStatus) -> Condition:
    if status == InvitationStatus.PENDING:
        return AllOf(PENDING_INVITATIONS)
    if status == InvitationStatus.EXPIRED:
        return AnyOf((Compare("status", "=", status), _OVERDUE))
    return Compare("status", "=", status)


INVITATIONS = ReadRules(
    AccessInvitation,
    scope=Scope(account_column="account_id"),
    orders={"NEWEST_FIRST": NEWEST_FIRST},
    filters={
        "statuses": lambda statuses: [AnyOf(tuple(_effective_status(s) for s in statuses))],
        # An account's invitations that still let the partner see who sent them.
        "live_from_account": lambda account_id: [*equals(account_id=account_id), LIVE_INVITATION],
        # A customer's authorization: the connected one, or once revoked, the latest.
        "linked_to_customers": lambda customer_ids: [
            OneOf("customer_id", tuple(customer_ids)),
            OneOf("status", (InvitationStatus.CONNECTED, InvitationStatus.REVOKED)),
        ],
    },
)


ACTIVITY = ReadRules(
    ActivityEvent,
    orders={"NEWEST_FIRST": NEWEST_FIRST},
    filters={"customer_id": lambda customer_id: equals(customer_id=customer_id)},
)
# A removed member's row stays (what they decided or were assigned still names them), but
# lists of the team and new assignments only take the active ones.
ACTIVE_MEMBERS = (IsNull("removed_at"),)
# The partners whose profile anyone may see and send inquiries and authorizations to.
PUBLIC_PROFILES = equals(is_public=True)
MEMBERS = ReadRules(PartnerMember, orders={"OLDEST_FIRST": BY_ID})

# A member invitation reads as EXPIRED once past expires_at, like access authorizations.
PENDING_MEMBER_INVITATIONS: tuple[Condition, ...] = (
    Compare("status", "=", MemberInvitationStatus.PENDING),
    Compare("expires_at", ">", NOW),
)


def _member_invitation_status(status: MemberInvitationStatus) -> Condition:
    if status == MemberInvitationStatus.PENDING:
        return AllOf(PENDING_MEMBER_INVITATIONS)
    if status == MemberInvitationStatus.EXPIRED:
        overdue = AllOf(
            (
                Compare("status", "=", MemberInvitationStatus.PENDING),
                Compare("expires_at", "<=", NOW),
            )
        )
        return AnyOf((Compare("status", "=", status), overdue))
    return Compare("status", "=", status)


MEMBER_INVITATIONS = ReadRules(
    MemberInvitation,
    orders={"NEWEST_FIRST": NEWEST_FIRST},
    filters={
        "statuses": lambda statuses: [AnyOf(tuple(_member_invitation_status(s) for s in statuses))],
    },
)
EMAILS = ReadRules(EmailDelivery, orders={"NEWEST_FIRST": NEWEST_FIRST})
PARTNERS = ReadRules(Partner, scope=Scope(member_column="id"))
# Webhooks: the partner's OWNER and ADMINs read them (resolvers/webhooks.py refuses the rest).
WEBHOOK_ENDPOINTS = ReadRules(WebhookEndpoint, orders={"OLDEST_FIRST": BY_ID})
WEBHOOK_DELIVERIES = ReadRules(
    WebhookDelivery,
    orders={"NEWEST_FIRST": NEWEST_FIRST},
    filters={
        "endpoint_id": lambda endpoint_id: equals(endpoint_id=endpoint_id),
        "statuses": lambda statuses: [OneOf("status", tuple(statuses))],
    },
)
CUSTOMER_IMPORTS = ReadRules(CustomerImport, orders={"NEWEST_FIRST": NEWEST_FIRST})
# Download links: a partner's (customer exports) or an account holder's own (their data).
DATA_EXPORTS = ReadRules(DataExport, scope=Scope(account_column="account_id"))

READ_RULES: dict[type[Model], ReadRules] = {
    rules.model: rules
    for rules in (
        CUSTOMERS,
        DOMAINS,
        CONTRACTS,
        TASKS,
        INQUIRIES,
        INVITATIONS,
        ACTIVITY,
        MEMBERS,
        MEMBER_INVITATIONS,
        EMAILS,
        PARTNERS,
        WEBHOOK_ENDPOINTS,
        WEBHOOK_DELIVERIES,
        CUSTOMER_IMPORTS,
        DATA_EXPORTS,
    )
}


def valid_token(token_hash: str) -> tuple[Condition, ...]:
    """A bearer token that signs someone in: known, not revoked, not expired."""
    return (
        Compare("token_hash", "=", token_hash),
        IsNull("revoked_at"),
        Compare("expires_at", ">", NOW),
    )


# ---------------------------------------------------------------- the tenant condition


def tenant(model: type[Model], actor: Actor) -> tuple[str, int]:
    """(column, value) every row of `model` the actor may read has: the tenant condition.

    Account holders read their own rows where the aggregate allows it; anyone else must be
    a partner member (Unauthenticated for visitors, Forbidden for other account holders).
    """
    scope = READ_RULES[model].scope
    if scope.account_column is not None and actor.account is not None:
        return scope.account_column, actor.account.id
    return scope.member_column, actor.require_partner_id()


def tenant_condition(model: type[Model], actor: Actor) -> Condition:
    column, value = tenant(model, actor)
    return Compare(column, "=", value)


def scoped(model: type[ModelT], actor: Actor) -> QuerySet[ModelT]:
    """The rows of `model` the actor may read; every read of tenant data starts here."""
    column, value = tenant(model, actor)
    return model.filter(**{column: value})


def team_sql(member_columns: Sequence[str], partner: Sequence[Condition]) -> tuple[str, list[Any]]:
    """A partner (p) meeting the `partner` conditions with each of its active members (m)
    and their `member_columns` (as member_<column>), in one statement written with $1, $2,
    ...; and its parameters. The system's read of a team it notifies (resolvers/teams.py)."""
    values: list[Any] = []

    def bind(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"

    active = to_sql(ACTIVE_MEMBERS, "m", bind)
    where = to_sql(partner, "p", bind)
    members = ", ".join(f'm."{column}" AS "member_{column}"' for column in member_columns)
    sql = (
        f"SELECT p.id AS partner_id, p.display_name AS partner_name, {members}"
        f" FROM partner p LEFT JOIN partner_member m ON m.partner_id = p.id AND {active}"
        f" WHERE {where} ORDER BY m.id"
    )
    return sql, values


def selected(
    model: type[ModelT], actor: Actor, conditions: Sequence[Condition] = ()
) -> QuerySet[ModelT]:
    """The actor's rows of `model` that meet `conditions` (declared above)."""
    query = scoped(model, actor)
    return query.filter(to_q(conditions)) if conditions else query


# ---------------------------------------------------------------- the hot paths' plain statements
# The same rules as `selected`, as one plain statement: no query is built, no queryset
# copied. The write paths use these for the reads and decisions they make on every call.


def _where(
    model: type[Model], actor: Actor, conditions: Sequence[Condition], alias: str
) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def bind(value: Any) -> str:
        values.append(datetime.now(UTC) if value is NOW else value)
        return f"${len(values)}"

    return to_sql([tenant_condition(model, actor), *conditions], alias, bind), values


def _foreign_key(model: type[Model], name: str) -> tuple[type[Model], str]:
    """The model a foreign key of `model` points at, and its column."""
    field = model._meta.fields_map[name]
    assert isinstance(field, ForeignKeyFieldInstance), name
    return field.related_model, field.source_field or f"{name}_id"


async def fetch_selected(
    model: type[ModelT],
    actor: Actor,
    conditions: Sequence[Condition] = (),
    *,
    related: Sequence[str] = (),
) -> list[ModelT]:
    """The actor's rows of `model` that meet `conditions`, as `selected(...)` reads them,
    with the rows of the foreign keys named in `related` joined in (as select_related)."""
    where, values = _where(model, actor, conditions, "r")
    columns = model_columns(model, "r")
    joins = []
    targets = [_foreign_key(model, name) for name in related]
    for number, (target, column) in enumerate(targets):
        alias = f"j{number}"
        columns += model_columns(target, alias)
        joins.append(f'LEFT JOIN "{target._meta.db_table}" {alias} ON {alias}.id = r."{column}"')
    sql = (
        f'SELECT {", ".join(columns)} FROM "{model._meta.db_table}" r {" ".join(joins)}'
        f" WHERE {where} ORDER BY r.id"
    )
    found = []
    for row in await fetch_rows(sql, values):
        instance = model_from_row(model, row, "r")
        assert instance is not None
        for number, (name, (target, _column)) in enumerate(zip(related, targets, strict=True)):
            joined = model_from_row(target, row, f"j{number}")
            object.__setattr__(instance, f"_{name}", joined)  # as select_related leaves it
        found.append(instance)
    return found


async def update_selected(
    model: type[Model], actor: Actor, conditions: Sequence[Condition], changes: Mapping[str, Any]
) -> int:
    """UPDATE the actor's rows of `model` that meet `conditions` (a decision's conditional
    UPDATE: of concurrent callers, one changes the row); how many rows it changed."""
    where, values = _where(model, actor, conditions, f'"{model._meta.db_table}"')
    assignments = []
    for column, value in to_db_values(model, changes).items():
        values.append(value)
        assignments.append(f'"{column}" = ${len(values)}')
    sql = f'UPDATE "{model._meta.db_table}" SET {", ".join(assignments)} WHERE {where} RETURNING id'
    return len(await fetch_rows(sql, values))


# How many rows a subscriber that may have missed events is sent at most, to catch up.
CATCH_UP_ROWS = 100


async def newest_id(model: type[Model], actor: Actor) -> int:
    """The actor's newest row of `model` (0 when there is none): where a feed starts."""
    newest = await scoped(model, actor).order_by("-id").first().values_list("id", flat=True)
    return int(newest) if newest is not None else 0  # type: ignore[call-overload]


async def rows_after(model: type[ModelT], actor: Actor, after_id: int) -> list[ModelT]:
    """The actor's rows of `model` newer than `after_id`, oldest first (at most CATCH_UP_ROWS):
    what a feed missed while its events were lost."""
    query = scoped(model, actor).filter(id__gt=after_id).order_by("id")
    return list(await query.limit(CATCH_UP_ROWS))
