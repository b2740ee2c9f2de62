"""The HTTP endpoints beside GraphQL: readiness, metrics, and the development mailbox.

app.py mounts them; each is a plain Starlette endpoint. /dev/mail exists only in
development; /metrics in production only with PARTNERDESK_METRICS_TOKEN (README
"Operating PartnerDesk").
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from tortoise.connection import get_connection

from config import Settings
from mailers.dev_mailbox import mailbox_listing, mailbox_message
from mailers.outbox import email_outbox_state
from models.database import pending_migrations, pool_usage
from telemetry import metrics
from webhooks.outbox import webhook_outbox_state

log = logging.getLogger("partnerdesk")
Endpoint = Callable[[Request], Awaitable[Response]]

# Every outbox /metrics reports (depth and age of the oldest waiting item), by kind.
OUTBOXES: dict[str, metrics.OutboxProbe] = {
    "email": email_outbox_state,
    "webhook": webhook_outbox_state,
}
READINESS_TIMEOUT_SECONDS = 2.0

STATIC = Path(__file__).resolve().parent / "static"

# The mailbox page's own policy; the sandboxed iframe showing a message's HTML part inherits
# it (and adds a stricter one): no remote loads of any kind, scripts only from this server.
DEV_MAIL_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; frame-src 'self'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


# ---------------------------------------------------------------- /readyz


async def _redis_answers(url: str) -> bool:
    from redis.asyncio import Redis

    try:
        async with Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(await client.ping())
    except Exception as error:
        log.warning("readiness: Redis does not answer: %s", error)
        return False


async def _readiness_problems(redis_url: str | None) -> list[str]:
    problems: list[str] = []
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception as error:  # any failure means "not ready"; the detail goes to the log
        log.warning("readiness: the database does not answer: %s", error)
        return ["database unreachable"]
    pending = await pending_migrations()
    if pending:
        problems.append(f"migrations not applied: {', '.join(pending)}")
    if redis_url and not await _redis_answers(redis_url):
        problems.append("redis unreachable")
    return problems


def readyz_endpoint(settings: Settings) -> Endpoint:
    """/readyz: 200 when the database answers, every migration is applied, and Redis answers
    when configured; 503 with the problems otherwise. (/healthz stays a liveness check.)"""

    async def readyz(request: Request) -> Response:
        try:
            problems = await asyncio.wait_for(
                _readiness_problems(settings.redis_url), READINESS_TIMEOUT_SECONDS
            )
        except TimeoutError:
            problems = ["readiness checks timed out"]
        except Exception:
            log.exception("readiness check failed")
            problems = ["readiness check failed"]
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    return readyz


# ---------------------------------------------------------------- /metrics


def metrics_endpoint(settings: Settings) -> Endpoint:
    """/metrics in Prometheus's text format: open in development; in production only with
    PARTNERDESK_METRICS_TOKEN as a bearer token (app.py leaves it out without one)."""
    expected = f"Bearer {settings.metrics_token}".encode() if settings.metrics_token else None

    async def endpoint(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, expected):
                return Response(
                    "a bearer token is required\n",
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                )
        try:
            await metrics.collect_at_scrape(OUTBOXES, pool_usage)
        except Exception:  # the counters are still worth scraping without the database's part
            log.exception("metrics: reading the outbox state failed")
        body, content_type = metrics.exposition()
        return Response(body, headers={"content-type": content_type})

    return endpoint


# ---------------------------------------------------------------- /dev/mail


async def dev_mail_page(request: Request) -> Response:
    return FileResponse(
        STATIC / "devmail.html",
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": DEV_MAIL_POLICY, "cache-control": "no-store"},
    )


async def dev_mail_script(request: Request) -> Response:
    return FileResponse(STATIC / "devmail.js", media_type="text/javascript")


async def dev_mail_messages(request: Request) -> Response:
    return JSONResponse({"messages": await mailbox_listing()})


async def dev_mail_message(request: Request) -> Response:
    raw = request.path_params["message_id"]
    message = await mailbox_message(int(raw)) if raw.isdigit() else None
    if message is None:
        return JSONResponse({"error": "no such message"}, status_code=404)
    return JSONResponse(message, headers={"cache-control": "no-store"})


def dev_mail_routes() -> list[BaseRoute]:
    """/dev/mail: the page, its script and its JSON (development only)."""
    return [
        Route("/dev/mail", dev_mail_page),
        Route("/static/devmail.js", dev_mail_script),
        Route("/dev/mail/messages", dev_mail_messages),
        Route("/dev/mail/messages/{message_id}", dev_mail_message),
    ]
