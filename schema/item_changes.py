"""Changing and deleting items after creation: updateDomain, updateContract, deleteItem."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from models.item import ContractStatus, DomainStatus
from resolvers import item_changes, items
from resolvers.errors import NotFound
from schema.auth import OkPayload
from schema.context import Info
from schema.ids import decode_id, parse_global_id
from schema.inputs import given_fields
from schema.item_inputs import MoneyInput
from schema.items import ContractPayload, DomainPayload
from schema.mutations import mutation


@strawberry.input(
    description="Only the fields given change; null clears expiresOn. The name is the domain: delete and create to change it."
)
class DomainPatch:
    status: DomainStatus | None = strawberry.field(
        default=strawberry.UNSET, description="The new status; not null."
    )
    expires_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="When the registration expires; null clears it."
    )


@strawberry.input(
    description="Only the fields given change; null clears endsOn and monthlyFee. Validated as createContract is."
)
class ContractPatch:
    product: str | None = strawberry.field(
        default=strawberry.UNSET, description="What it is for, at most 200 characters; not null."
    )
    status: ContractStatus | None = strawberry.field(
        default=strawberry.UNSET, description="The new status; not null."
    )
    starts_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="When it starts; not null."
    )
    ends_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="When it ends, not before startsOn; null: open-ended."
    )
    monthly_fee: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="The fee per month; null: none."
    )


@strawberry.type
class ItemChangeMutation:
    @mutation(description="Change a domain's status or expiry date; the timeline records it.")
    async def update_domain(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The domain's global id.")],
        patch: Annotated[DomainPatch, strawberry.argument(description="The fields to change.")],
    ) -> DomainPayload:
        domain_id = decode_id(id, "Domain", ("id",))
        domain = await item_changes.update_domain(
            info.context.actor, domain_id, given_fields(patch)
        )
        return DomainPayload.ok(domain)

    @mutation(description="Change the fields given of a contract; the timeline records it.")
    async def update_contract(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The contract's global id.")],
        patch: Annotated[ContractPatch, strawberry.argument(description="The fields to change.")],
    ) -> ContractPayload:
        contract_id = decode_id(id, "Contract", ("id",))
        contract = await item_changes.update_contract(
            info.context.actor, contract_id, given_fields(patch)
        )
        return ContractPayload.ok(contract)

    @mutation(
        description="Delete a domain, contract or task for good; its customer's timeline records it."
    )
    async def delete_item(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The Domain, Contract or Task (global id)."),
        ],
    ) -> OkPayload:
        parsed = parse_global_id(id)
        if parsed is None or parsed[0] not in items.ITEM_MODELS:
            raise NotFound(items.ITEM, ("id",))
        await item_changes.delete_item(info.context.actor, *parsed)
        return OkPayload(ok=True, errors=[])
