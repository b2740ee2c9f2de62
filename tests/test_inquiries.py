"""Inquiries: submit from a public profile, list, convert into a customer for good, dismiss."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette

from config import Settings
from models.activity import ActivityEvent, ActivityVerb
from models.customer import Customer
from models.inquiry import Inquiry
from schema.ids import parse_global_id, to_global_id
from tests.conftest import StatementCounter
from tests.factories import pk_of
from tests.support import (
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
)

SUBMIT = """
mutation($input: SubmitInquiryInput!) {
  submitInquiry(input: $input) { accepted errors { code message field } }
}"""
INQUIRIES = """
query($first: Int, $after: String, $filter: InquiryFilter) {
  inquiries(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id status name email phone companyName message receivedAt } }
  }
}"""
INQUIRY = """
query($id: ID!) {
  inquiry(id: $id) {
    id status name companyName assignedAt dismissedAt dismissReason
    assignedBy { name }
    customer { id displayName }
  }
}"""
NEW_COUNT = "{ viewer { member { partner { newInquiryCount } } } }"
CONVERT = """
mutation($input: ConvertInquiryInput!) {
  convertInquiry(input: $input) {
    inquiry { id status assignedAt assignedBy { name } customer { id } }
    customer {
      id kind displayName firstName lastName companyName email phone language source version
      inquiries { id }
    }
    errors { code message field }
  }
}"""
DISMISS = """
mutation($input: DismissInquiryInput!) {
  dismissInquiry(input: $input) {
    inquiry { id status dismissedAt dismissReason customer { id } }
    customer { id }
    errors { code message field }
  }
}"""
CUSTOMER = """
query($id: ID!) {
  customer(id: $id) {
    id displayName firstName lastName email phone version
    inquiries { id status }
    activity(first: 10) { edges { node { verb } } }
  }
}"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Inquiry { status name } } }"
LIST_WITH_RELATIONS = """
query {
  inquiries(first: 50) {
    edges { node { id assignedBy { name } customer { id displayName inquiries { id } } } }
  }
}"""


def _inquiry_input(slug: str, **overrides: Any) -> dict[str, Any]:
    return {
        "partnerSlug": slug,
        "name": "Maria Luisa Rossi",
        "email": "Maria.Rossi@Example.IT",
        "phone": "+39 06 1234 5678",
        "message": "We need a new website.\nCan you call me?",
        "privacyConsent": True,
        "renderedAt": rendered_at(),
        **overrides,
    }


async def _submit(client: GraphQLClient, slug: str, **overrides: Any) -> dict[str, Any]:
    data = await client.gql(SUBMIT, {"input": _inquiry_input(slug, **overrides)})
    return data["submitInquiry"]


async def _new_inquiry(client: GraphQLClient, partner: PartnerLogin, **overrides: Any) -> str:
    """Submit an inquiry to `partner` and return its global id."""
    assert (await _submit(client, partner.slug, **overrides))["accepted"] is True
    row = await Inquiry.filter().order_by("-id").first()
    assert row is not None
    return to_global_id("Inquiry", row.id)


def _pk(global_id: str) -> int:
    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


# ---------------------------------------------------------------- submit


async def test_visitor_inquiry_to_public_profile_is_stored_counted_and_logged(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client, public=True)
    # when
    result = await _submit(client, partner.slug, companyName="Rossi Srl")
    # then
    assert result == {"accepted": True, "errors": []}
    data = await client.gql(INQUIRIES, token=partner.token)
    (edge,) = data["inquiries"]["edges"]
    node = edge["node"]
    assert node["status"] == "NEW"
    assert node["email"] == "maria.rossi@example.it"
    assert node["phone"] == "+390612345678"
    assert node["companyName"] == "Rossi Srl"
    assert node["message"] == "We need a new website.\nCan you call me?"
    assert node["receivedAt"].endswith("+00:00")
    count = await client.gql(NEW_COUNT, token=partner.token)
    assert count["viewer"]["member"]["partner"]["newInquiryCount"] == 1
    verbs = await ActivityEvent.filter(verb=ActivityVerb.INQUIRY_RECEIVED).count()
    assert verbs == 1


