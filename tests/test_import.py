"""CSV imports through the API (issue "customer data", part 1): the report, dry runs, batches,
matching, re-runs, and the files an import refuses as a whole."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest

from events import EventKind, get_broker
from models.activity import ActivityEvent
from models.customer import Customer
from models.webhook import WebhookDelivery, WebhookEndpoint
from tests.factories import add_member, pk_of
from tests.imports import CUSTOMER_IMPORT, IMPORT, run_import, send_import
from tests.support import GraphQLClient, PartnerLogin, register_account, register_partner
from webhooks.signing import new_secret

HEADER = [
    "External ID",
    "First name",
    "Last name",
    "Company",
    "E-mail",
    "Phone",
    "Street",
    "Postal code",
    "City",
    "Country",
    "Language",
    "Notes",
    "Tags",
    "Fax",
]
CUSTOMERS = """
query { customers(first: 100, orderBy: {field: CUSTOMER_NUMBER}) {
  totalCount
  edges { node { customerNumber externalId kind firstName lastName companyName email phone
                 address { street postalCode city country } language notes tags version } }
} }"""


def good_row(number: int) -> dict[str, str]:
    return {
        "External ID": f"EXT-{number:04d}",
        "First name": f"Name{number}",
        "Last name": f"Surname{number}",
        "Company": "",
        "E-mail": f"person{number}@example.com",
        "Phone": f"+39 02 {10_000_000 + number}",
        "Street": f"Via Roma {number}",
        "Postal code": "20121",
        "City": "Milano",
        "Country": "IT",
        "Language": "it",
        "Notes": "",
        "Tags": "imported|vip" if number % 2 else "imported",
        "Fax": "ignored",
    }


# The bad rows of the 1,000-row file: row number -> (what to change, the expected problems).
def bad_rows() -> dict[int, tuple[dict[str, str], list[tuple[str | None, str]]]]:
    rows: dict[int, tuple[dict[str, str], list[tuple[str | None, str]]]] = {}
    not_a_phone = "Phone is not a phone number; use the international form, e.g. +39 06 1234 5678."
    for number in range(20, 181, 20):  # 9 rows: wrong phone
        rows[number] = ({"Phone": "call me"}, [("Phone", not_a_phone)])
    country = "Country must be an ISO 3166-1 alpha-2 code such as IT or DE."
    for number in range(205, 366, 20):  # 9 rows: bad country
        rows[number] = ({"Country": "XX"}, [("Country", country)])
    # ... one of them with a wrong phone as well: every problem of a row is listed
    rows[365] = (
        {"Country": "XX", "Phone": "call me"},
        [("Country", country), ("Phone", not_a_phone)],
    )
    for number in range(410, 571, 20):  # 9 rows: no name at all
        rows[number] = (
            {"First name": "", "Last name": ""},
            [("Last name", "A person needs a first or last name.")],
        )
    for number in range(603, 764, 20):  # 9 rows: an external ID an earlier row has
        rows[number] = (
            {"External ID": f"EXT-{number - 3:04d}"},
            [("External ID", f"The same external ID is on row {number - 3} already.")],
        )
    for number in range(807, 868, 20):  # 4 rows: not an e-mail address
        rows[number] = (
            {"E-mail": "no-at-sign"},
            [("E-mail", "E-mail is not valid: An email address must have an @-sign.")],
        )
    for number in range(902, 943, 20):  # 3 rows: not a language code
        rows[number] = (
            {"Language": "english"},
            [("Language", "Language must be a language code such as en, de or it.")],
        )
    for number in range(951, 992, 20):  # 3 rows: more cells than the header has columns
        rows[number] = (
            {"extra": "surplus"},
            [(None, "The row has more cells than the header has columns (14).")],
        )
    for number in (996, 997, 998, 999):  # 4 rows: too long, control characters
        rows[number] = (
            {"Company": "C" * 201},
            [("Company", "companyName is longer than 200 characters.")],
        )
    return rows


def csv_bytes(header: list[str], rows: list[dict[str, str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        cells = [row.get(column, "") for column in header]
        if "extra" in row:
            cells.append(row["extra"])
        writer.writerow(cells)
    return buffer.getvalue().encode()


def thousand_row_file() -> tuple[bytes, list[dict[str, Any]]]:
    """1,000 rows, 50 of them bad, and the report's expected problems."""
    bad = bad_rows()
    assert len(bad) == 50
    rows = []
    expected: list[dict[str, Any]] = [
        {"row": 0, "field": "Fax", "message": "Unknown column: its cells are not imported."}
    ]
    for number in range(1, 1001):
        row = good_row(number)
        if number in bad:
            change, problems = bad[number]
            row.update(change)
            expected += [
                {"row": number, "field": field, "message": message} for field, message in problems
            ]
        if number == 7:  # formula cells are stored as text, not refused
            row.update({"First name": '=HYPERLINK("http://x")', "Notes": "@SUM(A1:A2)"})
        rows.append(row)
    return csv_bytes(HEADER, rows), expected


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client)


