"""Customers: create, validate, edit with optimistic locking, archive, list, match, isolate."""

from __future__ import annotations

import asyncio

from models.customer import Customer
from tests.support import (
    CREATE_CUSTOMER,
    GraphQLClient,
    create_customer,
    register_account,
    register_partner,
)

CUSTOMER = """
query($id: ID!) {
  customer(id: $id) {
    id customerNumber kind displayName firstName lastName companyName email phone
    address { street postalCode city country } vatId language notes tags status source version
    createdAt updatedAt
    activity(first: 10) { totalCount edges { node { verb summary actorName subjectId customer { id } } } }
  }
}"""
UPDATE = """
mutation($id: ID!, $patch: CustomerPatch!, $expectedVersion: Int) {
  updateCustomer(id: $id, patch: $patch, expectedVersion: $expectedVersion) {
    customer { id version email phone firstName displayName address { city country } tags }
    errors { code message field }
  }
}"""
ARCHIVE = "mutation($id: ID!) { archiveCustomer(id: $id) { customer { status version } errors { code message field } } }"
RESTORE = "mutation($id: ID!) { restoreCustomer(id: $id) { customer { status version } errors { code message field } } }"
LIST = """
query($first: Int, $after: String, $last: Int, $before: String, $filter: CustomerFilter, $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { customerNumber displayName } }
  }
}"""
MATCHES = """
query($email: String, $phone: String, $name: String) {
  customerMatches(email: $email, phone: $phone, name: $name) { displayName email phone }
}"""


async def test_new_customer_gets_number_display_name_and_activity(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client)
    # when
    created = await create_customer(
        client,
        partner.token,
        firstName=" Giulia ",
        lastName="Verdi",
        email="Giulia@Example.IT",
        phone="+39 06 1234 5678",
        address={"city": "Roma", "country": "it"},
        tags=["vip", "vip", "web"],
    )
    # then
    data = await client.gql(CUSTOMER, {"id": created["id"]}, partner.token)
    customer = data["customer"]
    assert customer["customerNumber"] == "C-00001"
    assert customer["displayName"] == "Giulia Verdi"
    assert customer["email"] == "giulia@example.it"
    assert customer["phone"] == "+390612345678"
    assert customer["address"] == {
        "street": None,
        "postalCode": None,
        "city": "Roma",
        "country": "IT",
    }
    assert customer["tags"] == ["vip", "web"]
    assert (customer["status"], customer["source"], customer["version"], customer["language"]) == (
        "ACTIVE",
        "MANUAL",
        1,
        "en",
    )
    assert customer["createdAt"].endswith("+00:00")
    (event,) = [edge["node"] for edge in customer["activity"]["edges"]]
    assert event["verb"] == "CUSTOMER_CREATED"
    assert event["actorName"] == "Owner Person"
    assert event["customer"]["id"] == created["id"]


async def test_customer_numbers_are_sequential_per_partner(client: GraphQLClient) -> None:
    first_partner = await register_partner(client)
    second_partner = await register_partner(client)
    numbers = [
        (await create_customer(client, first_partner.token))["customerNumber"] for _ in range(3)
    ]
    other = await create_customer(client, second_partner.token)
    assert numbers == ["C-00001", "C-00002", "C-00003"]
    assert other["customerNumber"] == "C-00001"


