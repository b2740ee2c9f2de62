"""Domains, contracts and tasks: create, validate, assign to customers, list, isolate."""

from __future__ import annotations

import asyncio
import base64
from datetime import date
from typing import Any

import pytest
from starlette.applications import Starlette

from events import EventKind
from models.activity import ActivityEvent
from models.item import Task
from models.partner import PartnerMember
from resolvers import customers as customer_resolvers
from resolvers import items as item_resolvers
from resolvers.actor import Actor
from tests.conftest import StatementCounter
from tests.factories import pk_of
from tests.support import GraphQLClient, PartnerLogin, create_customer, register_partner, unique

ERRORS = "errors { code message field }"
DOMAIN_FIELDS = "id name asciiName status expiresOn createdAt customer { id displayName }"
CONTRACT_FIELDS = "id contractNumber product status startsOn endsOn monthlyFee { amount currency } createdAt customer { id }"
TASK_FIELDS = "id title description status priority dueOn createdAt completedAt customer { id } assignee { id name }"
CREATE_DOMAIN = f"""
mutation($input: DomainInput!) {{ createDomain(input: $input) {{ domain {{ {DOMAIN_FIELDS} }} {ERRORS} }} }}"""
CREATE_CONTRACT = f"""
mutation($input: ContractInput!) {{ createContract(input: $input) {{ contract {{ {CONTRACT_FIELDS} }} {ERRORS} }} }}"""
CREATE_TASK = f"""
mutation($input: TaskInput!) {{ createTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
UPDATE_TASK = f"""
mutation($id: ID!, $patch: TaskPatch!) {{ updateTask(id: $id, patch: $patch) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
ASSIGN = f"""
mutation($input: AssignInput!) {{
  assignItem(input: $input) {{
    item {{ id ... on Domain {{ customer {{ id }} }} ... on Contract {{ customer {{ id }} }} ... on Task {{ customer {{ id }} }} }}
    customer {{ id }}
    {ERRORS}
  }}
}}"""
DOMAINS = """
query($first: Int, $after: String, $filter: ItemFilter) {
  domains(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name customer { id } } }
  }
}"""
CONTRACTS = """
query($filter: ItemFilter) { contracts(filter: $filter) { totalCount edges { node { id contractNumber product } } } }"""
TASKS = """
query($filter: ItemFilter, $status: TaskStatus) {
  tasks(filter: $filter, status: $status) { totalCount edges { node { id title status } } }
}"""
CUSTOMER_ITEMS = """
query($id: ID!) {
  customer(id: $id) {
    domains { id name } contracts { id contractNumber } tasks { id title } openTasks: tasks(status: OPEN) { id title }
  }
}"""
TIMELINE = """
query($id: ID!) {
  customer(id: $id) { activity(first: 20) { edges { node { verb summary subjectId actorName customer { id } } } } }
}"""
NODE = """
query($id: ID!) {
  node(id: $id) { id ... on Domain { name } ... on Contract { contractNumber } ... on Task { title } }
}"""
CUSTOMERS_WITH_ITEMS = """
query($first: Int) {
  customers(first: $first) { edges { node { id domains { id } contracts { id } tasks(status: OPEN) { id } } } }
}"""


async def new_domain(
    client: GraphQLClient, token: str, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    payload = await client.mutate(
        CREATE_DOMAIN, {"input": {"name": name or f"{unique('site')}.example", **fields}}, token
    )
    return payload["domain"]


async def new_contract(client: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    values = {"product": "Hosting M", "startsOn": "2026-01-01", **fields}
    return (await client.mutate(CREATE_CONTRACT, {"input": values}, token))["contract"]


async def new_task(client: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    values = {"title": "Renew SSL certificate", **fields}
    return (await client.mutate(CREATE_TASK, {"input": values}, token))["task"]


async def timeline(client: GraphQLClient, token: str, customer_id: str) -> list[dict[str, Any]]:
    """The customer's activity, oldest first."""
    data = await client.gql(TIMELINE, {"id": customer_id}, token)
    return [edge["node"] for edge in reversed(data["customer"]["activity"]["edges"])]


def item_events(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (event["verb"], event["subjectId"]) for event in events if event["verb"].startswith("ITEM_")
    ]


def errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    (payload,) = body.values()
    return payload["errors"]


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


# ---------------------------------------------------------------- domains


async def test_domain_is_created_unassigned_and_active(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    # when
    domain = await new_domain(client, partner.token, "example.com", expiresOn="2027-03-31")
    # then
    assert (domain["name"], domain["asciiName"], domain["status"]) == (
        "example.com",
        "example.com",
        "ACTIVE",
    )
    assert domain["expiresOn"] == "2027-03-31"
    assert domain["customer"] is None
    assert domain["createdAt"].endswith("+00:00")


async def test_domain_created_for_a_customer_is_assigned_and_on_its_timeline(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    # when
    domain = await new_domain(client, partner.token, "rossi.example", customerId=customer["id"])
    # then
    assert domain["customer"]["id"] == customer["id"]
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", domain["id"])]
    assert events[-1]["summary"] == f"Domain rossi.example assigned to {customer['displayName']}"
    assert events[-1]["actorName"] == "Owner Person"


async def test_domain_name_is_trimmed_lower_cased_and_idna_normalised(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client)
    domain = await new_domain(client, partner.token, "  Bücher.Example ")
    assert (domain["name"], domain["asciiName"]) == ("bücher.example", "xn--bcher-kva.example")


async def test_punycode_input_is_stored_with_its_unicode_name(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    domain = await new_domain(client, partner.token, "XN--BCHER-KVA.example.")
    assert (domain["name"], domain["asciiName"]) == ("bücher.example", "xn--bcher-kva.example")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "localhost",
        "exa mple.com",
        "-bad.com",
        "bad-.com",
        "a..b.com",
        "under_score.com",
        "http://example.com",
        "xn--zz.com",
        "1.2.3.4",
        f"{'x' * 64}.com",
        ".".join(["abcdefghij"] * 24) + ".com",  # 267 characters
        "tab\there.com",
    ],
)
async def test_invalid_domain_names_are_rejected(client: GraphQLClient, name: str) -> None:
    partner = await register_partner(client)
    body = await client.gql(CREATE_DOMAIN, {"input": {"name": name}}, partner.token)
    assert body["createDomain"]["domain"] is None
    assert [(error["code"], error["field"]) for error in errors_of(body)] == [
        ("VALIDATION", ["name"])
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("example.com", "example.com"),
        ("example.com", "EXAMPLE.Com"),
        ("example.com", "example.com."),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "BÜCHER.example"),
    ],
)
async def test_the_same_domain_twice_is_a_conflict(
    client: GraphQLClient, first: str, second: str
) -> None:
    # given
    partner = await register_partner(client)
    await new_domain(client, partner.token, first)
    # when
    body = await client.gql(CREATE_DOMAIN, {"input": {"name": second}}, partner.token)
    # then
    (error,) = errors_of(body)
    assert (error["code"], error["field"]) == ("CONFLICT", ["name"])
    assert "exists already" in error["message"]


async def test_two_partners_may_hold_the_same_domain(client: GraphQLClient) -> None:
    first = await register_partner(client)
    second = await register_partner(client)
    await new_domain(client, first.token, "shared.example")
    domain = await new_domain(client, second.token, "shared.example")
    assert domain["name"] == "shared.example"


# ---------------------------------------------------------------- contracts


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("49", "EUR", ("49.00", "EUR")),
        ("49.9", "EUR", ("49.90", "EUR")),
        ("0", "CHF", ("0.00", "CHF")),
        ("12.3450", "usd", ("12.345", "USD")),
        (" 1000000.0001 ", "JPY", ("1000000.0001", "JPY")),
        ("9999999999.9999", "EUR", ("9999999999.9999", "EUR")),
    ],
)
async def test_monthly_fee_is_a_normalised_decimal_string(
    client: GraphQLClient, amount: str, currency: str, shown: tuple[str, str]
) -> None:
    partner = await register_partner(client)
    contract = await new_contract(
        client, partner.token, monthlyFee={"amount": amount, "currency": currency}
    )
    assert (contract["monthlyFee"]["amount"], contract["monthlyFee"]["currency"]) == shown


async def test_contract_is_created_with_all_fields_for_a_customer(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    # when
    contract = await new_contract(
        client,
        partner.token,
        product=" Website care ",
        startsOn="2026-02-01",
        endsOn="2027-01-31",
        monthlyFee={"amount": "89.90", "currency": "EUR"},
        customerId=customer["id"],
    )
    # then
    assert contract["contractNumber"] == "V-00001"
    assert (contract["product"], contract["status"]) == ("Website care", "ACTIVE")
    assert (contract["startsOn"], contract["endsOn"]) == ("2026-02-01", "2027-01-31")
    assert contract["monthlyFee"] == {"amount": "89.90", "currency": "EUR"}
    assert contract["customer"]["id"] == customer["id"]
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", contract["id"])]
    assert events[-1]["summary"].startswith("Contract V-00001 (Website care) assigned to ")


async def test_contract_without_fee_and_end_has_nulls(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    contract = await new_contract(client, partner.token)
    assert (contract["endsOn"], contract["monthlyFee"], contract["customer"]) == (None, None, None)


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("12,5", "EUR", "amount"),
        ("-1", "EUR", "amount"),
        ("-0.01", "EUR", "amount"),
        ("1e3", "EUR", "amount"),
        ("NaN", "EUR", "amount"),
        (".5", "EUR", "amount"),
        ("12.", "EUR", "amount"),
        ("1.23456", "EUR", "amount"),
        ("12345678901", "EUR", "amount"),
        ("", "EUR", "amount"),
        ("10", "EURO", "currency"),
        ("10", "XXX", "currency"),
        ("10", "XAU", "currency"),
        ("10", "ABC", "currency"),
        ("10", "€", "currency"),
        ("10", "", "currency"),
    ],
)
async def test_bad_money_is_a_validation_error_at_its_field(
    client: GraphQLClient, amount: str, currency: str, field: str
) -> None:
    partner = await register_partner(client)
    values = {
        "product": "Hosting",
        "startsOn": "2026-01-01",
        "monthlyFee": {"amount": amount, "currency": currency},
    }
    body = await client.gql(CREATE_CONTRACT, {"input": values}, partner.token)
    assert body["createContract"]["contract"] is None
    assert [(error["code"], error["field"]) for error in errors_of(body)] == [
        ("VALIDATION", ["monthlyFee", field])
    ]


async def test_end_before_start_is_rejected(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    values = {"product": "Hosting", "startsOn": "2026-05-01", "endsOn": "2026-04-30"}
    body = await client.gql(CREATE_CONTRACT, {"input": values}, partner.token)
    assert errors_of(body) == [
        {
            "code": "VALIDATION",
            "message": "The end date must not be before the start date.",
            "field": ["endsOn"],
        }
    ]


async def test_contract_ending_on_its_start_day_is_fine(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    contract = await new_contract(client, partner.token, startsOn="2026-05-01", endsOn="2026-05-01")
    assert contract["endsOn"] == "2026-05-01"


async def test_several_bad_contract_fields_give_one_error_each(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    values = {
        "product": " ",
        "startsOn": "2026-05-01",
        "endsOn": "2026-01-01",
        "monthlyFee": {"amount": "12,5", "currency": "EURO"},
        "contractNumber": "#1",
    }
    body = await client.gql(CREATE_CONTRACT, {"input": values}, partner.token)
    fields = sorted(error["field"] for error in errors_of(body))
    assert fields == [
        ["contractNumber"],
        ["endsOn"],
        ["monthlyFee", "amount"],
        ["monthlyFee", "currency"],
        ["product"],
    ]
    assert {error["code"] for error in errors_of(body)} == {"VALIDATION"}


async def test_contract_numbers_are_generated_in_sequence_per_partner(
    client: GraphQLClient,
) -> None:
    first = await register_partner(client)
    second = await register_partner(client)
    numbers = [(await new_contract(client, first.token))["contractNumber"] for _ in range(3)]
    other = await new_contract(client, second.token)
    assert numbers == ["V-00001", "V-00002", "V-00003"]
    assert other["contractNumber"] == "V-00001"


async def test_a_taken_contract_number_is_a_conflict(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    await new_contract(client, partner.token)  # V-00001
    await new_contract(client, partner.token, contractNumber="2026/17")
    # when
    generated_taken = await client.gql(
        CREATE_CONTRACT,
        {"input": {"product": "X", "startsOn": "2026-01-01", "contractNumber": "V-00001"}},
        partner.token,
    )
    manual_taken = await client.gql(
        CREATE_CONTRACT,
        {"input": {"product": "X", "startsOn": "2026-01-01", "contractNumber": " 2026/17 "}},
        partner.token,
    )
    # then
    for body in (generated_taken, manual_taken):
        (error,) = errors_of(body)
        assert (error["code"], error["field"]) == ("CONFLICT", ["contractNumber"])


async def test_concurrent_contracts_get_distinct_consecutive_numbers(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    # when
    results = await asyncio.gather(*[new_contract(client, partner.token) for _ in range(10)])
    # then
    assert sorted(result["contractNumber"] for result in results) == [
        f"V-{n:05d}" for n in range(1, 11)
    ]


async def test_concurrent_creates_of_one_domain_make_one_domain(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    # when
    bodies = await asyncio.gather(
        *[
            client.gql(CREATE_DOMAIN, {"input": {"name": "race.example"}}, partner.token)
            for _ in range(6)
        ]
    )
    # then
    outcomes = sorted(errors_of(body)[0]["code"] if errors_of(body) else "OK" for body in bodies)
    assert outcomes == ["CONFLICT"] * 5 + ["OK"]
    listed = await client.gql(DOMAINS, {}, partner.token)
    assert listed["domains"]["totalCount"] == 1


async def test_generated_numbers_skip_one_entered_by_hand(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    manual = await new_contract(client, partner.token, contractNumber="V-00001")
    generated = await new_contract(client, partner.token)
    assert (manual["contractNumber"], generated["contractNumber"]) == ("V-00001", "V-00002")


# ---------------------------------------------------------------- tasks


async def test_task_is_created_open_with_normal_priority(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    task = await new_task(client, partner.token)
    assert (task["title"], task["status"], task["priority"]) == (
        "Renew SSL certificate",
        "OPEN",
        "NORMAL",
    )
    assert (
        task["description"],
        task["dueOn"],
        task["completedAt"],
        task["customer"],
        task["assignee"],
    ) == (None, None, None, None, None)


async def test_task_with_customer_assignee_and_multiline_description(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    # when
    task = await new_task(
        client,
        partner.token,
        title="  Migrate mailboxes ",
        description="Step 1\r\nStep 2\n\tdetails",
        priority="HIGH",
        dueOn="2026-06-30",
        customerId=customer["id"],
        assigneeId=partner.member_id,
    )
    # then
    assert task["title"] == "Migrate mailboxes"
    assert task["description"] == "Step 1\nStep 2\n\tdetails"
    assert (task["priority"], task["dueOn"]) == ("HIGH", "2026-06-30")
    assert task["customer"]["id"] == customer["id"]
    assert task["assignee"] == {"id": partner.member_id, "name": "Owner Person"}
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", task["id"])]


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "one\ntwo"}, "title"),
        ({"description": "x" * 5001}, "description"),
        ({"description": "bell \x07"}, "description"),
        ({"priority": None}, "priority"),
    ],
)
async def test_bad_task_fields_are_rejected(
    client: GraphQLClient, fields: dict[str, Any], error_field: str
) -> None:
    partner = await register_partner(client)
    body = await client.gql(CREATE_TASK, {"input": {"title": "Call back", **fields}}, partner.token)
    assert [(error["code"], error["field"]) for error in errors_of(body)] == [
        ("VALIDATION", [error_field])
    ]


async def test_status_done_sets_completed_at_and_reopening_clears_it(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    task = await new_task(client, partner.token)
    # when
    done = (
        await client.mutate(
            UPDATE_TASK, {"id": task["id"], "patch": {"status": "DONE"}}, partner.token
        )
    )["task"]
    done_again = await client.mutate(
        UPDATE_TASK, {"id": task["id"], "patch": {"status": "DONE"}}, partner.token
    )
    reopened = await client.mutate(
        UPDATE_TASK, {"id": task["id"], "patch": {"status": "IN_PROGRESS"}}, partner.token
    )
    # then
    assert done["status"] == "DONE"
    assert done["completedAt"] is not None and done["completedAt"].endswith("+00:00")
    assert done_again["task"]["completedAt"] == done["completedAt"]
    assert (reopened["task"]["status"], reopened["task"]["completedAt"]) == ("IN_PROGRESS", None)


async def test_update_task_changes_only_the_given_fields(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    task = await new_task(
        client,
        partner.token,
        description="Keep me",
        dueOn="2026-06-30",
        priority="LOW",
        assigneeId=partner.member_id,
    )
    # when
    patch = {"title": "Renew SSL (wildcard)", "dueOn": None, "assigneeId": None}
    updated = (await client.mutate(UPDATE_TASK, {"id": task["id"], "patch": patch}, partner.token))[
        "task"
    ]
    # then
    assert updated["title"] == "Renew SSL (wildcard)"
    assert (updated["description"], updated["priority"], updated["status"]) == (
        "Keep me",
        "LOW",
        "OPEN",
    )
    assert (updated["dueOn"], updated["assignee"]) == (None, None)


async def test_updating_a_task_records_one_activity_row_on_its_customers_timeline(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    task = await new_task(client, partner.token, customerId=customer["id"])
    # when
    patch = {"dueOn": "2026-12-15", "status": "IN_PROGRESS"}
    await client.mutate(UPDATE_TASK, {"id": task["id"], "patch": patch}, partner.token)
    # then
    updates = [event for event in await timeline(client, partner.token, customer["id"])]
    assert updates[-1] == {
        "verb": "ITEM_UPDATED",
        "summary": "Task “Renew SSL certificate” changed: status, dueOn",
        "subjectId": task["id"],
        "actorName": "Owner Person",
        "customer": {"id": customer["id"]},
    }
    assert [event["verb"] for event in updates].count("ITEM_UPDATED") == 1


async def test_updating_a_task_publishes_its_activity_after_commit(
    app: Starlette, client: GraphQLClient
) -> None:
    # given: a subscriber to the partner's events
    partner = await register_partner(client)
    task = await new_task(client, partner.token)
    async with app.state.broker.subscribe(pk_of(partner.partner_id)) as stream:
        # when
        patch = {"priority": "HIGH"}
        await client.mutate(UPDATE_TASK, {"id": task["id"], "patch": patch}, partner.token)
        # then
        event = await asyncio.wait_for(anext(stream), 3)
    assert (event.kind, event.payload) == (EventKind.ACTIVITY_RECORDED, {"verb": "ITEM_UPDATED"})
    row = await ActivityEvent.get(id=event.subject_id)
    assert (row.subject_type, row.subject_id) == ("Task", pk_of(task["id"]))


async def test_a_task_update_that_fails_half_way_changes_nothing(
    app: Starlette, client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the activity row cannot be written
    partner = await register_partner(client)
    task = await new_task(client, partner.token)

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the activity table is unavailable")

    monkeypatch.setattr(item_resolvers, "record_activity", broken)
    async with app.state.broker.subscribe(pk_of(partner.partner_id)) as stream:
        # when
        patch = {"title": "Renamed", "status": "DONE"}
        body = await client.raw(UPDATE_TASK, {"id": task["id"], "patch": patch}, partner.token)
        # then: an internal error, the task as it was, no row and no event
        assert body["errors"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), 0.2)
    stored = await Task.get(id=pk_of(task["id"]))
    assert (stored.title, stored.status, stored.completed_at) == (
        "Renew SSL certificate",
        "OPEN",
        None,
    )
    assert not await ActivityEvent.filter(subject_type="Task").exists()


async def test_a_task_update_that_changes_nothing_records_nothing(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    task = await new_task(client, partner.token, priority="LOW")
    # when
    patch = {"title": task["title"], "priority": "LOW"}
    await client.mutate(UPDATE_TASK, {"id": task["id"], "patch": patch}, partner.token)
    # then
    assert not await ActivityEvent.filter(verb="ITEM_UPDATED").exists()


async def test_patch_errors_point_into_the_patch(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    task = await new_task(client, partner.token)
    body = await client.gql(
        UPDATE_TASK,
        {"id": task["id"], "patch": {"title": None, "status": None, "description": "x" * 5001}},
        partner.token,
    )
    fields = sorted(error["field"] for error in errors_of(body))
    assert fields == [["patch", "description"], ["patch", "status"], ["patch", "title"]]


async def test_assignee_must_be_a_member_of_the_same_partner(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    other = await register_partner(client)
    task = await new_task(client, partner.token)
    # when
    foreign = await client.gql(
        CREATE_TASK, {"input": {"title": "T", "assigneeId": other.member_id}}, partner.token
    )
    missing = await client.gql(
        CREATE_TASK,
        {"input": {"title": "T", "assigneeId": global_id("PartnerMember", 999_999)}},
        partner.token,
    )
    foreign_patch = await client.gql(
        UPDATE_TASK, {"id": task["id"], "patch": {"assigneeId": other.member_id}}, partner.token
    )
    # then
    assert (
        errors_of(foreign)
        == errors_of(missing)
        == [{"code": "NOT_FOUND", "message": "Partner member not found.", "field": ["assigneeId"]}]
    )
    assert errors_of(foreign_patch)[0]["field"] == ["patch", "assigneeId"]


# ---------------------------------------------------------------- assignment


async def test_assigning_an_item_records_it_on_the_customer_timeline(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    domain = await new_domain(client, partner.token, "assign.example")
    # when
    payload = await client.mutate(
        ASSIGN, {"input": {"itemId": domain["id"], "customerId": customer["id"]}}, partner.token
    )
    # then
    assert payload["item"] == {"id": domain["id"], "customer": {"id": customer["id"]}}
    assert payload["customer"] == {"id": customer["id"]}
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", domain["id"])]
    assert events[-1]["customer"] == {"id": customer["id"]}


async def test_reassigning_records_an_unassign_for_the_old_and_an_assign_for_the_new_customer(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    first = await create_customer(client, partner.token)
    second = await create_customer(client, partner.token)
    contract = await new_contract(client, partner.token, customerId=first["id"])
    # when
    payload = await client.mutate(
        ASSIGN, {"input": {"itemId": contract["id"], "customerId": second["id"]}}, partner.token
    )
    # then
    assert payload["item"]["customer"] == {"id": second["id"]}
    first_events = await timeline(client, partner.token, first["id"])
    second_events = await timeline(client, partner.token, second["id"])
    assert item_events(first_events) == [
        ("ITEM_ASSIGNED", contract["id"]),
        ("ITEM_UNASSIGNED", contract["id"]),
    ]
    assert item_events(second_events) == [("ITEM_ASSIGNED", contract["id"])]
    assert (
        first_events[-1]["summary"]
        == f"Contract V-00001 (Hosting M) unassigned from {first['displayName']}"
    )


async def test_unassigning_records_it_and_returns_no_customer(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    task = await new_task(client, partner.token, customerId=customer["id"])
    # when
    payload = await client.mutate(
        ASSIGN, {"input": {"itemId": task["id"], "customerId": None}}, partner.token
    )
    # then
    assert payload["customer"] is None
    assert payload["item"] == {"id": task["id"], "customer": None}
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", task["id"]), ("ITEM_UNASSIGNED", task["id"])]
    data = await client.gql(CUSTOMER_ITEMS, {"id": customer["id"]}, partner.token)
    assert data["customer"]["tasks"] == []


async def test_concurrent_reassignments_leave_consistent_timelines(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customers = [await create_customer(client, partner.token) for _ in range(4)]
    domain = await new_domain(client, partner.token, "contested.example")
    # when
    bodies = await asyncio.gather(
        *[
            client.gql(
                ASSIGN,
                {"input": {"itemId": domain["id"], "customerId": customer["id"]}},
                partner.token,
            )
            for customer in customers
        ]
    )
    # then: each success is one real change, each loser a CONFLICT that wrote nothing
    codes = [error["code"] for body in bodies for error in errors_of(body)]
    assert set(codes) <= {"CONFLICT"}
    owner = (await client.gql(DOMAINS, {}, partner.token))["domains"]["edges"][0]["node"][
        "customer"
    ]["id"]
    balance = {}
    for customer in customers:
        verbs = [
            verb for verb, _ in item_events(await timeline(client, partner.token, customer["id"]))
        ]
        balance[customer["id"]] = verbs.count("ITEM_ASSIGNED") - verbs.count("ITEM_UNASSIGNED")
    assert balance == {customer["id"]: int(customer["id"] == owner) for customer in customers}
    assert sum(1 for body in bodies if not errors_of(body)) == len(customers) - len(codes)


async def test_assigning_to_the_current_customer_records_nothing(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    domain = await new_domain(client, partner.token, "same.example", customerId=customer["id"])
    await client.mutate(
        ASSIGN, {"input": {"itemId": domain["id"], "customerId": customer["id"]}}, partner.token
    )
    unassigned = await new_domain(client, partner.token, "loose.example")
    await client.mutate(ASSIGN, {"input": {"itemId": unassigned["id"]}}, partner.token)
    events = await timeline(client, partner.token, customer["id"])
    assert item_events(events) == [("ITEM_ASSIGNED", domain["id"])]


async def test_another_partners_item_is_not_found_like_a_missing_one(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    other = await register_partner(client)
    customer = await create_customer(client, partner.token)
    foreign = await new_domain(client, other.token, "foreign.example")
    # when
    bodies = [
        await client.gql(
            ASSIGN, {"input": {"itemId": item_id, "customerId": customer["id"]}}, partner.token
        )
        for item_id in (
            foreign["id"],
            global_id("Domain", 999_999),
            global_id("Customer", 1),
            "garbage",
        )
    ]
    # then
    expected = [{"code": "NOT_FOUND", "message": "Item not found.", "field": ["itemId"]}]
    assert [errors_of(body) for body in bodies] == [expected] * 4
    assert all(body["assignItem"]["item"] is None for body in bodies)
    still = await client.gql(NODE, {"id": foreign["id"]}, other.token)
    assert still["node"] == {"id": foreign["id"], "name": "foreign.example"}


async def test_another_partners_customer_is_not_found_like_a_missing_one(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    other = await register_partner(client)
    foreign_customer = await create_customer(client, other.token)
    domain = await new_domain(client, partner.token, "mine.example")
    missing_id = global_id("Customer", 999_999)
    # when
    assign_foreign = await client.gql(
        ASSIGN,
        {"input": {"itemId": domain["id"], "customerId": foreign_customer["id"]}},
        partner.token,
    )
    assign_missing = await client.gql(
        ASSIGN, {"input": {"itemId": domain["id"], "customerId": missing_id}}, partner.token
    )
    create_foreign = await client.gql(
        CREATE_DOMAIN,
        {"input": {"name": "new.example", "customerId": foreign_customer["id"]}},
        partner.token,
    )
    create_missing = await client.gql(
        CREATE_DOMAIN, {"input": {"name": "new.example", "customerId": missing_id}}, partner.token
    )
    # then
    expected = [{"code": "NOT_FOUND", "message": "Customer not found.", "field": ["customerId"]}]
    assert errors_of(assign_foreign) == errors_of(assign_missing) == expected
    assert errors_of(create_foreign) == errors_of(create_missing) == expected
    listed = await client.gql(DOMAINS, {}, partner.token)
    assert [edge["node"]["name"] for edge in listed["domains"]["edges"]] == ["mine.example"]


async def test_another_partners_items_are_invisible(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    other = await register_partner(client)
    domain = await new_domain(client, other.token, "hidden.example")
    contract = await new_contract(client, other.token)
    task = await new_task(client, other.token)
    # when
    nodes = [
        (await client.gql(NODE, {"id": item["id"]}, partner.token))["node"]
        for item in (domain, contract, task)
    ]
    lists = await client.gql(
        "{ domains { totalCount } contracts { totalCount } tasks { totalCount } }",
        token=partner.token,
    )
    update_foreign = await client.gql(
        UPDATE_TASK, {"id": task["id"], "patch": {"status": "DONE"}}, partner.token
    )
    update_missing = await client.gql(
        UPDATE_TASK, {"id": global_id("Task", 999_999), "patch": {"status": "DONE"}}, partner.token
    )
    # then
    assert nodes == [None, None, None]
    assert lists == {
        "domains": {"totalCount": 0},
        "contracts": {"totalCount": 0},
        "tasks": {"totalCount": 0},
    }
    assert (
        errors_of(update_foreign)
        == errors_of(update_missing)
        == [{"code": "NOT_FOUND", "message": "Task not found.", "field": ["id"]}]
    )
    own = await client.gql(NODE, {"id": task["id"]}, other.token)
    assert own["node"] == {"id": task["id"], "title": "Renew SSL certificate"}


async def test_visitors_are_unauthenticated(client: GraphQLClient) -> None:
    body = await client.raw("{ domains { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    created = await client.gql(
        CREATE_DOMAIN, {"input": {"name": "x.example", "customerId": "garbage"}}
    )
    assert [error["code"] for error in errors_of(created)] == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- lists and customer fields


async def test_item_filter_by_customer_and_unassigned(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    other_customer = await create_customer(client, partner.token)
    await new_domain(client, partner.token, "a.example", customerId=customer["id"])
    await new_domain(client, partner.token, "b.example", customerId=other_customer["id"])
    await new_domain(client, partner.token, "c.example")

    async def names(filter: dict[str, Any]) -> list[str]:
        data = await client.gql(DOMAINS, {"filter": filter}, partner.token)
        return [edge["node"]["name"] for edge in data["domains"]["edges"]]

    # when / then
    assert await names({"customerId": customer["id"]}) == ["a.example"]
    assert await names({"unassigned": True}) == ["c.example"]
    assert await names({"unassigned": False}) == ["a.example", "b.example"]
    assert await names({}) == ["a.example", "b.example", "c.example"]


async def test_filter_for_a_customer_and_unassigned_at_once_is_rejected(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    body = await client.raw(
        DOMAINS, {"filter": {"customerId": customer["id"], "unassigned": True}}, partner.token
    )
    assert body["errors"][0]["extensions"] == {
        "code": "VALIDATION",
        "field": ["filter", "unassigned"],
    }


async def test_filter_by_another_partners_customer_is_not_found_like_a_missing_one(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client)
    other = await register_partner(client)
    foreign_customer = await create_customer(client, other.token)
    foreign = await client.raw(
        DOMAINS, {"filter": {"customerId": foreign_customer["id"]}}, partner.token
    )
    missing = await client.raw(
        DOMAINS, {"filter": {"customerId": global_id("Customer", 999_999)}}, partner.token
    )
    assert foreign["data"] is None and missing["data"] is None
    assert (
        foreign["errors"][0]["message"] == missing["errors"][0]["message"] == "Customer not found."
    )
    assert foreign["errors"][0]["extensions"] == missing["errors"][0]["extensions"]
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_search_matches_each_kind_of_item(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    await new_domain(client, partner.token, "bücher.example")
    await new_domain(client, partner.token, "rossi.example")
    await new_contract(client, partner.token, product="Managed WordPress")
    await new_contract(client, partner.token, product="Mail 100% Pro", contractNumber="2026/100")
    await new_task(client, partner.token, title="Call Mario", description="About the SSL renewal")
    await new_task(client, partner.token, title="Invoice")

    async def search(query: str, root: str, field: str, text: str) -> list[str]:
        data = await client.gql(query, {"filter": {"search": text}}, partner.token)
        return [edge["node"][field] for edge in data[root]["edges"]]

    # when / then
    assert await search(DOMAINS, "domains", "name", "BÜCHER") == ["bücher.example"]
    assert await search(DOMAINS, "domains", "name", "xn--bcher") == ["bücher.example"]
    assert await search(CONTRACTS, "contracts", "product", "wordpress managed") == [
        "Managed WordPress"
    ]
    assert await search(CONTRACTS, "contracts", "product", "100%") == ["Mail 100% Pro"]
    assert await search(CONTRACTS, "contracts", "product", "2026/1") == ["Mail 100% Pro"]
    assert await search(CONTRACTS, "contracts", "product", "v-0000") == ["Managed WordPress"]
    assert await search(TASKS, "tasks", "title", "ssl") == ["Call Mario"]
    assert await search(TASKS, "tasks", "title", "nothing-like-this") == []


async def test_tasks_filter_by_status(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    open_task = await new_task(client, partner.token, title="Open one")
    done_task = await new_task(client, partner.token, title="Done one")
    await client.mutate(
        UPDATE_TASK, {"id": done_task["id"], "patch": {"status": "DONE"}}, partner.token
    )
    done = await client.gql(TASKS, {"status": "DONE"}, partner.token)
    opened = await client.gql(TASKS, {"status": "OPEN"}, partner.token)
    assert [edge["node"]["id"] for edge in done["tasks"]["edges"]] == [done_task["id"]]
    assert [edge["node"]["id"] for edge in opened["tasks"]["edges"]] == [open_task["id"]]


async def test_lists_page_with_cursors(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    created = [
        (await new_domain(client, partner.token, f"page{index}.example"))["name"]
        for index in range(5)
    ]
    # when
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.gql(DOMAINS, {"first": 2, "after": after}, partner.token)
        page = data["domains"]
        pages.append(page)
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # then
    assert seen == created
    assert [len(page["edges"]) for page in pages] == [2, 2, 1]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert {page["totalCount"] for page in pages} == {5}
    assert pages[0]["pageInfo"]["endCursor"] == pages[0]["edges"][-1]["cursor"]


async def test_a_foreign_cursor_is_a_clear_error(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    body = await client.raw(DOMAINS, {"after": "not-a-cursor"}, partner.token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION", "field": ["after"]}


async def test_customer_shows_its_items(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    customer = await create_customer(client, partner.token)
    other_customer = await create_customer(client, partner.token)
    domain = await new_domain(client, partner.token, "z.example", customerId=customer["id"])
    contract = await new_contract(client, partner.token, customerId=customer["id"])
    open_task = await new_task(client, partner.token, title="Open", customerId=customer["id"])
    done_task = await new_task(client, partner.token, title="Done", customerId=customer["id"])
    await client.mutate(
        UPDATE_TASK, {"id": done_task["id"], "patch": {"status": "DONE"}}, partner.token
    )
    await new_domain(client, partner.token, "other.example", customerId=other_customer["id"])
    # when
    data = await client.gql(CUSTOMER_ITEMS, {"id": customer["id"]}, partner.token)
    # then
    shown = data["customer"]
    assert shown["domains"] == [{"id": domain["id"], "name": "z.example"}]
    assert shown["contracts"] == [{"id": contract["id"], "contractNumber": "V-00001"}]
    assert sorted(task["id"] for task in shown["tasks"]) == sorted(
        [open_task["id"], done_task["id"]]
    )
    assert shown["openTasks"] == [{"id": open_task["id"], "title": "Open"}]


async def test_customer_item_fields_cost_the_same_statements_for_5_and_50_customers(
    client: GraphQLClient, count_queries: StatementCounter
) -> None:
    # given: 50 customers with a domain, a contract and an open task each (through the resolvers, for speed)
    partner = await register_partner(client)
    actor = await actor_of(partner)
    for index in range(50):
        customer = await customer_resolvers.create_customer(
            actor, {"first_name": "N", "last_name": f"Plus{index:02d}"}
        )
        await item_resolvers.create_domain(
            actor, {"name": f"n{index}.example", "customer_id": customer.id}
        )
        await item_resolvers.create_contract(
            actor, {"product": "Hosting", "starts_on": date(2026, 1, 1), "customer_id": customer.id}
        )
        await item_resolvers.create_task(
            actor, {"title": f"Task {index}", "customer_id": customer.id}
        )
    # when (after the token's first request, which looks it up)
    await client.gql(CUSTOMERS_WITH_ITEMS, {"first": 1}, partner.token)
    count_queries.reset()
    small = await client.gql(CUSTOMERS_WITH_ITEMS, {"first": 5}, partner.token)
    small_count = count_queries.count
    count_queries.reset()
    large = await client.gql(CUSTOMERS_WITH_ITEMS, {"first": 50}, partner.token)
    large_count = count_queries.count
    # then
    assert len(small["customers"]["edges"]) == 5 and len(large["customers"]["edges"]) == 50
    assert all(
        len(edge["node"]["domains"])
        == len(edge["node"]["contracts"])
        == len(edge["node"]["tasks"])
        == 1
        for edge in large["customers"]["edges"]
    )
    assert small_count == large_count, (
        f"first: 5 took {small_count} SQL statements, first: 50 took {large_count}"
    )


async def actor_of(partner: PartnerLogin) -> Actor:
    return Actor(member=await PartnerMember.get(email=partner.email))
