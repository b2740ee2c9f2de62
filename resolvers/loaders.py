"""Batch look-ups behind the per-request DataLoaders (schema/context.py builds them).

Each takes the partner whose data may be read and a list of keys, and answers in
key order with one SQL statement, so lists never cost one query per row.
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

ModelT = TypeVar("ModelT", bound=Model)


def _by_id(rows: Sequence[ModelT], keys: Sequence[int]) -> list[ModelT | None]:
    found = {row.pk: row for row in rows}
    return [found.get(key) for key in keys]


def _grouped(rows: Sequence[ModelT], keys: Sequence[int], attribute: str) -> list[list[ModelT]]:
    groups: dict[int, list[ModelT]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, attribute)].append(row)
    return [groups.get(key, []) for key in keys]


async def customers_by_id(partner_id: int, keys: Sequence[int]) -> list[Customer | None]:
    return _by_id(await Customer.filter(partner_id=partner_id, id__in=keys), keys)


async def members_by_id(partner_id: int, keys: Sequence[int]) -> list[PartnerMember | None]:
    return _by_id(await PartnerMember.filter(partner_id=partner_id, id__in=keys), keys)


async def partners_by_id(keys: Sequence[int]) -> list[Partner | None]:
    return _by_id(await Partner.filter(id__in=keys), keys)


async def accounts_by_id(keys: Sequence[int]) -> list[AccountHolder | None]:
    """Account holders are read only through invitations already scoped to the partner."""
    return _by_id(await AccountHolder.filter(id__in=keys), keys)


async def emails_by_id(keys: Sequence[int]) -> list[EmailDelivery | None]:
    return _by_id(await EmailDelivery.filter(id__in=keys), keys)


async def domains_by_customer(partner_id: int, keys: Sequence[int]) -> list[list[Domain]]:
    rows = await Domain.filter(partner_id=partner_id, customer_id__in=keys).order_by("name", "id")
    return _grouped(rows, keys, "customer_id")


async def contracts_by_customer(partner_id: int, keys: Sequence[int]) -> list[list[Contract]]:
    rows = await Contract.filter(partner_id=partner_id, customer_id__in=keys).order_by(
        "starts_on", "id"
    )
    return _grouped(rows, keys, "customer_id")


async def tasks_by_customer(partner_id: int, keys: Sequence[int]) -> list[list[Task]]:
    rows = await Task.filter(partner_id=partner_id, customer_id__in=keys).order_by("due_on", "id")
    return _grouped(rows, keys, "customer_id")


async def inquiries_by_customer(partner_id: int, keys: Sequence[int]) -> list[list[Inquiry]]:
    rows = await Inquiry.filter(partner_id=partner_id, customer_id__in=keys).order_by("id")
    return _grouped(rows, keys, "customer_id")


async def authorization_by_customer(
    partner_id: int, keys: Sequence[int]
) -> list[AccessInvitation | None]:
    """The customer's connected (or, once revoked, latest) access authorization."""
    rows = await AccessInvitation.filter(
        partner_id=partner_id,
        customer_id__in=keys,
        status__in=(InvitationStatus.CONNECTED, InvitationStatus.REVOKED),
    ).order_by("id")
    latest: dict[int, AccessInvitation] = {}
    for row in rows:
        assert row.customer_id is not None
        current = latest.get(row.customer_id)
        # a CONNECTED one wins over an older REVOKED one
        if current is None or current.status != InvitationStatus.CONNECTED:
            latest[row.customer_id] = row
    return [latest.get(key) for key in keys]