async def test_hidden_or_unknown_profile_gets_profile_not_public_and_nothing_is_stored(
    client: GraphQLClient,
) -> None:
    hidden = await register_partner(client, public=False)
    for slug in (hidden.slug, "no-such-agency"):
        result = await _submit(client, slug)
        assert result["accepted"] is False
        assert result["errors"] == [
            {
                "code": "PROFILE_NOT_PUBLIC",
                "message": "This partner does not take inquiries: the profile is not public.",
                "field": ["partnerSlug"],
            }
        ]
    assert await Inquiry.all().count() == 0


async def test_without_privacy_consent_nothing_is_stored(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    result = await _submit(client, partner.slug, privacyConsent=False)
    assert result["accepted"] is False
    assert [(error["code"], error["field"]) for error in result["errors"]] == [
        ("VALIDATION", ["privacyConsent"])
    ]
    assert await Inquiry.all().count() == 0


async def test_filled_honeypot_is_answered_accepted_but_nothing_is_stored(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    result = await _submit(client, partner.slug, website="http://spam.example")
    assert result == {"accepted": True, "errors": []}
    assert await Inquiry.all().count() == 0
    assert await ActivityEvent.filter(verb=ActivityVerb.INQUIRY_RECEIVED).count() == 0


async def test_a_form_without_render_time_is_answered_accepted_but_nothing_is_stored(
    app: Starlette, client: GraphQLClient, settings: Settings
) -> None:
    # given: the bot trap is on, and a partner's members are listening
    assert settings.inquiry_min_fill_seconds > 0
    partner = await register_partner(client, public=True)
    async with app.state.broker.subscribe(pk_of(partner.partner_id)) as stream:
        # when: a script posts the form without the time it was shown
        form = _inquiry_input(partner.slug)
        del form["renderedAt"]
        result = (await client.gql(SUBMIT, {"input": form}))["submitInquiry"]
        # then: the same answer as a success, nothing stored, nothing announced
        assert result == {"accepted": True, "errors": []}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), 0.2)
    assert await Inquiry.all().count() == 0
    assert await ActivityEvent.filter(verb=ActivityVerb.INQUIRY_RECEIVED).count() == 0


