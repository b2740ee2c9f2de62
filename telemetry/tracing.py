"""OpenTelemetry spans, opt-in: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, else nothing at all.

The packages (`pip install 'partnerdesk[tracing]'`) are imported only when tracing is on,
and every hook below is a single `None` check when it is off. Spans:

- `HTTP <method> <path>` for each HTTP request (`TracingMiddleware`, added only when on);
- the GraphQL operation (`<type> <name>`, schema/pipeline.py), with `partnerdesk.request_id`;
- resolvers slower than SLOW_RESOLVER_SECONDS (`resolve <Type.field>`), not every field;
- each SQL statement (`SQL <verb>`), through Tortoise's clients and the compiled reads;
- each outbox delivery (`email delivery`, mailers/worker.py).

The exporter is OTLP over HTTP and reads the standard OTEL_* variables (endpoint, headers,
OTEL_SERVICE_NAME); tests install an in-memory exporter with `enable(exporter)`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from inspect import isawaitable
from typing import Any

from config import ConfigError
from telemetry.logs import request_id_of

SLOW_RESOLVER_SECONDS = 0.005
STATEMENT_LENGTH = 2000  # db.statement is cut here: statements are long, spans small
SQL_METHODS = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None
_sql_hooked = False


def current() -> Any:
    """The tracer while tracing is on, else None (callers skip all span work then)."""
    return _tracer


def configure_from_environment() -> bool:
    """Turn tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set; whether it is on."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing packages are missing: "
            "pip install 'partnerdesk[tracing]'"
        ) from None
    enable(OTLPSpanExporter(), batch=True)
    return True


def enable(exporter: Any, batch: bool = False) -> Any:
    """Send spans to `exporter` from now on; the TracerProvider."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "partnerdesk")})
    provider = TracerProvider(resource=resource)
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider = provider
    _tracer = provider.get_tracer("partnerdesk")
    _hook_sql()
    return provider


def disable() -> None:
    """Stop tracing (flushing what is buffered); the hooks stay, as no-ops."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    with _tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A span as a context manager; a shared no-op one while tracing is off."""
    if _tracer is None:
        return contextlib.nullcontext()
    return _span(name, attributes)


# ---------------------------------------------------------------- HTTP requests


class TracingMiddleware:
    """ASGI middleware: one span per HTTP request (added to the app only when tracing is on)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _tracer is None:
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", "GET"), scope.get("path", "")
        attributes = {
            "http.request.method": method,
            "url.path": path,
            "partnerdesk.request_id": request_id_of(scope),
        }
        with _tracer.start_as_current_span(f"HTTP {method} {path}", attributes=attributes) as span:

            async def send_traced(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_traced)


# ---------------------------------------------------------------- slow resolvers


def slow_resolvers(next_: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
    """graphql-core middleware: a span for each awaited resolver that took a while."""
    result = next_(root, info, **args)
    if _tracer is None or not isawaitable(result):
        return result  # attribute reads and sync resolvers: no span, no cost
    return _timed(result, f"{info.parent_type.name}.{info.field_name}", info.path.as_list())


async def _timed(result: Awaitable[Any], field: str, path: list[Any]) -> Any:
    started = time.time_ns()
    try:
        return await result
    finally:
        ended = time.time_ns()
        if _tracer is not None and ended - started >= SLOW_RESOLVER_SECONDS * 1e9:
            span = _tracer.start_span(
                f"resolve {field}",
                start_time=started,
                attributes={"graphql.field.path": ".".join(map(str, path))},
            )
            span.end(end_time=ended)


# ---------------------------------------------------------------- SQL statements


def statement_span(statement: str) -> contextlib.AbstractContextManager[Any]:
    """The span of one SQL statement (a no-op while tracing is off)."""
    if _tracer is None:
        return contextlib.nullcontext()
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    return _span(f"SQL {verb}", {"db.statement": statement[:STATEMENT_LENGTH]})


def _traced(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def traced(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if _tracer is None:
            return await method(self, query, *args, **kwargs)
        with statement_span(query):
            return await method(self, query, *args, **kwargs)

    traced.__partnerdesk_traced__ = True  # type: ignore[attr-defined]
    return traced


def _hook_sql() -> None:
    """Wrap the statement methods of Tortoise's SQLite and asyncpg clients, once per process."""
    global _sql_hooked
    if _sql_hooked:
        return
    from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
    from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

    for client in (SqliteClient, SqliteTransactionWrapper, AsyncpgDBClient, TransactionWrapper):
        for name in SQL_METHODS:
            method = client.__dict__.get(name)
            if method is not None and not getattr(method, "__partnerdesk_traced__", False):
                setattr(client, name, _traced(method))
    _sql_hooked = True
