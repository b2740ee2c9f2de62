"""Changing and deleting items after creation: updateDomain, updateContract, deleteItem.

Each change is a conditional UPDATE (or DELETE) on the values it read, so a concurrent
edit is never overwritten silently (CONFLICT instead), and each writes its activity row
(ITEM_UPDATED, ITEM_DELETED) on the item's customer's timeline, whose event goes out after
commit. Validation is the creation's (resolvers/items.py, resolvers/money.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import events
from events.activity import record_activity
from models.activity import ActivityVerb
from models.item import Contract, ContractStatus, Domain, DomainStatus
from resolvers.actor import Actor
from resolvers.errors import Conflict, NotFound
from resolvers.items import ITEM, ITEM_MODELS, Item, clean_contract, describe, get_item, item_type
from resolvers.read_rules import scoped
from resolvers.validation import Problems

DOMAIN_PATCH_NAMES = {"status": "status", "expires_on": "expiresOn"}
CONTRACT_PATCH_NAMES = {
    "product": "product",
    "status": "status",
    "starts_on": "startsOn",
    "ends_on": "endsOn",
    "fee_amount": "monthlyFee",
    "fee_currency": "monthlyFee",
}


async def _save_changes(
    actor: Actor, item: Item, changed: Mapping[str, Any], names: Mapping[str, str]
) -> None:
    """Write `changed` if the item still has the values read, with its ITEM_UPDATED row."""
    as_read = {name: getattr(item, name) for name in changed}
    async with events.transaction():
        updated = await scoped(type(item), actor).filter(id=item.id, **as_read).update(**changed)
        if not updated:
            raise Conflict("The item was changed meanwhile; reload and retry.", ("id",))
        fields = ", ".join(dict.fromkeys(names[name] for name in names if name in changed))
        await record_activity(
            item.partner_id,
            ActivityVerb.ITEM_UPDATED,
            f"{describe(item)} changed: {fields}",
            actor=actor,
            customer_id=item.customer_id,
            subject=(item_type(item), item.id),
        )


async def update_domain(actor: Actor, domain_id: int, patch: Mapping[str, Any]) -> Domain:
    """Change a domain's status or expiry date (its name is the domain: delete and create)."""
    domain = await scoped(Domain, actor).get_or_none(id=domain_id)
    if domain is None:
        raise NotFound("Domain", ("id",))
    problems = Problems(("patch",))
    values: dict[str, Any] = {}
    if "status" in patch:
        if patch["status"] is None:
            problems.add("status", "status must be ACTIVE, PENDING or EXPIRED.")
        else:
            values["status"] = DomainStatus(patch["status"])
    if "expires_on" in patch:
        expires_on = patch["expires_on"]
        assert expires_on is None or isinstance(expires_on, date)
        values["expires_on"] = expires_on
    problems.raise_if_any()
    changed = {name: value for name, value in values.items() if getattr(domain, name) != value}
    if changed:
        await _save_changes(actor, domain, changed, DOMAIN_PATCH_NAMES)
    return await Domain.get(id=domain.id)


async def update_contract(actor: Actor, contract_id: int, patch: Mapping[str, Any]) -> Contract:
    """Change the given fields of a contract, validated as createContract validates them."""
    contract = await scoped(Contract, actor).get_or_none(id=contract_id)
    if contract is None:
        raise NotFound("Contract", ("id",))
    current_fee = (
        None
        if contract.fee_amount is None
        else {"amount": _amount_text(contract.fee_amount), "currency": contract.fee_currency}
    )
    merged = {
        "product": contract.product,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "monthly_fee": current_fee,
        **{name: value for name, value in patch.items() if name != "status"},
    }
    problems = Problems(("patch",))
    values = clean_contract(problems, merged)
    values.pop("contract_number")
    if "status" in patch:
        if patch["status"] is None:
            problems.add("status", "status must be ACTIVE, CANCELLED or ENDED.")
        else:
            values["status"] = ContractStatus(patch["status"])
    problems.raise_if_any()
    changed = {name: value for name, value in values.items() if getattr(contract, name) != value}
    if changed:
        await _save_changes(actor, contract, changed, CONTRACT_PATCH_NAMES)
    return await Contract.get(id=contract.id)


def _amount_text(amount: Decimal) -> str:
    return f"{Decimal(amount).normalize():f}"


async def delete_item(actor: Actor, type_name: str, item_id: int) -> None:
    """Delete a domain, contract or task for good, with an ITEM_DELETED row on the timeline
    of the customer it was assigned to."""
    actor.require_partner_id()
    item = await get_item(actor, type_name, item_id)
    if item is None:
        raise NotFound(ITEM, ("id",))
    async with events.transaction():
        deleted = await scoped(ITEM_MODELS[type_name], actor).filter(id=item.id).delete()
        if not deleted:
            raise NotFound(ITEM, ("id",))  # deleted concurrently
        await record_activity(
            item.partner_id,
            ActivityVerb.ITEM_DELETED,
            f"{describe(item)} deleted",
            actor=actor,
            customer_id=item.customer_id,
            subject=(item_type(item), item.id),
        )
