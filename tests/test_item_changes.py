"""Item lifecycle (issue "customer data", part 4): updateDomain, updateContract and deleteItem,
each validated as creation is, with its activity row on the customer's timeline and its event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from events import EventKind, get_broker
from tests.factories import CREATE_CONTRACT, CREATE_DOMAIN, CREATE_TASK, pk_of
from tests.support import GraphQLClient, PartnerLogin, create_customer, register_partner

ERRORS = "errors { code message field }"
UPDATE_DOMAIN = f"""mutation($id: ID!, $patch: DomainPatch!) {{
  updateDomain(id: $id, patch: $patch) {{ domain {{ id name status expiresOn }} {ERRORS} }} }}"""
UPDATE_CONTRACT = f"""mutation($id: ID!, $patch: ContractPatch!) {{
  updateContract(id: $id, patch: $patch) {{
    contract {{ contractNumber product status startsOn endsOn monthlyFee {{ amount currency }} }} {ERRORS} }} }}"""
DELETE_ITEM = f"mutation($id: ID!) {{ deleteItem(id: $id) {{ ok {ERRORS} }} }}"
TIMELINE = """query($id: ID!) { customer(id: $id) {
  domains { name } activity(first: 1) { edges { node { verb summary subjectId } } } } }"""


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client)


@pytest.fixture
async def customer(client: GraphQLClient, partner: PartnerLogin) -> dict[str, Any]:
    return await create_customer(client, partner.token, firstName="Ada", lastName="Byron")


async def new_domain(client: GraphQLClient, partner: PartnerLogin, customer_id: str) -> str:
    payload = await client.mutate(
        CREATE_DOMAIN,
        {"input": {"name": "byron.example", "customerId": customer_id}},
        partner.token,
    )
    return str(payload["domain"]["id"])


async def new_contract(client: GraphQLClient, partner: PartnerLogin, customer_id: str) -> str:
    payload = await client.mutate(
        CREATE_CONTRACT,
        {
            "input": {
                "product": "Hosting M",
                "startsOn": "2026-01-01",
                "monthlyFee": {"amount": "19.90", "currency": "EUR"},
                "customerId": customer_id,
            }
        },
        partner.token,
    )
    return str(payload["contract"]["id"])


async def latest_activity(client: GraphQLClient, partner: PartnerLogin, customer_id: str) -> Any:
    found = await client.gql(TIMELINE, {"id": customer_id}, partner.token)
    return found["customer"]["activity"]["edges"][0]["node"]


async def test_a_domains_status_and_expiry_change_on_the_timeline(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any]
) -> None:
    # given
    domain_id = await new_domain(client, partner, customer["id"])
    # when
    payload = await client.mutate(
        UPDATE_DOMAIN,
        {"id": domain_id, "patch": {"status": "EXPIRED", "expiresOn": "2027-03-31"}},
        partner.token,
    )
    cleared = await client.mutate(
        UPDATE_DOMAIN, {"id": domain_id, "patch": {"expiresOn": None}}, partner.token
    )
    # then
    assert payload["domain"] == {
        "id": domain_id,
        "name": "byron.example",
        "status": "EXPIRED",
        "expiresOn": "2027-03-31",
    }
    assert cleared["domain"]["expiresOn"] is None
    assert await latest_activity(client, partner, customer["id"]) == {
        "verb": "ITEM_UPDATED",
        "summary": "Domain byron.example changed: expiresOn",
        "subjectId": domain_id,
    }


async def test_a_domains_status_cannot_be_cleared(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any]
) -> None:
    # given
    domain_id = await new_domain(client, partner, customer["id"])
    # when
    payload = (
        await client.gql(UPDATE_DOMAIN, {"id": domain_id, "patch": {"status": None}}, partner.token)
    )["updateDomain"]
    # then
    assert payload["errors"] == [
        {
            "code": "VALIDATION",
            "message": "status must be ACTIVE, PENDING or EXPIRED.",
            "field": ["patch", "status"],
        }
    ]


async def test_a_contract_changes_as_its_patch_says(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any]
) -> None:
    # given
    contract_id = await new_contract(client, partner, customer["id"])
    # when
    payload = await client.mutate(
        UPDATE_CONTRACT,
        {
            "id": contract_id,
            "patch": {
                "product": "Hosting L",
                "status": "CANCELLED",
                "endsOn": "2026-12-31",
                "monthlyFee": {"amount": "29", "currency": "chf"},
            },
        },
        partner.token,
    )
    unchanged_fee = await client.mutate(
        UPDATE_CONTRACT,
        {"id": contract_id, "patch": {"monthlyFee": {"amount": "29.00", "currency": "CHF"}}},
        partner.token,
    )
    # then
    assert payload["contract"] == {
        "contractNumber": "V-00001",
        "product": "Hosting L",
        "status": "CANCELLED",
        "startsOn": "2026-01-01",
        "endsOn": "2026-12-31",
        "monthlyFee": {"amount": "29.00", "currency": "CHF"},
    }
    assert unchanged_fee["contract"] == payload["contract"]
    assert await latest_activity(client, partner, customer["id"]) == {
        "verb": "ITEM_UPDATED",
        "summary": "Contract V-00001 (Hosting M) changed: product, status, endsOn, monthlyFee",
        "subjectId": contract_id,
    }


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        (
            {"endsOn": "2025-12-31"},
            ["patch", "endsOn"],
            "The end date must not be before the start date.",
        ),
        ({"startsOn": None}, ["patch", "startsOn"], "Start date is required."),
        ({"product": " "}, ["patch", "product"], "Product is required."),
        (
            {"monthlyFee": {"amount": "-1", "currency": "EUR"}},
            ["patch", "monthlyFee", "amount"],
            "Amount must not be negative.",
        ),
        (
            {"monthlyFee": {"amount": "1", "currency": "XXX"}},
            ["patch", "monthlyFee", "currency"],
            "Currency XXX is not a current ISO 4217 currency.",
        ),
        ({"status": None}, ["patch", "status"], "status must be ACTIVE, CANCELLED or ENDED."),
    ],
    ids=[
        "ends-before-start",
        "no-start",
        "no-product",
        "negative-fee",
        "bad-currency",
        "no-status",
    ],
)
async def test_a_contract_patch_is_validated_as_a_new_contract_is(
    client: GraphQLClient,
    partner: PartnerLogin,
    customer: dict[str, Any],
    patch: dict[str, Any],
    field: list[str],
    message: str,
) -> None:
    # given
    contract_id = await new_contract(client, partner, customer["id"])
    # when
    payload = (
        await client.gql(UPDATE_CONTRACT, {"id": contract_id, "patch": patch}, partner.token)
    )["updateContract"]
    # then
    assert payload == {
        "contract": None,
        "errors": [{"code": "VALIDATION", "message": message, "field": field}],
    }


@pytest.mark.parametrize("kind", ["Domain", "Contract", "Task"])
async def test_an_item_is_deleted_with_a_row_on_its_customers_timeline(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any], kind: str
) -> None:
    # given
    if kind == "Domain":
        item_id, described = (
            await new_domain(client, partner, customer["id"]),
            "Domain byron.example",
        )
    elif kind == "Contract":
        item_id, described = (
            await new_contract(client, partner, customer["id"]),
            "Contract V-00001 (Hosting M)",
        )
    else:
        task = await client.mutate(
            CREATE_TASK,
            {"input": {"title": "Renew SSL", "customerId": customer["id"]}},
            partner.token,
        )
        item_id, described = task["task"]["id"], "Task “Renew SSL”"
    # when
    payload = await client.mutate(DELETE_ITEM, {"id": item_id}, partner.token)
    # then
    assert payload["ok"] is True
    node = await client.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": item_id}, partner.token
    )
    assert node["node"] is None
    assert await latest_activity(client, partner, customer["id"]) == {
        "verb": "ITEM_DELETED",
        "summary": f"{described} deleted",
        "subjectId": item_id,
    }


async def test_another_partners_item_cannot_be_changed_or_deleted(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any]
) -> None:
    # given
    domain_id = await new_domain(client, partner, customer["id"])
    other = await register_partner(client)
    # when
    update = (
        await client.gql(
            UPDATE_DOMAIN, {"id": domain_id, "patch": {"status": "PENDING"}}, other.token
        )
    )["updateDomain"]
    delete = (await client.gql(DELETE_ITEM, {"id": domain_id}, other.token))["deleteItem"]
    # then
    not_found = [{"code": "NOT_FOUND", "message": "Domain not found.", "field": ["id"]}]
    assert update["errors"] == not_found
    assert delete == {
        "ok": False,
        "errors": [{"code": "NOT_FOUND", "message": "Item not found.", "field": ["id"]}],
    }


async def test_changes_and_deletions_are_published_after_commit(
    client: GraphQLClient, partner: PartnerLogin, customer: dict[str, Any]
) -> None:
    # given
    domain_id = await new_domain(client, partner, customer["id"])
    kinds: list[str] = []
    async with get_broker().subscribe(pk_of(partner.partner_id)) as stream:
        # when
        await client.mutate(
            UPDATE_DOMAIN, {"id": domain_id, "patch": {"status": "PENDING"}}, partner.token
        )
        await client.mutate(DELETE_ITEM, {"id": domain_id}, partner.token)
        while len(kinds) < 4:
            kinds.append((await asyncio.wait_for(anext(stream), 5)).kind)
    # then
    assert kinds == [
        EventKind.ACTIVITY_RECORDED,
        EventKind.ITEM_UPDATED,
        EventKind.ACTIVITY_RECORDED,
        EventKind.ITEM_DELETED,
    ]
