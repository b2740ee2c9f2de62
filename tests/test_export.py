"""Exports (issue "customer data", part 2): CSV and JSON exports of customers, the GDPR
documents of one customer and of an account holder, and their single-use download links."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.customer_data import DataExport
from tests.factories import (
    CONVERT_INQUIRY,
    CREATE_DOMAIN,
    CREATE_TASK,
    DECLINE,
    SEND_INVITATION,
    SUBMIT_INQUIRY,
)
from tests.imports import EXPORT, download, export_customers, run_import
from tests.support import (
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
)

ERRORS = "errors { code message field }"
EXPORT_CUSTOMER_DATA = f"mutation($id: ID!) {{ exportCustomerData(customerId: $id) {{ export {{ url expiresAt }} {ERRORS} }} }}"
EXPORT_MY_DATA = f"mutation {{ exportMyData {{ export {{ url expiresAt }} {ERRORS} }} }}"
ARCHIVE = f"mutation($id: ID!) {{ archiveCustomer(id: $id) {{ customer {{ id }} {ERRORS} }} }}"
CUSTOMER_FIELDS: list[dict[str, Any]] = [
    {
        "externalId": "CRM-1",
        "firstName": "Maria",
        "lastName": "Rossi",
        "email": "maria@example.it",
        "phone": "+39 06 1234 5678",
        "address": {
            "street": "Via Appia 1",
            "postalCode": "00179",
            "city": "Roma",
            "country": "IT",
        },
        "vatId": "IT 01234567890",
        "language": "it",
        "notes": '=1+1\nsecond line, with a comma and "quotes"',
        "tags": ["vip", "=cmd|' /C calc'!A0", "two words"],
    },
    {
        "kind": "COMPANY",
        "companyName": "+Plus GmbH",
        "email": "office@plus.example",
        "language": "de",
    },
    {"firstName": "@mention", "lastName": "-dash", "externalId": "CRM-3", "phone": "+4930 1234567"},
    {
        "firstName": "'=tricky",
        "lastName": "Größe",
        "email": "jurgen@example.ch",
        "address": {"city": "Zürich", "country": "CH"},
        "tags": ["'quoted"],
    },
]


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client, public=True)


async def given_customers(client: GraphQLClient, partner: PartnerLogin) -> list[dict[str, str]]:
    made = [await create_customer(client, partner.token, **fields) for fields in CUSTOMER_FIELDS]
    await client.mutate(ARCHIVE, {"id": made[1]["id"]}, partner.token)
    return made


CUSTOMER_LIST = """{ customers(first: 100, orderBy: {field: CUSTOMER_NUMBER}) { edges { node {
  customerNumber externalId kind displayName firstName lastName companyName email phone
  address { street postalCode city country } vatId language notes tags } } } }"""


async def customer_fields(client: GraphQLClient, partner: PartnerLogin) -> list[dict[str, object]]:
    found = await client.gql(CUSTOMER_LIST, token=partner.token)
    return [edge["node"] for edge in found["customers"]["edges"]]


def cells(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


async def test_an_export_re_imports_into_another_partner_identically(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    await given_customers(client, partner)
    exported = await export_customers(client, partner.token)
    other = await register_partner(client)
    # when
    report = await run_import(client, other.token, exported, "export.csv")
    exported_again = await export_customers(client, other.token)
    # then: the same file, and the same customers (but for status, which is not a column)
    assert (report["created"], report["problems"]) == (4, [])
    assert exported_again == exported
    assert await customer_fields(client, other) == await customer_fields(client, partner)


async def test_an_export_re_imported_into_its_own_partner_changes_nothing(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    await given_customers(client, partner)
    exported = await export_customers(client, partner.token)
    # when
    report = await run_import(client, partner.token, exported)
    # then
    assert (report["created"], report["updated"], report["skipped"], report["problems"]) == (
        0,
        0,
        4,
        [],
    )


async def test_cells_a_spreadsheet_would_run_are_exported_as_text(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    await given_customers(client, partner)
    # when
    rows = cells(await export_customers(client, partner.token))
    # then
    header, maria, plus, mention, tricky = rows
    assert header == [
        "Customer number", "External ID", "Kind", "First name", "Last name", "Company",
        "E-mail", "Phone", "Street", "Postal code", "City", "Country", "VAT ID", "Language",
        "Notes", "Tags",
    ]  # fmt: skip
    assert maria[7] == "'+390612345678"
    assert maria[14] == '\'=1+1\nsecond line, with a comma and "quotes"'
    assert maria[15] == "vip|=cmd\\|' /C calc'!A0|two words"  # a | in a tag is escaped
    assert plus[5] == "'+Plus GmbH"
    assert (mention[3], mention[4]) == ("'@mention", "'-dash")
    assert (tricky[3], tricky[15]) == ("''=tricky", "'quoted")


async def test_an_export_selects_as_the_customer_list_filter_does(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    await given_customers(client, partner)
    # when
    by_tag = cells(await export_customers(client, partner.token, filter={"tag": "VIP"}))
    active = cells(await export_customers(client, partner.token, filter={"status": "ACTIVE"}))
    # then
    assert [row[0] for row in by_tag[1:]] == ["C-00001"]
    assert [row[0] for row in active[1:]] == ["C-00001", "C-00003", "C-00004"]


async def test_a_bad_filter_is_refused_when_the_export_is_asked_for(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # when
    payload = (await client.gql(EXPORT, {"filter": {"search": "x" * 201}}, partner.token))[
        "exportCustomers"
    ]
    # then
    assert payload["export"] is None
    assert payload["errors"][0]["code"] == "VALIDATION"
    assert payload["errors"][0]["field"] == ["filter", "search"]


async def test_the_json_export_holds_every_customer_with_the_api_names(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    await given_customers(client, partner)
    # when
    document = json.loads(await export_customers(client, partner.token, format="JSON"))
    # then
    customers = document["customers"]
    assert [customer["customerNumber"] for customer in customers] == [
        "C-00001",
        "C-00002",
        "C-00003",
        "C-00004",
    ]
    assert customers[0]["address"] == {
        "street": "Via Appia 1",
        "postalCode": "00179",
        "city": "Roma",
        "country": "IT",
    }
    assert customers[0]["notes"].startswith("=1+1")  # JSON is not a spreadsheet: no quote
    assert customers[1]["status"] == "ARCHIVED"


async def test_a_download_link_works_once_without_a_token(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    payload = await client.mutate(EXPORT, {}, partner.token)
    url = payload["export"]["url"]
    expires_at = datetime.fromisoformat(payload["export"]["expiresAt"])
    # when
    head = await client.http.head(url)
    first = await client.http.get(url)
    second = await client.http.get(url)
    # then
    assert url.startswith("http://testserver/exports/")
    assert timedelta(minutes=9) < expires_at - datetime.now(UTC) <= timedelta(minutes=10)
    assert head.status_code == 405  # a link checker does not use it up
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/csv; charset=utf-8"
    assert first.headers["content-disposition"].startswith('attachment; filename="customers-')
    assert first.headers["cache-control"] == "no-store"
    assert second.status_code == 404


async def test_an_expired_or_unknown_link_is_not_found(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    payload = await client.mutate(EXPORT, {}, partner.token)
    await DataExport.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # when
    expired = await client.http.get(payload["export"]["url"])
    unknown = await client.http.get("/exports/" + "A" * 43)
    # then
    assert expired.status_code == unknown.status_code == 404
    assert expired.text == unknown.text


async def test_only_the_hash_of_a_link_is_stored(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # when
    payload = await client.mutate(EXPORT, {}, partner.token)
    # then
    token = payload["export"]["url"].rsplit("/", 1)[1]
    assert len(token) == 43  # 256 bits, base64url
    stored = await DataExport.get()
    assert token not in stored.token_hash and len(stored.token_hash) == 64


async def test_the_data_of_one_customer_is_one_json_document(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a customer made from an inquiry, with a domain and a task
    await client.mutate(
        SUBMIT_INQUIRY,
        {
            "input": {
                "partnerSlug": partner.slug,
                "name": "Paola Neri",
                "email": "paola@example.it",
                "message": "A new shop, please.",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
            }
        },
    )
    inquiries = await client.gql("{ inquiries { edges { node { id } } } }", token=partner.token)
    inquiry_id = inquiries["inquiries"]["edges"][0]["node"]["id"]
    converted = await client.mutate(
        CONVERT_INQUIRY,
        {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}},
        partner.token,
    )
    customer_id = converted["customer"]["id"]
    await client.mutate(
        CREATE_DOMAIN, {"input": {"name": "neri.example", "customerId": customer_id}}, partner.token
    )
    await client.mutate(
        CREATE_TASK, {"input": {"title": "Call back", "customerId": customer_id}}, partner.token
    )
    # when
    payload = await client.mutate(EXPORT_CUSTOMER_DATA, {"id": customer_id}, partner.token)
    document = json.loads(await download(client, payload["export"]["url"]))
    # then
    assert list(document) == [
        "exportedAt", "customer", "domains", "contracts", "tasks", "inquiries",
        "accessAuthorizations", "activity", "emails",
    ]  # fmt: skip
    assert (document["customer"]["firstName"], document["customer"]["email"]) == (
        "Paola",
        "paola@example.it",
    )
    assert [domain["name"] for domain in document["domains"]] == ["neri.example"]
    assert [task["title"] for task in document["tasks"]] == ["Call back"]
    assert [inquiry["message"] for inquiry in document["inquiries"]] == ["A new shop, please."]
    assert {event["verb"] for event in document["activity"]} >= {
        "CUSTOMER_CREATED",
        "INQUIRY_CONVERTED",
        "ITEM_ASSIGNED",
    }


async def test_another_partners_customer_cannot_be_exported(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    customer = await create_customer(client, partner.token)
    other = await register_partner(client)
    # when
    payload = (await client.gql(EXPORT_CUSTOMER_DATA, {"id": customer["id"]}, other.token))[
        "exportCustomerData"
    ]
    # then
    assert payload["export"] is None
    assert payload["errors"] == [
        {"code": "NOT_FOUND", "message": "Customer not found.", "field": ["customerId"]}
    ]


async def test_an_account_holder_downloads_their_own_data(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: an authorization the partner declined with a message (and its e-mail)
    account = await register_account(client, name="Carla Blu", phone="+39 347 1234567")
    sent = await client.mutate(
        SEND_INVITATION,
        {"input": {"partnerSlug": partner.slug, "scope": "FULL", "message": "Hi there"}},
        account.token,
    )
    await client.mutate(
        DECLINE,
        {"input": {"invitationId": sent["invitation"]["id"], "personalMessage": "Not now."}},
        partner.token,
    )
    # when
    payload = await client.mutate(EXPORT_MY_DATA, {}, account.token)
    document = json.loads(await download(client, payload["export"]["url"]))
    # then
    assert document["account"]["name"] == "Carla Blu"
    assert document["account"]["phone"] == "+393471234567"
    (authorization,) = document["authorizations"]
    assert authorization["status"] == "DECLINED"
    assert authorization["partner"]["slug"] == partner.slug
    assert (authorization["message"], authorization["declineMessage"]) == ("Hi there", "Not now.")
    # every e-mail sent to them: the one verifying their address, and the decline
    assert {email["to"] for email in document["emails"]} == {account.email}
    assert len(document["emails"]) == 2
    assert any("Not now." in email["text"] for email in document["emails"])


async def test_a_partner_member_cannot_export_account_data(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # when
    payload = (await client.gql(EXPORT_MY_DATA, {}, partner.token))["exportMyData"]
    # then
    assert [error["code"] for error in payload["errors"]] == ["FORBIDDEN"]
