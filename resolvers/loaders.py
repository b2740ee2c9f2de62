"""Batch look-ups behind the per-request DataLoaders (schema/context.py builds them).

Each takes the actor whose rows may be read and a list of keys, and answers in key order
with one SQL statement, so lists never cost one query per row. Scoping and the order of
child lists come from resolvers/read_rules.py, like every other read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from tortoise.models import Model

from models.account import AccountHolder
from models.customer import Customer
from models.inquiry import Inquiry
from models.invitation import AccessInvitation, InvitationStatus
from models.item import Contract, Domain, Task
from models.outbox import EmailDelivery
from models.partner import Partner, PartnerMember
from resolvers.actor import Actor
from resolvers.conditions import OneOf
from resolvers.read_rules import INVITATIONS, READ_RULES, scoped, selected

ModelT = TypeVar("ModelT", bound=Model)


def _by_id(rows: Sequence[ModelT], keys: Sequence[int]) -> list[ModelT | None]:
    found = {row.pk: row for row in rows}
    return [found.get(key) for key in keys]


def _grouped(rows: Sequence[ModelT], keys: Sequence[int], attribute: str) -> list[list[ModelT]]:
    groups: dict[int, list[ModelT]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, attribute)].append(row)
    return [groups.get(key, []) for key in keys]


async def _rows_by_id(
    model: type[ModelT], actor: Actor, keys: Sequence[int]
) -> list[ModelT | None]:
    return _by_id(await scoped(model, actor).filter(id__in=keys), keys)


async def _children(model: type[ModelT], actor: Actor, keys: Sequence[int]) -> list[list[ModelT]]:
    """The rows of `model` belonging to each customer in `keys`, in their child-list order."""
    query = selected(model, actor, [OneOf("customer_id", tuple(keys))])
    rows = await query.order_by(*READ_RULES[model].child_order)
    return _grouped(rows, keys, "customer_id")


async def customers_by_id(actor: Actor, keys: Sequence[int]) -> list[Customer | None]:
    return await _rows_by_id(Customer, actor, keys)


async def members_by_id(actor: Actor, keys: Sequence[int]) -> list[PartnerMember | None]:
    return await _rows_by_id(PartnerMember, actor, keys)


async def emails_by_id(actor: Actor, keys: Sequence[int]) -> list[EmailDelivery | None]:
    return await _rows_by_id(EmailDelivery, actor, keys)


async def partners_by_id(keys: Sequence[int]) -> list[Partner | None]:
    """Partners' public profiles: anyone who sees an invitation sees its partner's profile."""
    return _by_id(await Partner.filter(id__in=keys), keys)


async def accounts_by_id(keys: Sequence[int]) -> list[AccountHolder | None]:
    """Account holders are read only through invitations already scoped to the partner."""
    return _by_id(await AccountHolder.filter(id__in=keys), keys)


async def domains_by_customer(actor: Actor, keys: Sequence[int]) -> list[list[Domain]]:
    return await _children(Domain, actor, keys)


async def contracts_by_customer(actor: Actor, keys: Sequence[int]) -> list[list[Contract]]:
    return await _children(Contract, actor, keys)


async def tasks_by_customer(actor: Actor, keys: Sequence[int]) -> list[list[Task]]:
    return await _children(Task, actor, keys)


async def inquiries_by_customer(actor: Actor, keys: Sequence[int]) -> list[list[Inquiry]]:
    return await _children(Inquiry, actor, keys)


async def invitation_by_customer(
    actor: Actor, keys: Sequence[int]
) -> list[AccessInvitation | None]:
    """The customer's connected (or, once revoked, latest) access invitation."""
    conditions = INVITATIONS.conditions({"linked_to_customers": keys})
    rows = await selected(AccessInvitation, actor, conditions).order_by("id")
    latest: dict[int, AccessInvitation] = {}
    for row in rows:
        assert row.customer_id is not None
        current = latest.get(row.customer_id)
        # a CONNECTED one wins over an older REVOKED one
        if current is None or current.status != InvitationStatus.CONNECTED:
            latest[row.customer_id] = row
    return [latest.get(key) for key in keys]
