"""The HTTP surface: GraphQL-over-HTTP media types and status codes, GraphiQL offline, /healthz,
and the stylesheet the browser pages share."""

from __future__ import annotations

import re

import httpx

from tests.support import GraphQLClient

QUERY = "{ viewer { realm } }"
# The browser pages (app.py, endpoints.py); each links static/partnerdesk.css.
PAGES = ("/dashboard", "/integrations", "/dashboard/import", "/team", "/dev/mail")


async def post(
    client: GraphQLClient, body: object, accept: str | None, content_type: str = "application/json"
) -> httpx.Response:
    headers = {"content-type": content_type}
    if accept is not None:
        headers["accept"] = accept
    if isinstance(body, (bytes, str)):
        return await client.http.post("/graphql", content=body, headers=headers)
    return await client.http.post("/graphql", json=body, headers=headers)


async def test_graphql_response_json_is_served_when_accepted(client: GraphQLClient) -> None:
    response = await post(client, {"query": QUERY}, "application/graphql-response+json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json() == {"data": {"viewer": None}}


async def test_plain_json_is_served_to_older_clients(client: GraphQLClient) -> None:
    for accept in (None, "application/json", "*/*"):
        response = await post(client, {"query": QUERY}, accept)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")


async def test_preferred_media_type_wins(client: GraphQLClient) -> None:
    response = await post(
        client, {"query": QUERY}, "application/json;q=0.9, application/graphql-response+json"
    )
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def test_validation_error_is_400_with_graphql_response_json_and_200_with_json(
    client: GraphQLClient,
) -> None:
    bad = {"query": "{ viewer { nope } }"}
    strict = await post(client, bad, "application/graphql-response+json")
    legacy = await post(client, bad, "application/json")
    assert strict.status_code == 400
    assert legacy.status_code == 200
    assert strict.json()["errors"][0]["message"].startswith("Cannot query field 'nope'")


async def test_requests_that_were_not_executed_have_no_data_entry_in_graphql_response_json(
    client: GraphQLClient,
) -> None:
    # GraphQL over HTTP: a document that fails to parse or validate was never executed, so a
    # graphql-response+json answer has no `data` entry at all (the audit's two SHOULDs)
    for query in (
        "{ viewer ",
        "{ viewer { nope } }",
        "query($n: Int!) { customers(first: $n) { totalCount } }",
    ):
        strict = await post(client, {"query": query}, "application/graphql-response+json")
        assert strict.status_code == 400, query
        assert "data" not in strict.json(), strict.json()
        legacy = await post(client, {"query": query}, "application/json")
        assert legacy.json()["data"] is None, legacy.json()


async def test_parse_error_is_400_with_graphql_response_json(client: GraphQLClient) -> None:
    response = await post(client, {"query": "{ viewer "}, "application/graphql-response+json")
    assert response.status_code == 400
    assert "Syntax Error" in response.json()["errors"][0]["message"]


async def test_field_errors_keep_status_200(client: GraphQLClient) -> None:
    response = await post(
        client,
        {"query": "{ viewer { realm } customers { totalCount } }"},
        "application/graphql-response+json",
    )
    # customers is non-null, so data is null: a field error, not a request error; still executed
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unacceptable_accept_header_is_406(client: GraphQLClient) -> None:
    response = await post(client, {"query": QUERY}, "text/plain")
    assert response.status_code == 406


async def test_non_json_body_is_415(client: GraphQLClient) -> None:
    response = await post(
        client,
        "query=%7Bviewer%7Brealm%7D%7D",
        "application/json",
        "application/x-www-form-urlencoded",
    )
    assert response.status_code == 415


async def test_invalid_json_is_400(client: GraphQLClient) -> None:
    response = await post(client, b'{"query": ', "application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


async def test_query_over_get_works_and_mutation_over_get_is_405(client: GraphQLClient) -> None:
    query = await client.http.get(
        "/graphql", params={"query": QUERY}, headers={"accept": "application/json"}
    )
    assert query.status_code == 200
    assert query.json() == {"data": {"viewer": None}}
    mutation = await client.http.get(
        "/graphql",
        params={"query": "mutation { logout { ok } }"},
        headers={"accept": "application/json"},
    )
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"


async def test_graphiql_is_served_from_local_assets_only(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "PartnerDesk GraphiQL" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, "the page loads its scripts and styles"
    assert all(url.startswith(("/static/vendor/", "data:")) for url in urls), urls
    assert not re.search(r"https?://", page.text)
    for url in urls:
        if url.startswith("/static/"):
            asset = await client.http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url


async def test_every_page_links_the_shared_stylesheet_which_is_served_as_css(
    client: GraphQLClient,
) -> None:
    # given / when
    stylesheet = await client.http.get("/static/partnerdesk.css")
    pages = {path: await client.http.get(path) for path in PAGES}

    # then
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"] == "text/css; charset=utf-8"
    assert ":root" in stylesheet.text
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert '<link rel="stylesheet" href="/static/partnerdesk.css" />' in page.text, path


async def test_healthz_reports_the_database(client: GraphQLClient) -> None:
    response = await client.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_server_faults_are_masked_with_a_request_id(
    client: GraphQLClient, monkeypatch
) -> None:
    from resolvers import partners

    async def broken(slug: str) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(partners, "public_profile", broken)
    body = await client.raw('{ partnerProfile(slug: "x") { slug } }')
    (error,) = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert re.fullmatch(r"[0-9a-f]{16}", error["extensions"]["requestId"])
    assert "hunter2" not in str(body) and "Traceback" not in str(body)