async def test_a_dry_run_reports_every_problem_of_a_thousand_rows_and_writes_nothing(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    content, expected = thousand_row_file()
    activity_before = await ActivityEvent.all().count()
    # when
    payload = await send_import(client, partner.token, content)
    # then
    assert payload["errors"] == []
    report = payload["customerImport"]
    assert (report["status"], report["dryRun"], report["fileName"]) == (
        "VALIDATED",
        True,
        "customers.csv",
    )
    assert (report["rows"], report["created"], report["updated"], report["skipped"]) == (
        1000,
        950,
        0,
        50,
    )
    assert report["problems"] == expected
    assert await Customer.all().count() == 0
    assert await ActivityEvent.all().count() == activity_before


async def test_an_import_writes_the_valid_rows_and_a_second_run_changes_nothing(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    content, expected = thousand_row_file()
    # when
    first = await run_import(client, partner.token, content)
    versions = await Customer.all().order_by("id").values_list("id", "version", "updated_at")
    second = await run_import(client, partner.token, content)
    # then
    assert (first["status"], first["created"], first["updated"], first["skipped"]) == (
        "DONE",
        950,
        0,
        50,
    )
    assert first["problems"] == expected
    assert (second["status"], second["created"], second["updated"], second["skipped"]) == (
        "DONE",
        0,
        0,
        1000,
    )
    assert await Customer.all().count() == 950
    assert (
        await Customer.all().order_by("id").values_list("id", "version", "updated_at") == versions
    )


async def test_webhook_endpoints_get_one_delivery_per_imported_customer(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: an endpoint for created and updated customers, and one customer already imported
    endpoint = await WebhookEndpoint.create(
        partner_id=pk_of(partner.partner_id),
        url="https://hooks.example.org/in",
        secret=new_secret(),
        event_types=["CUSTOMER_CREATED", "CUSTOMER_UPDATED"],
    )
    await run_import(client, partner.token, csv_bytes(HEADER, [good_row(1)]))
    changed = {**good_row(1), "City": "Roma"}
    # when: a file changes that customer and adds two
    await run_import(client, partner.token, csv_bytes(HEADER, [changed, good_row(2), good_row(3)]))
    # then: one delivery per customer change, each with the customer as it is now
    deliveries = await WebhookDelivery.filter(endpoint_id=endpoint.id).order_by("id")
    sent = [(d.event_type.value, json.loads(d.payload)["data"]["customer"]) for d in deliveries]
    assert [(kind, customer["externalId"]) for kind, customer in sent] == [
        ("CUSTOMER_CREATED", "EXT-0001"),
        ("CUSTOMER_CREATED", "EXT-0002"),
        ("CUSTOMER_CREATED", "EXT-0003"),
        ("CUSTOMER_UPDATED", "EXT-0001"),
    ]
    assert sent[3][1]["address"]["city"] == "Roma"


async def test_imported_customers_have_the_fields_of_their_rows(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    rows = [good_row(1), good_row(2)]
    rows[1].update({"First name": '=HYPERLINK("http://x")', "Notes": "-1\nsecond line"})
    # when
    await run_import(client, partner.token, csv_bytes(HEADER, rows))
    # then
    found = (await client.gql(CUSTOMERS, token=partner.token))["customers"]["edges"]
    first, second = (edge["node"] for edge in found)
    assert first == {
        "customerNumber": "C-00001",
        "externalId": "EXT-0001",
        "kind": "PERSON",
        "firstName": "Name1",
        "lastName": "Surname1",
        "companyName": None,
        "email": "person1@example.com",
        "phone": "+390210000001",
        "address": {
            "street": "Via Roma 1",
            "postalCode": "20121",
            "city": "Milano",
            "country": "IT",
        },
        "language": "it",
        "notes": None,
        "tags": ["imported", "vip"],
        "version": 1,
    }
    assert (second["firstName"], second["notes"]) == ('=HYPERLINK("http://x")', "-1\nsecond line")


async def test_headers_in_italian_or_german_with_semicolons_and_a_bom_are_understood(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: an Italian spreadsheet's export and a German one
    italian = "\ufeffNome;Cognome;Azienda;E-mail;Telefono;Via;CAP;Città;Paese;Partita IVA;Lingua;Note;Tag\r\n"
    italian += (
        "Giulia;Verdi;;giulia@example.it;+39 347 1234567;Via Po 1;10121;Torino;it;;IT;ciao;a|b\r\n"
    )
    german = "VORNAME,Nachname,Firma,E-Mail,Telefon,Straße,PLZ,Stadt,Land,USt-IdNr.,Sprache,Notizen,Tags\r\n"
    german += ",,Muster GmbH,info@muster.de,+49 30 12345678,Hauptstr. 1,10115,Berlin,DE,DE 123456789,de,,\r\n"
    # when
    italian_report = await run_import(client, partner.token, italian.encode(), "clienti.csv")
    german_report = await run_import(client, partner.token, german.encode(), "kunden.csv")
    # then
    assert italian_report["problems"] == [] and italian_report["created"] == 1
    assert german_report["problems"] == [] and german_report["created"] == 1
    found = (await client.gql(CUSTOMERS, token=partner.token))["customers"]["edges"]
    giulia, muster = (edge["node"] for edge in found)
    assert (giulia["firstName"], giulia["address"]["city"], giulia["tags"]) == (
        "Giulia",
        "Torino",
        ["a", "b"],
    )
    assert (muster["kind"], muster["companyName"], muster["phone"]) == (
        "COMPANY",
        "Muster GmbH",
        "+493012345678",
    )


async def test_rows_match_existing_customers_on_external_id_then_on_email(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: customers made by an earlier import
    await run_import(client, partner.token, csv_bytes(HEADER, [good_row(1), good_row(2)]))
    by_external_id = {**good_row(1), "E-mail": "new-address@example.com"}
    by_email = {**good_row(2), "External ID": "", "City": "Roma"}
    new = good_row(3)
    # when
    report = await run_import(
        client, partner.token, csv_bytes(HEADER, [by_external_id, by_email, new])
    )
    # then
    assert (report["created"], report["updated"], report["skipped"]) == (1, 2, 0)
    found = (await client.gql(CUSTOMERS, token=partner.token))["customers"]["edges"]
    nodes = [edge["node"] for edge in found]
    assert [node["email"] for node in nodes] == [
        "new-address@example.com",
        "person2@example.com",
        "person3@example.com",
    ]
    assert nodes[1]["address"]["city"] == "Roma"
    assert nodes[1]["externalId"] is None  # an empty cell clears the field
    assert [node["version"] for node in nodes] == [2, 2, 1]


async def test_an_import_tells_the_dashboards_once_when_it_is_done(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    partner_id = pk_of(partner.partner_id)
    kinds: list[str] = []
    async with get_broker().subscribe(partner_id) as stream:
        # when
        report = await run_import(
            client, partner.token, csv_bytes(HEADER, [good_row(1), good_row(2)])
        )
        while EventKind.CUSTOMERS_IMPORTED not in kinds:
            kinds.append((await asyncio.wait_for(anext(stream), 5)).kind)
    # then: one event for the import (and its feed event), none per row
    assert kinds == [EventKind.ACTIVITY_RECORDED, EventKind.CUSTOMERS_IMPORTED]
    feed = await client.gql(
        "{ activity(first: 5) { edges { node { verb summary } } } }", token=partner.token
    )
    verbs = [edge["node"]["verb"] for edge in feed["activity"]["edges"]]
    assert verbs == ["CUSTOMERS_IMPORTED", "CUSTOMER_CREATED", "CUSTOMER_CREATED"]
    assert feed["activity"]["edges"][0]["node"]["summary"] == (
        "Import of customers.csv done: 2 created, 0 updated, 0 skipped"
    )
    assert report["finishedAt"] is not None


async def test_another_partner_cannot_read_an_import(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    payload = await send_import(client, partner.token, csv_bytes(HEADER, [good_row(1)]))
    other = await register_partner(client)
    # when
    found = await client.gql(CUSTOMER_IMPORT, {"id": payload["customerImport"]["id"]}, other.token)
    # then
    assert found["customerImport"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\r\n \r\n", "The file is empty."),
        (
            "Nome,Città\r\nLuca,Bari\r\n".encode("latin-1"),
            "The file is not UTF-8 text (byte 10 is not): save it as “CSV UTF-8” and upload it again.",
        ),
        (b"First name,Last name\r\n", "The file has a header row but no data rows."),
        (
            b"Colour,Size\r\nred,XL\r\n",
            "The first row must name the columns, e.g. First name, Last name, E-mail (or Nome, Cognome / Vorname, Nachname); none of its columns is known.",
        ),
        (
            b"Last name\r\n" + b"Rossi\r\n" * 10_001,
            "The file has 10001 data rows; an import takes at most 10000: split it.",
        ),
    ],
    ids=["empty", "blank", "not-utf-8", "header-only", "no-known-column", "too-many-rows"],
)
async def test_a_file_that_cannot_be_imported_as_a_whole_is_refused_with_its_reason(
    client: GraphQLClient, partner: PartnerLogin, content: bytes, message: str
) -> None:
    # when
    payload = await send_import(client, partner.token, content, dry_run=False)
    # then
    assert payload["customerImport"] is None
    assert payload["errors"] == [{"code": "VALIDATION", "message": message, "field": ["file"]}]
    assert await Customer.all().count() == 0


async def test_a_file_over_the_upload_limit_is_refused_with_413(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a 6 MiB file
    content = b"Last name\r\n" + b"Rossi\r\n" * (6 * 1024 * 1024 // 7)
    # when
    response = await client.upload(
        IMPORT, {"file": None, "dryRun": True}, {"file": ("big.csv", content)}, partner.token
    )
    # then
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"].startswith("Request body too large")


async def test_only_partner_members_may_import(client: GraphQLClient) -> None:
    # given
    account = await register_account(client)
    content = csv_bytes(HEADER, [good_row(1)])
    # when
    as_account = await send_import(client, account.token, content)
    as_visitor = await send_import(client, "", content)
    # then
    assert [error["code"] for error in as_account["errors"]] == ["FORBIDDEN"]
    assert [error["code"] for error in as_visitor["errors"]] == ["UNAUTHENTICATED"]


async def test_a_member_may_import(client: GraphQLClient, partner: PartnerLogin) -> None:
    # given: a colleague with the MEMBER role
    _member_id, member_token = await add_member(client, partner)
    # when
    report = await run_import(client, member_token, csv_bytes(HEADER, [good_row(1)]))
    # then
    assert report["created"] == 1


async def test_an_import_that_meets_a_server_fault_ends_failed_and_keeps_its_batches(
    client: GraphQLClient, partner: PartnerLogin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the second batch of an import fails
    from resolvers import imports

    batches = 0
    write = imports._write

    async def failing_write(*args: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise RuntimeError("disk on fire")
        return await write(*args)

    monkeypatch.setattr(imports, "_write", failing_write)
    content = csv_bytes(HEADER, [good_row(number) for number in range(1, imports.BATCH_ROWS + 11)])
    # when
    report = await run_import(client, partner.token, content)
    # then: the first batch stays, the client reads no detail of the fault
    assert (report["status"], report["created"]) == ("FAILED", imports.BATCH_ROWS)
    assert report["problems"][1:] == [
        {"row": imports.BATCH_ROWS + 1, "field": None, "message": imports.FAILED_MESSAGE}
    ]
    assert await Customer.all().count() == imports.BATCH_ROWS
