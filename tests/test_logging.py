"""PARTNERDESK_LOG_FORMAT=json: one JSON object per line, with what an operator needs and no PII."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from telemetry.logs import JsonFormatter, new_request_id
from tests.support import GraphQLClient, create_customer, register_partner

LOGIN = "mutation Login($input: LoginInput!) { login(input: $input) { token errors { code } } }"
CUSTOMER_BY_EMAIL = """query Find($q: String) {
  customers(first: 5, filter: {search: $q}) { totalCount } }"""


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything PartnerDesk logs at INFO and above, as the JSON format writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("partnerdesk")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_operation_is_one_json_line_without_personal_data(
    client: GraphQLClient, json_log: io.StringIO
) -> None:
    # given: a partner signs up, signs in, adds a customer and looks for her by e-mail
    partner = await register_partner(client)
    signed_in = await client.mutate(
        LOGIN,
        {"input": {"realm": "PARTNER", "email": partner.email, "password": partner.password}},
    )
    await create_customer(
        client, partner.token, firstName="Grace", lastName="Hopperton", email="grace@hopper.example"
    )
    await client.gql(CUSTOMER_BY_EMAIL, {"q": "grace@hopper.example"}, partner.token)
    wrong = {"realm": "PARTNER", "email": partner.email, "password": "not-the-password"}
    await client.gql(LOGIN, {"input": wrong})

    # when
    lines = lines_of(json_log)

    # then: each operation has its line, with the fields operators filter by
    operations = [line for line in lines if line["logger"] == "partnerdesk.request"]
    assert [line["operation"] for line in operations] == [
        "{registerPartner}",
        "Login",
        "{createCustomer}",
        "Find",
        "Login",
    ]
    for line in operations:
        assert {"time", "level", "request_id", "operation_type", "duration_ms", "outcome"} <= set(
            line
        ), line
        assert line["outcome"] == "ok" and line["level"] == "INFO"
    find = operations[3]
    assert find["operation_type"] == "query" and isinstance(find["partner_id"], int)
    assert len({line["request_id"] for line in operations}) == len(operations)
    # and nothing personal anywhere: no e-mail addresses, names, passwords, tokens or variables
    text = json_log.getvalue()
    for secret in (
        partner.email,
        "grace@hopper.example",
        "Grace",
        "Hopperton",
        "Owner Person",
        partner.password,
        "not-the-password",
        partner.token,
        signed_in["token"],
    ):
        assert secret not in text, secret
    assert "@" not in text


async def test_the_response_names_the_request_id_of_its_log_line(
    client: GraphQLClient, json_log: io.StringIO
) -> None:
    response = await client.post("{ __typename }", headers={"x-request-id": "lb-4711"})
    (line,) = [line for line in lines_of(json_log) if line["logger"] == "partnerdesk.request"]
    assert response.headers["x-request-id"] == line["request_id"] == "lb-4711"
    # an id that does not look like one is replaced, not logged
    replaced = await client.post("{ __typename }", headers={"x-request-id": "<script>"})
    assert replaced.headers["x-request-id"] != "<script>"
    assert "<script>" not in json_log.getvalue()


def test_request_ids_are_unique_and_short() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(request_id) == 16 for request_id in ids)


async def test_a_repeated_read_still_names_its_partner(
    client: GraphQLClient, json_log: io.StringIO
) -> None:
    # given: a read answered the second time by its kept compiled statement (when on)
    partner = await register_partner(client)
    for _ in range(2):
        await client.gql("query Me { viewer { member { name } } }", token=partner.token)
    # then: both lines name the partner
    lines = [line for line in lines_of(json_log) if line.get("operation") == "Me"]
    assert len(lines) == 2 and lines[0]["partner_id"] == lines[1]["partner_id"] is not None
