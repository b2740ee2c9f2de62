"""OpenTelemetry spans (opt-in), collected with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from app import create_app
from config import Settings
from mailers.worker import DeliveryWorker
from models.outbox import EmailDelivery, EmailStatus
from telemetry import tracing
from tests.support import GraphQLClient, create_customer, register_partner


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter)
    try:
        yield exporter
    finally:
        tracing.disable()


@pytest.fixture
async def traced(
    spans: InMemorySpanExporter, base_settings: Settings
) -> AsyncIterator[GraphQLClient]:
    """The app created while tracing is on (its HTTP middleware is added then)."""
    application: Starlette = create_app(replace(base_settings, smtp_host=None))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


def attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def named(spans: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.name.startswith(prefix)]


def children_of(spans: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        span
        for span in spans.get_finished_spans()
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


async def test_a_request_has_its_http_operation_and_sql_spans_with_the_request_id(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    # given
    partner = await register_partner(traced)
    spans.clear()

    # when
    response = await traced.post("query Me { viewer { member { name } } }", token=partner.token)

    # then: HTTP request > GraphQL operation > SQL statements, all one trace
    (http,) = named(spans, "HTTP POST /graphql")
    (operation,) = named(spans, "query Me")
    request_id = response.headers["x-request-id"]
    assert attributes(http)["partnerdesk.request_id"] == request_id
    assert attributes(http)["http.response.status_code"] == 200
    assert attributes(operation)["partnerdesk.request_id"] == request_id
    assert operation.parent is not None and operation.parent.span_id == http.context.span_id
    statements = [span for span in children_of(spans, operation) if span.name.startswith("SQL")]
    assert statements, [span.name for span in spans.get_finished_spans()]
    assert all("db.statement" in attributes(span) for span in statements)


async def test_slow_resolvers_get_a_span_and_quick_fields_none(
    traced: GraphQLClient, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: every awaited resolver counts as slow; plain fields are never awaited
    monkeypatch.setattr(tracing, "SLOW_RESOLVER_SECONDS", 0)
    partner = await register_partner(traced)
    spans.clear()

    # when: a mutation (always on the resolvers)
    await create_customer(traced, partner.token, firstName="Ada", lastName="Lovelace")

    # then
    resolvers = {span.name for span in named(spans, "resolve ")}
    assert "resolve Mutation.createCustomer" in resolvers
    assert not any(name.endswith(".displayName") for name in resolvers)  # an attribute read


async def test_an_outbox_delivery_has_its_span(
    traced: GraphQLClient, spans: InMemorySpanExporter, base_settings: Settings
) -> None:
    # given
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
    # when
    await DeliveryWorker(replace(base_settings, smtp_host=None)).run_once()
    # then
    (span,) = [
        span
        for span in named(spans, "email delivery")
        if attributes(span)["partnerdesk.email.id"] == delivery.id
    ]
    assert any(child.name == "SQL INSERT" for child in children_of(spans, span))


async def test_tracing_is_off_without_an_endpoint(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not tracing.configure_from_environment()
    assert tracing.current() is None
    assert not any(entry.cls is tracing.TracingMiddleware for entry in app.user_middleware)