async def test_bad_fields_are_all_reported_and_nothing_is_stored(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    result = await _submit(
        client,
        partner.slug,
        name="  ",
        email="not-an-address",
        phone="12",
        companyName="Evil\x1bCorp",
        message="x" * 5001,
    )
    assert result["accepted"] is False
    fields = sorted(tuple(error["field"]) for error in result["errors"])
    assert fields == [("companyName",), ("email",), ("message",), ("name",), ("phone",)]
    assert {error["code"] for error in result["errors"]} == {"VALIDATION"}
    assert await Inquiry.all().count() == 0


async def test_message_of_exactly_5000_characters_with_line_breaks_is_accepted(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    message = ("a" * 99 + "\n") * 50
    result = await _submit(client, partner.slug, message=message)
    assert result["accepted"] is True
    stored = await Inquiry.get()
    assert len(stored.message) == 4999  # trimmed trailing line break
    header_trick = await _submit(client, partner.slug, name="Mallory\u2028Bcc: x@evil.example")
    assert header_trick["errors"][0]["field"] == ["name"]


# ---------------------------------------------------------------- read


async def test_inquiries_are_for_the_partners_members_only(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    other = await register_partner(client, public=True)
    account = await register_account(client)
    inquiry_id = await _new_inquiry(client, partner)
    # another partner sees none of them
    data = await client.gql(INQUIRIES, token=other.token)
    assert data["inquiries"]["totalCount"] == 0
    foreign = await client.gql(INQUIRY, {"id": inquiry_id}, other.token)
    assert foreign["inquiry"] is None
    node = await client.gql(NODE, {"id": inquiry_id}, other.token)
    assert node["node"] is None
    # account holders and visitors get a top-level error
    as_account = await client.raw(INQUIRIES, token=account.token)
    assert as_account["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await client.raw(INQUIRY, {"id": inquiry_id})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # the partner's member does see it
    own = await client.gql(NODE, {"id": inquiry_id}, partner.token)
    assert own["node"] == {"id": inquiry_id, "status": "NEW", "name": "Maria Luisa Rossi"}


async def test_inquiries_list_pages_newest_first_and_filters_by_status(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    ids = [await _new_inquiry(client, partner, name=f"Person {index}") for index in range(3)]
    await client.mutate(DISMISS, {"input": {"inquiryId": ids[0]}}, partner.token)
    first = await client.gql(INQUIRIES, {"first": 2}, partner.token)
    assert [edge["node"]["id"] for edge in first["inquiries"]["edges"]] == [ids[2], ids[1]]
    assert first["inquiries"]["pageInfo"]["hasNextPage"] is True
    rest = await client.gql(
        INQUIRIES,
        {"first": 2, "after": first["inquiries"]["pageInfo"]["endCursor"]},
        partner.token,
    )
    assert [edge["node"]["id"] for edge in rest["inquiries"]["edges"]] == [ids[0]]
    new = await client.gql(INQUIRIES, {"filter": {"status": "NEW"}}, partner.token)
    assert new["inquiries"]["totalCount"] == 2
    dismissed = await client.gql(INQUIRIES, {"filter": {"status": "DISMISSED"}}, partner.token)
    assert [edge["node"]["id"] for edge in dismissed["inquiries"]["edges"]] == [ids[0]]


# ---------------------------------------------------------------- convert


async def test_convert_into_new_customer_takes_the_inquiry_data(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner)
    # when
    payload = await client.mutate(
        CONVERT, {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}}, partner.token
    )
    # then
    customer = payload["customer"]
    assert (customer["firstName"], customer["lastName"]) == ("Maria Luisa", "Rossi")
    assert customer["kind"] == "PERSON"
    assert customer["email"] == "maria.rossi@example.it"
    assert customer["phone"] == "+390612345678"
    assert customer["source"] == "INQUIRY"
    assert customer["inquiries"] == [{"id": inquiry_id}]
    inquiry = payload["inquiry"]
    assert inquiry["status"] == "ASSIGNED"
    assert inquiry["customer"] == {"id": customer["id"]}
    assert inquiry["assignedBy"] == {"name": "Owner Person"}
    assert inquiry["assignedAt"].endswith("+00:00")
    data = await client.gql(CUSTOMER, {"id": customer["id"]}, partner.token)
    verbs = [edge["node"]["verb"] for edge in data["customer"]["activity"]["edges"]]
    assert verbs == ["INQUIRY_CONVERTED", "CUSTOMER_CREATED"]
    count = await client.gql(NEW_COUNT, token=partner.token)
    assert count["viewer"]["member"]["partner"]["newInquiryCount"] == 0


async def test_convert_with_company_makes_a_company_and_input_fields_override(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner, companyName="Rossi Srl")
    payload = await client.mutate(
        CONVERT,
        {
            "input": {
                "inquiryId": inquiry_id,
                "target": {"newCustomer": {"email": "office@rossi.example", "language": "it"}},
            }
        },
        partner.token,
    )
    customer = payload["customer"]
    assert customer["kind"] == "COMPANY"
    assert customer["displayName"] == "Rossi Srl"
    assert customer["email"] == "office@rossi.example"
    assert customer["language"] == "it"
    assert (customer["firstName"], customer["lastName"]) == ("Maria Luisa", "Rossi")


async def test_convert_clearing_the_company_name_makes_a_person(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner, companyName="Rossi Srl")
    payload = await client.mutate(
        CONVERT,
        {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {"companyName": None}}}},
        partner.token,
    )
    assert payload["customer"]["kind"] == "PERSON"
    assert payload["customer"]["companyName"] is None


async def test_convert_into_existing_customer_changes_none_of_its_fields(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client, public=True)
    existing = await create_customer(client, partner.token, email="mario@example.com")
    inquiry_id = await _new_inquiry(client, partner, companyName="Other Srl")
    before = await client.gql(CUSTOMER, {"id": existing["id"]}, partner.token)
    # when
    payload = await client.mutate(
        CONVERT,
        {"input": {"inquiryId": inquiry_id, "target": {"existingCustomerId": existing["id"]}}},
        partner.token,
    )
    # then
    assert payload["customer"]["id"] == existing["id"]
    after = await client.gql(CUSTOMER, {"id": existing["id"]}, partner.token)
    unchanged = ("displayName", "firstName", "lastName", "email", "phone", "version")
    assert {key: after["customer"][key] for key in unchanged} == {
        key: before["customer"][key] for key in unchanged
    }
    assert after["customer"]["inquiries"] == [{"id": inquiry_id, "status": "ASSIGNED"}]
    assert await Customer.all().count() == 1


async def test_second_convert_is_already_processed_and_changes_nothing(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    existing = await create_customer(client, partner.token)
    inquiry_id = await _new_inquiry(client, partner)
    first = await client.mutate(
        CONVERT, {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}}, partner.token
    )
    targets: list[dict[str, Any]] = [{"newCustomer": {}}, {"existingCustomerId": existing["id"]}]
    for target in targets:
        again = await client.gql(
            CONVERT, {"input": {"inquiryId": inquiry_id, "target": target}}, partner.token
        )
        assert again["convertInquiry"]["errors"] == [
            {
                "code": "ALREADY_PROCESSED",
                "message": "This inquiry is already assigned to a customer.",
                "field": ["inquiryId"],
            }
        ]
    data = await client.gql(INQUIRY, {"id": inquiry_id}, partner.token)
    assert data["inquiry"]["customer"]["id"] == first["customer"]["id"]
    assert await Customer.all().count() == 2
    dismissed = await client.gql(DISMISS, {"input": {"inquiryId": inquiry_id}}, partner.token)
    assert dismissed["dismissInquiry"]["errors"][0]["code"] == "ALREADY_PROCESSED"


async def test_twenty_concurrent_converts_assign_once_and_create_at_most_one_customer(
    client: GraphQLClient,
) -> None:
    # given: one inquiry, two existing customers, 20 converts with mixed targets
    partner = await register_partner(client, public=True)
    existing = [await create_customer(client, partner.token) for _ in range(2)]
    inquiry_id = await _new_inquiry(client, partner)
    targets = [
        {"newCustomer": {}} if index % 2 else {"existingCustomerId": existing[index % 4 // 2]["id"]}
        for index in range(20)
    ]
    # when
    results = await asyncio.gather(
        *(
            client.gql(
                CONVERT, {"input": {"inquiryId": inquiry_id, "target": target}}, partner.token
            )
            for target in targets
        )
    )
    # then
    payloads = [result["convertInquiry"] for result in results]
    winners = [payload for payload in payloads if not payload["errors"]]
    losers = [payload["errors"][0]["code"] for payload in payloads if payload["errors"]]
    assert len(winners) == 1
    assert losers == ["ALREADY_PROCESSED"] * 19
    assert await Customer.all().count() in (2, 3)
    stored = await Inquiry.get(id=_pk(inquiry_id))
    assert stored.status == "ASSIGNED"
    assert to_global_id("Customer", stored.customer_id or 0) == winners[0]["customer"]["id"]
    converted = await ActivityEvent.filter(verb=ActivityVerb.INQUIRY_CONVERTED).count()
    assert converted == 1


async def test_convert_with_bad_override_reports_the_nested_field_and_keeps_it_new(
    client: GraphQLClient,
) -> None:
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner)
    result = await client.gql(
        CONVERT,
        {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {"email": "nope"}}}},
        partner.token,
    )
    errors = result["convertInquiry"]["errors"]
    assert [(error["code"], error["field"]) for error in errors] == [
        ("VALIDATION", ["target", "newCustomer", "email"])
    ]
    assert (await Inquiry.get(id=_pk(inquiry_id))).status == "NEW"
    assert await Customer.all().count() == 0


async def test_convert_needs_exactly_one_target(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    existing = await create_customer(client, partner.token)
    inquiry_id = await _new_inquiry(client, partner)
    both = {"newCustomer": {}, "existingCustomerId": existing["id"]}
    for target in (both, {}):
        body = await client.raw(
            CONVERT, {"input": {"inquiryId": inquiry_id, "target": target}}, partner.token
        )
        assert body.get("errors"), body
    assert (await Inquiry.get(id=_pk(inquiry_id))).status == "NEW"


async def test_another_partners_ids_are_not_found_like_missing_ones(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    other = await register_partner(client, public=True)
    foreign_inquiry = await _new_inquiry(client, other)
    foreign_customer = await create_customer(client, other.token)
    own_inquiry = await _new_inquiry(client, partner)

    async def convert(inquiry_id: str, target: dict[str, Any]) -> list[dict[str, Any]]:
        data = await client.gql(
            CONVERT, {"input": {"inquiryId": inquiry_id, "target": target}}, partner.token
        )
        return data["convertInquiry"]["errors"]

    missing = to_global_id("Inquiry", 999_999)
    assert await convert(foreign_inquiry, {"newCustomer": {}}) == await convert(
        missing, {"newCustomer": {}}
    )
    assert (await convert(missing, {"newCustomer": {}}))[0]["code"] == "NOT_FOUND"
    assert (await convert("garbage", {"newCustomer": {}}))[0]["field"] == ["inquiryId"]
    wrong_customer = await convert(own_inquiry, {"existingCustomerId": foreign_customer["id"]})
    assert wrong_customer == [
        {
            "code": "NOT_FOUND",
            "message": "Customer not found.",
            "field": ["target", "existingCustomerId"],
        }
    ]
    dismissed = await client.gql(DISMISS, {"input": {"inquiryId": foreign_inquiry}}, partner.token)
    assert dismissed["dismissInquiry"]["errors"][0]["code"] == "NOT_FOUND"
    assert await Inquiry.filter(status="NEW").count() == 2


async def test_account_holders_and_visitors_cannot_convert(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    account = await register_account(client)
    inquiry_id = await _new_inquiry(client, partner)
    variables = {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}}
    as_account = await client.gql(CONVERT, variables, account.token)
    assert as_account["convertInquiry"]["errors"][0]["code"] == "FORBIDDEN"
    anonymous = await client.gql(CONVERT, variables)
    assert anonymous["convertInquiry"]["errors"][0]["code"] == "UNAUTHENTICATED"
    assert (await Inquiry.get(id=_pk(inquiry_id))).status == "NEW"


# ---------------------------------------------------------------- dismiss


async def test_dismiss_files_a_new_inquiry_away_once(client: GraphQLClient) -> None:
    # given
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner)
    # when
    payload = await client.mutate(
        DISMISS, {"input": {"inquiryId": inquiry_id, "reason": " spam "}}, partner.token
    )
    # then
    inquiry = payload["inquiry"]
    assert (inquiry["status"], inquiry["dismissReason"], inquiry["customer"]) == (
        "DISMISSED",
        "spam",
        None,
    )
    assert inquiry["dismissedAt"].endswith("+00:00")
    assert await ActivityEvent.filter(verb=ActivityVerb.INQUIRY_DISMISSED).count() == 1
    again = await client.gql(DISMISS, {"input": {"inquiryId": inquiry_id}}, partner.token)
    assert again["dismissInquiry"]["errors"][0]["code"] == "ALREADY_PROCESSED"
    convert = await client.gql(
        CONVERT, {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}}, partner.token
    )
    assert convert["convertInquiry"]["errors"] == [
        {
            "code": "ALREADY_PROCESSED",
            "message": "This inquiry was dismissed.",
            "field": ["inquiryId"],
        }
    ]
    assert await Customer.all().count() == 0


async def test_dismiss_reason_is_validated(client: GraphQLClient) -> None:
    partner = await register_partner(client, public=True)
    inquiry_id = await _new_inquiry(client, partner)
    result = await client.gql(
        DISMISS, {"input": {"inquiryId": inquiry_id, "reason": "x" * 501}}, partner.token
    )
    assert result["dismissInquiry"]["errors"][0]["field"] == ["reason"]
    assert (await Inquiry.get(id=_pk(inquiry_id))).status == "NEW"


async def test_the_inquiry_list_costs_the_same_for_2_and_for_6_rows(
    client: GraphQLClient, count_queries: StatementCounter
) -> None:
    partner = await register_partner(client, public=True)
    statements = []
    for rows in (2, 6):
        while await Inquiry.all().count() < rows:
            inquiry_id = await _new_inquiry(client, partner)
            await client.mutate(
                CONVERT,
                {"input": {"inquiryId": inquiry_id, "target": {"newCustomer": {}}}},
                partner.token,
            )
        count_queries.reset()
        data = await client.gql(LIST_WITH_RELATIONS, token=partner.token)
        assert len(data["inquiries"]["edges"]) == rows
        statements.append(count_queries.count)
    assert statements[0] == statements[1]