async def test_twenty_concurrent_creates_get_distinct_consecutive_numbers(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    # when
    results = await asyncio.gather(*[create_customer(client, partner.token) for _ in range(20)])
    # then
    numbers = sorted(result["customerNumber"] for result in results)
    assert numbers == [f"C-{n:05d}" for n in range(1, 21)]


async def test_archived_numbers_are_never_reused(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    first = await create_customer(client, partner.token)
    await client.mutate(ARCHIVE, {"id": first["id"]}, partner.token)
    await Customer.filter(
        customer_number="C-00001"
    ).delete()  # even a deleted row's number stays used
    second = await create_customer(client, partner.token)
    assert second["customerNumber"] == "C-00002"


async def test_company_needs_company_name_and_shows_it(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    missing = await client.gql(
        CREATE_CUSTOMER, {"input": {"kind": "COMPANY", "firstName": "A"}}, partner.token
    )
    assert missing["createCustomer"]["errors"] == [
        {
            "code": "VALIDATION",
            "message": "Company name is required for a company.",
            "field": ["companyName"],
        }
    ]
    created = await create_customer(client, partner.token, kind="COMPANY", companyName="Rossi SRL")
    assert created["displayName"] == "Rossi SRL"


async def test_several_bad_fields_give_one_error_each_with_its_path(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    body = await client.gql(
        CREATE_CUSTOMER,
        {
            "input": {
                "lastName": "X" * 101,
                "email": "not-mail",
                "phone": "12",
                "address": {"country": "XX", "city": "a\x07b"},
                "language": "english!",
                "tags": ["ok", "\x00"],
            }
        },
        partner.token,
    )
    payload = body["createCustomer"]
    assert payload["customer"] is None
    fields = sorted(tuple(error["field"]) for error in payload["errors"])
    assert fields == [
        ("address", "city"),
        ("address", "country"),
        ("email",),
        ("language",),
        ("lastName",),
        ("phone",),
        ("tags",),
    ]
    assert {error["code"] for error in payload["errors"]} == {"VALIDATION"}
    assert await Customer.all().count() == 0


async def test_person_needs_a_name(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    body = await client.gql(CREATE_CUSTOMER, {"input": {"email": "a@b.it"}}, partner.token)
    assert body["createCustomer"]["errors"][0]["field"] == ["lastName"]


async def test_national_phone_number_uses_the_address_country(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    created = await create_customer(
        client, partner.token, phone="030 1234567", address={"country": "DE"}
    )
    data = await client.gql(CUSTOMER, {"id": created["id"]}, partner.token)
    assert data["customer"]["phone"] == "+49301234567"


async def test_update_changes_only_given_fields_and_bumps_version(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    created = await create_customer(
        client, partner.token, firstName="Anna", email="anna@example.com", tags=["a"]
    )
    payload = await client.mutate(
        UPDATE,
        {
            "id": created["id"],
            "patch": {"firstName": "Annalisa", "email": None},
            "expectedVersion": 1,
        },
        partner.token,
    )
    customer = payload["customer"]
    assert customer["version"] == 2
    assert customer["firstName"] == "Annalisa"
    assert customer["email"] is None
    assert customer["tags"] == ["a"]
    assert customer["displayName"].startswith("Annalisa ")


async def test_stale_expected_version_is_a_conflict_and_changes_nothing(
    client: GraphQLClient,
) -> None:
    # given a customer edited once already
    partner = await register_partner(client)
    created = await create_customer(client, partner.token, firstName="Anna")
    await client.mutate(
        UPDATE,
        {"id": created["id"], "patch": {"notes": "first edit"}, "expectedVersion": 1},
        partner.token,
    )
    # when a second client still holds version 1
    body = await client.gql(
        UPDATE,
        {"id": created["id"], "patch": {"firstName": "Overwritten"}, "expectedVersion": 1},
        partner.token,
    )
    # then
    assert body["updateCustomer"]["errors"][0]["code"] == "CONFLICT"
    assert body["updateCustomer"]["errors"][0]["field"] == ["expectedVersion"]
    data = await client.gql(CUSTOMER, {"id": created["id"]}, partner.token)
    assert (data["customer"]["firstName"], data["customer"]["version"]) == ("Anna", 2)


async def test_concurrent_updates_with_the_same_version_have_one_winner(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client)
    created = await create_customer(client, partner.token)
    bodies = await asyncio.gather(
        *[
            client.gql(
                UPDATE,
                {"id": created["id"], "patch": {"notes": f"edit {n}"}, "expectedVersion": 1},
                partner.token,
            )
            for n in range(10)
        ]
    )
    winners = [body for body in bodies if not body["updateCustomer"]["errors"]]
    assert len(winners) == 1
    assert all(
        body["updateCustomer"]["errors"][0]["code"] == "CONFLICT"
        for body in bodies
        if body not in winners
    )
    data = await client.gql(CUSTOMER, {"id": created["id"]}, partner.token)
    assert data["customer"]["version"] == 2


async def test_patch_validation_errors_point_into_the_patch(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    created = await create_customer(client, partner.token)
    body = await client.gql(
        UPDATE, {"id": created["id"], "patch": {"email": "bad", "kind": "COMPANY"}}, partner.token
    )
    fields = sorted(tuple(error["field"]) for error in body["updateCustomer"]["errors"])
    assert fields == [("patch", "companyName"), ("patch", "email")]


async def test_archive_and_restore_record_activity(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    created = await create_customer(client, partner.token)
    archived = await client.mutate(ARCHIVE, {"id": created["id"]}, partner.token)
    restored = await client.mutate(RESTORE, {"id": created["id"]}, partner.token)
    assert archived["customer"] == {"status": "ARCHIVED", "version": 2}
    assert restored["customer"] == {"status": "ACTIVE", "version": 3}
    data = await client.gql(CUSTOMER, {"id": created["id"]}, partner.token)
    verbs = [edge["node"]["verb"] for edge in data["customer"]["activity"]["edges"]]
    assert verbs == ["CUSTOMER_RESTORED", "CUSTOMER_ARCHIVED", "CUSTOMER_CREATED"]


async def test_list_pages_forward_and_backward_with_cursors(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    for name in ["Delta", "alpha", "Charlie", "bravo", "Echo"]:
        await create_customer(client, partner.token, firstName=None, lastName=name)
    first = (await client.gql(LIST, {"first": 2}, partner.token))["customers"]
    assert [edge["node"]["displayName"] for edge in first["edges"]] == ["alpha", "bravo"]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    second = (
        await client.gql(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}, partner.token)
    )["customers"]
    assert [edge["node"]["displayName"] for edge in second["edges"]] == ["Charlie", "Delta"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    third = (
        await client.gql(
            LIST, {"first": 2, "after": second["pageInfo"]["endCursor"]}, partner.token
        )
    )["customers"]
    assert [edge["node"]["displayName"] for edge in third["edges"]] == ["Echo"]
    assert third["pageInfo"]["hasNextPage"] is False
    back = (
        await client.gql(LIST, {"last": 2, "before": third["edges"][0]["cursor"]}, partner.token)
    )["customers"]
    assert [edge["node"]["displayName"] for edge in back["edges"]] == ["Charlie", "Delta"]


async def test_list_orders_by_number_and_creation_descending(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    for name in ["Bianchi", "Abate", "Conti"]:
        await create_customer(client, partner.token, firstName=None, lastName=name)
    for field in ("CUSTOMER_NUMBER", "CREATED_AT"):
        page = (
            await client.gql(
                LIST, {"first": 2, "orderBy": {"field": field, "direction": "DESC"}}, partner.token
            )
        )["customers"]
        assert [edge["node"]["displayName"] for edge in page["edges"]] == ["Conti", "Abate"]
        rest = (
            await client.gql(
                LIST,
                {
                    "first": 2,
                    "after": page["pageInfo"]["endCursor"],
                    "orderBy": {"field": field, "direction": "DESC"},
                },
                partner.token,
            )
        )["customers"]
        assert [edge["node"]["displayName"] for edge in rest["edges"]] == ["Bianchi"]


async def test_filters_by_search_status_source_and_tag(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    anna = await create_customer(
        client,
        partner.token,
        firstName="Anna",
        lastName="Neri",
        email="anna@neri.it",
        tags=["Gold"],
    )
    await create_customer(
        client, partner.token, firstName="Bruno", lastName="Neri", phone="+39 333 1234567"
    )
    await create_customer(
        client, partner.token, kind="COMPANY", companyName="Neri & Figli", tags=["gold"]
    )
    await client.mutate(ARCHIVE, {"id": anna["id"]}, partner.token)

    async def names(filter: dict) -> list[str]:
        page = (await client.gql(LIST, {"first": 20, "filter": filter}, partner.token))["customers"]
        return sorted(edge["node"]["displayName"] for edge in page["edges"])

    assert await names({"search": "neri"}) == ["Anna Neri", "Bruno Neri", "Neri & Figli"]
    assert await names({"search": "anna neri"}) == ["Anna Neri"]
    assert await names({"search": "3331234567"}) == ["Bruno Neri"]
    assert await names({"search": "C-00003"}) == ["Neri & Figli"]
    assert await names({"search": "100%_"}) == []
    assert await names({"status": "ARCHIVED"}) == ["Anna Neri"]
    assert await names({"source": "MANUAL", "status": "ACTIVE"}) == ["Bruno Neri", "Neri & Figli"]
    assert await names({"tag": "gold"}) == ["Anna Neri", "Neri & Figli"]


async def test_bad_page_arguments_are_clear_errors(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    cases: list[tuple[dict[str, object], str]] = [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "garbage"}, "after"),
        ({"after": "WyJ4Il0"}, "after"),
    ]
    for variables, field in cases:
        body = await client.raw(LIST, variables, partner.token)
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "VALIDATION", "field": [field]}, error
    ok = await client.gql(LIST, {"first": 100}, partner.token)
    assert ok["customers"]["totalCount"] == 0


async def test_matches_suggest_duplicates_by_email_phone_and_name(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    await create_customer(
        client, partner.token, firstName="Marco", lastName="Polo", email="marco@polo.it"
    )
    await create_customer(
        client, partner.token, firstName="Marta", lastName="Polo", phone="+39 06 9999 9999"
    )
    await create_customer(client, partner.token, firstName="Luca", lastName="Bassi")
    by_email = await client.gql(MATCHES, {"email": "MARCO@polo.it"}, partner.token)
    assert [c["displayName"] for c in by_email["customerMatches"]] == ["Marco Polo"]
    by_phone = await client.gql(MATCHES, {"phone": "+390699999999"}, partner.token)
    assert [c["displayName"] for c in by_phone["customerMatches"]] == ["Marta Polo"]
    by_name = await client.gql(MATCHES, {"name": "polo", "email": "marta@x.it"}, partner.token)
    assert sorted(c["displayName"] for c in by_name["customerMatches"]) == [
        "Marco Polo",
        "Marta Polo",
    ]
    nothing = await client.gql(MATCHES, {}, partner.token)
    assert nothing["customerMatches"] == []


async def test_another_partners_customer_is_indistinguishable_from_a_missing_one(
    client: GraphQLClient,
) -> None:
    # given two partners, B with a customer
    partner_a = await register_partner(client)
    partner_b = await register_partner(client)
    theirs = await create_customer(client, partner_b.token, firstName="Secret")
    missing_id = "Q3VzdG9tZXI6OTk5OTk="  # Customer:99999
    # when A looks it up, edits, archives it
    for customer_id in (theirs["id"], missing_id):
        read = await client.gql(CUSTOMER, {"id": customer_id}, partner_a.token)
        assert read["customer"] is None
        node = await client.gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": customer_id}, partner_a.token
        )
        assert node["node"] is None
    update_theirs = await client.gql(
        UPDATE, {"id": theirs["id"], "patch": {"firstName": "Hacked"}}, partner_a.token
    )
    update_missing = await client.gql(
        UPDATE, {"id": missing_id, "patch": {"firstName": "Hacked"}}, partner_a.token
    )
    archive_theirs = await client.gql(ARCHIVE, {"id": theirs["id"]}, partner_a.token)
    # then the answers are identical and B's customer is untouched
    assert update_theirs == update_missing
    assert update_theirs["updateCustomer"]["errors"] == [
        {"code": "NOT_FOUND", "message": "Customer not found.", "field": ["id"]}
    ]
    assert archive_theirs["archiveCustomer"]["errors"][0]["code"] == "NOT_FOUND"
    data = await client.gql(CUSTOMER, {"id": theirs["id"]}, partner_b.token)
    assert (
        data["customer"]["firstName"],
        data["customer"]["status"],
        data["customer"]["version"],
    ) == ("Secret", "ACTIVE", 1)
    listing = await client.gql(LIST, {"first": 50}, partner_a.token)
    assert listing["customers"]["totalCount"] == 0


async def test_malformed_ids_are_not_found(client: GraphQLClient) -> None:
    partner = await register_partner(client)
    created = await create_customer(client, partner.token)
    raw_number = created["id"]
    for bad in ["42", "!!!", "", "UGFydG5lcjox", raw_number + "x"]:
        body = await client.gql(UPDATE, {"id": bad, "patch": {"notes": "x"}}, partner.token)
        assert body["updateCustomer"]["errors"][0]["code"] == "NOT_FOUND", bad


async def test_customer_queries_need_a_partner_token(client: GraphQLClient) -> None:
    anonymous = await client.raw(LIST, {"first": 1})
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    account = await register_account(client)
    as_account = await client.raw(LIST, {"first": 1}, account.token)
    assert as_account["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mutation = await client.gql(CREATE_CUSTOMER, {"input": {"lastName": "X"}}, account.token)
    assert mutation["createCustomer"]["errors"][0]["code"] == "FORBIDDEN"
    assert await Customer.all().count() == 0
