"""/metrics (Prometheus text format, parsed with prometheus_client.parser) and /readyz.

Counters are per process and the suite shares one, so each test compares a scrape after
its story with one before it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from tortoise.connection import get_connection

import endpoints
from app import create_app
from config import Settings
from mailers.worker import DeliveryWorker
from models.outbox import EmailDelivery, EmailStatus
from models.partner import Partner
from models.webhook import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType
from telemetry.metrics import OperationNames
from tests.browser import free_port
from tests.support import GraphQLClient, register_partner
from tests.ws_client import session, subscribe
from webhooks.signing import new_secret

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
VIEWER = "query Viewer { viewer { member { name } } }"
REGISTER = """mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { token errors { code retryAfter } } }"""


async def scrape(client: GraphQLClient, **headers: str) -> Samples:
    response = await client.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_operations_are_counted_by_name_and_outcome_and_timed_by_type(
    client: GraphQLClient,
) -> None:
    # given
    partner = await register_partner(client)
    before = await scrape(client)

    # when: one query succeeds, one is refused unauthenticated, one does not parse
    await client.gql(VIEWER, token=partner.token)
    await client.raw("query Customers { customers(first: 1) { totalCount } }")
    await client.raw("query Broken { viewer {")
    after = await scrape(client)

    # then
    operations = "partnerdesk_graphql_operations_total"
    assert grew(before, after, operations, operation="Viewer", outcome="ok") == 1
    assert grew(before, after, operations, operation="Customers", outcome="error") == 1
    assert grew(before, after, operations, operation="anonymous", outcome="refused") == 1
    errors = "partnerdesk_graphql_errors_total"
    assert grew(before, after, errors, code="UNAUTHENTICATED") == 1
    assert grew(before, after, errors, code="GRAPHQL_PARSE_FAILED") == 1
    latency = "partnerdesk_graphql_operation_duration_seconds_count"
    assert grew(before, after, latency, type="query") == 2


def test_operation_names_beyond_the_first_ones_share_one_label() -> None:
    names = OperationNames(capacity=2)
    assert [names.label(name) for name in ("A", "B", "C", "A", None)] == [
        "A",
        "B",
        "other",
        "A",
        "anonymous",
    ]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return replace(base_settings, rate_limit_register_ip="1/hour", smtp_host=None)


async def test_rate_limit_refusals_are_counted_by_limit(client: GraphQLClient) -> None:
    # given: one registration per hour and client address
    before = await scrape(client)
    await register_partner(client)

    # when: a second one from the same address
    body = await client.raw(
        REGISTER,
        {
            "input": {
                "partnerName": "Second",
                "slug": "second-agency",
                "name": "Someone Else",
                "email": "second@example.com",
                "password": "correct horse battery",
            }
        },
    )
    after = await scrape(client)

    # then
    assert body["data"]["registerPartner"]["errors"][0]["code"] == "RATE_LIMITED"
    name = "partnerdesk_rate_limit_refusals_total"
    assert grew(before, after, name, limit="register-ip") == 1


async def queued_email(age: timedelta) -> EmailDelivery:
    delivery = await EmailDelivery.create(
        template="invitation_declined",
        language="en",
        to_address="ada@example.org",
        subject="Hello",
        text_body="Hello",
        html_body="<p>Hello</p>",
        status=EmailStatus.QUEUED,
        next_attempt_at=datetime.now(UTC),
    )
    await EmailDelivery.filter(id=delivery.id).update(queued_at=datetime.now(UTC) - age)
    return delivery


async def test_the_outbox_depth_and_age_are_read_at_scrape_time(client: GraphQLClient) -> None:
    # given: two e-mails waiting, the oldest for two hours
    await queued_email(timedelta(hours=2))
    await queued_email(timedelta(minutes=1))

    # when
    samples = await scrape(client)

    # then
    assert value(samples, "partnerdesk_outbox_queued", kind="email") == 2
    age = value(samples, "partnerdesk_outbox_oldest_age_seconds", kind="email")
    assert 7200 <= age < 7300


async def test_an_empty_outbox_has_no_age(client: GraphQLClient) -> None:
    samples = await scrape(client)
    assert value(samples, "partnerdesk_outbox_queued", kind="email") == 0
    assert value(samples, "partnerdesk_outbox_oldest_age_seconds", kind="email") == 0


async def test_the_webhook_outbox_counts_queued_and_retrying_deliveries(
    client: GraphQLClient,
) -> None:
    # given: one delivery waiting for an hour, one retrying for ten minutes, one delivered
    partner = await Partner.create(slug="metrics-hooks", name="Hooks", display_name="Hooks")
    endpoint = await WebhookEndpoint.create(
        partner_id=partner.id, url="https://hooks.example.org/in", secret=new_secret()
    )
    now = datetime.now(UTC)
    for status, waited in [
        (WebhookDeliveryStatus.QUEUED, timedelta(hours=1)),
        (WebhookDeliveryStatus.RETRYING, timedelta(minutes=10)),
        (WebhookDeliveryStatus.DELIVERED, timedelta(hours=5)),
    ]:
        await WebhookDelivery.create(
            partner_id=partner.id,
            endpoint_id=endpoint.id,
            event_type=WebhookEventType.PING,
            payload="{}",
            status=status,
            queued_at=now - waited,
            next_attempt_at=now,
        )

    # when
    samples = await scrape(client)

    # then: the delivered one neither counts nor ages the outbox
    assert value(samples, "partnerdesk_outbox_queued", kind="webhook") == 2
    age = value(samples, "partnerdesk_outbox_oldest_age_seconds", kind="webhook")
    assert 3600 <= age < 3700


async def test_deliveries_are_counted_by_final_status(
    client: GraphQLClient, settings: Settings
) -> None:
    # given
    await queued_email(timedelta(0))
    before = await scrape(client)

    # when: the worker delivers it (to the development mailbox)
    await DeliveryWorker(settings).run_once()

    # then
    after = await scrape(client)
    assert grew(before, after, "partnerdesk_email_deliveries_total", status="SENT") == 1
    assert value(after, "partnerdesk_outbox_queued", kind="email") == 0


async def test_the_database_pool_is_reported(client: GraphQLClient) -> None:
    samples = await scrape(client)
    assert value(samples, "partnerdesk_db_pool_connections") >= 1
    assert ("partnerdesk_db_pool_connections_in_use", ()) in samples


async def test_open_websockets_and_active_subscriptions(
    client: GraphQLClient, server_url: str
) -> None:
    # given
    partner = await register_partner(client)
    before = await scrape(client)

    # when: a dashboard subscribes
    async with session(server_url, partner.token) as socket:
        await subscribe(socket, "subscription { pendingCounts { invitations inquiries } }")
        assert json.loads(await socket.recv())["type"] == "next"
        during = await scrape(client)
    after = await scrape(client)

    # then: both count while it is open, and no longer once it has closed
    assert grew(before, during, "partnerdesk_websockets_open") == 1
    assert grew(before, during, "partnerdesk_subscriptions_active") == 1
    assert (
        grew(
            before,
            during,
            "partnerdesk_graphql_operations_total",
            operation="anonymous",
            outcome="ok",
        )
        == 1
    )
    for _ in range(50):  # the server notices the close a moment later
        if grew(before, after, "partnerdesk_websockets_open") == 0:
            break
        after = await scrape(client)
    assert grew(before, after, "partnerdesk_websockets_open") == 0
    assert grew(before, after, "partnerdesk_subscriptions_active") == 0


# ---------------------------------------------------------------- production


@pytest.fixture
async def production(
    settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Starlette]:
    token = getattr(request, "param", None)
    application = create_app(
        replace(settings, env="production", smtp_host="mail.example", metrics_token=token)
    )
    async with application.router.lifespan_context(application):
        yield application


async def get(application: Starlette, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path, headers=headers)


@pytest.mark.parametrize("production", ["s3cret-metrics-token"], indirect=True)
async def test_production_metrics_need_the_bearer_token(production: Starlette) -> None:
    assert (await get(production, "/metrics")).status_code == 401
    wrong = await get(production, "/metrics", authorization="Bearer guess")
    assert wrong.status_code == 401
    right = await get(production, "/metrics", authorization="Bearer s3cret-metrics-token")
    assert right.status_code == 200 and "partnerdesk_graphql_operations" in right.text


async def test_production_without_a_metrics_token_has_no_metrics(production: Starlette) -> None:
    assert (await get(production, "/metrics")).status_code == 404


# ---------------------------------------------------------------- /readyz


async def test_ready_when_the_database_answers_and_is_migrated(client: GraphQLClient) -> None:
    response = await client.http.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})
    assert (await client.http.get("/healthz")).status_code == 200


async def test_not_ready_while_a_migration_is_not_applied(client: GraphQLClient) -> None:
    # given: the database misses its latest migration
    connection = get_connection("default")
    _count, rows = await connection.execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = 'partnerdesk' ORDER BY name DESC LIMIT 1"
    )
    (name,) = [row["name"] for row in rows]
    await connection.execute_query(f"DELETE FROM tortoise_migrations WHERE name = '{name}'")
    try:
        # when
        response = await client.http.get("/readyz")
    finally:
        await connection.execute_query(
            "INSERT INTO tortoise_migrations (app, name, applied_at) "
            f"VALUES ('partnerdesk', '{name}', CURRENT_TIMESTAMP)"
        )
    # then: not ready, and it says why; liveness is unaffected
    assert response.status_code == 503
    assert response.json()["problems"] == [f"migrations not applied: {name}"]
    assert (await client.http.get("/healthz")).status_code == 200


async def test_not_ready_when_the_configured_redis_does_not_answer(app: Starlette) -> None:
    problems = await endpoints._readiness_problems(f"redis://127.0.0.1:{free_port()}/0")
    assert problems == ["redis unreachable"]
