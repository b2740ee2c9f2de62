"""File uploads over POST /graphql: the GraphQL multipart request specification, its size
limit (PARTNERDESK_MAX_UPLOAD_BYTES, counted while the body streams in) and its CSRF guard."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from config import Settings
from tests.imports import IMPORT
from tests.support import GraphQLClient, PartnerLogin, register_partner

CSV = b"First name,Last name\r\nAda,Lovelace\r\n"
UPLOAD_LIMIT = 256 * 1024


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return replace(base_settings, max_upload_bytes=UPLOAD_LIMIT)


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client)


def multipart(operations: object, file_map: object, files: dict[str, bytes]) -> dict[str, object]:
    return {
        "data": {"operations": json.dumps(operations), "map": json.dumps(file_map)},
        "files": {key: ("customers.csv", content, "text/csv") for key, content in files.items()},
    }


async def test_a_file_goes_where_the_map_says(client: GraphQLClient, partner: PartnerLogin) -> None:
    # when: the spec's own shape, with the file part named "0"
    response = await client.upload(IMPORT, {"file": None}, {"file": ("c.csv", CSV)}, partner.token)
    # then
    payload = response.json()["data"]["importCustomers"]
    assert payload["errors"] == []
    assert (payload["customerImport"]["rows"], payload["customerImport"]["created"]) == (1, 1)


async def test_a_request_with_files_needs_a_preflight_header(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: what any web page could make a browser send cross-site (a simple form post)
    body = multipart(
        {"query": IMPORT, "variables": {"file": None}}, {"0": ["variables.file"]}, {"0": CSV}
    )
    # when
    response = await client.http.post(
        "/graphql",
        headers={"authorization": f"Bearer {partner.token}"},
        **body,  # type: ignore[arg-type]
    )
    # then
    assert response.status_code == 400
    assert "GraphQL-Require-Preflight" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("operations", "file_map", "message"),
    [
        (
            {"query": "{ __typename }", "variables": {"f": None}},
            {"0": ["variables.f"]},
            "Only mutations may carry files.",
        ),
        (
            {"query": IMPORT, "variables": {"file": None}},
            {"0": ["variables.other"]},
            "The map names `variables.other`, which the variables lack.",
        ),
        (
            {"query": IMPORT, "variables": {"file": "x"}},
            {"0": ["variables.file"]},
            "`variables.file` must be null in the operation: the file goes there.",
        ),
        (
            {"query": IMPORT, "variables": {"file": None}},
            {"0": ["query"]},
            "A file can only go into the variables, not to `query`.",
        ),
        (
            {"query": IMPORT, "variables": {"file": None}},
            {"1": ["variables.file"]},
            "The map names the file field `1`, which the request lacks.",
        ),
        (
            [{"query": IMPORT, "variables": {"file": None}}],
            {"0": ["0.variables.file"]},
            "Batched requests are not accepted: send one operation per request.",
        ),
        (
            {"query": IMPORT, "variables": {"file": None}},
            ["variables.file"],
            "`map` must be a JSON object of file field names to lists of paths.",
        ),
    ],
    ids=[
        "query",
        "unknown-path",
        "not-null",
        "outside-variables",
        "missing-file",
        "batch",
        "bad-map",
    ],
)
async def test_malformed_multipart_requests_get_a_readable_400(
    client: GraphQLClient,
    partner: PartnerLogin,
    operations: object,
    file_map: object,
    message: str,
) -> None:
    # when
    response = await client.http.post(
        "/graphql",
        headers={"authorization": f"Bearer {partner.token}", "graphql-require-preflight": "1"},
        **multipart(operations, file_map, {"0": CSV}),  # type: ignore[arg-type]
    )
    # then
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"] == message


async def test_an_upload_variable_sent_as_json_is_refused(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # when: a client sends the file's text as a plain JSON variable
    body = await client.raw(IMPORT, {"file": CSV.decode()}, partner.token)
    # then
    assert body["data"] is None
    assert "send the file with a multipart/form-data request" in body["errors"][0]["message"]


async def test_an_upload_over_the_limit_is_refused_while_it_streams_in(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given: a chunked body (no Content-Length) far over the limit
    boundary = "limit-test"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        + json.dumps({"query": IMPORT, "variables": {"file": None}})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        + json.dumps({"0": ["variables.file"]})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.csv"\r\n\r\n'
    ).encode()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(320):  # 320 x 16 KiB = 5 MiB, 20 times the limit
            sent += 1
            yield b"x" * 16 * 1024

    # when
    response = await client.http.post(
        "/graphql",
        content=body(),
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            "authorization": f"Bearer {partner.token}",
            "graphql-require-preflight": "1",
        },
    )
    # then: refused after the limit, long before the end of the body
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert sent < 30  # (upload + body limit) / 16 KiB = 20


async def test_json_requests_keep_their_own_smaller_limit(
    client: GraphQLClient, partner: PartnerLogin, settings: Settings
) -> None:
    # given: a JSON body over PARTNERDESK_MAX_BODY_BYTES but under the upload limit
    assert settings.max_body_bytes < UPLOAD_LIMIT
    padding = "#" + "x" * settings.max_body_bytes
    # when
    response = await client.post("{ __typename }" + "\n" + padding, token=partner.token)
    # then
    assert response.status_code == 413


async def test_an_upload_written_into_the_query_is_refused(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # when
    body = await client.raw(
        'mutation { importCustomers(file: "a,b") { errors { code } } }', token=partner.token
    )
    # then: a client's mistake, said as such (not a masked server fault)
    assert body["data"] is None
    assert "a file cannot be written into the query" in body["errors"][0]["message"]
