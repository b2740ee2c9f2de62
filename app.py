"""The ASGI application and the `partnerdesk` command line.

create_app(settings) -> Starlette with /graphql (HTTP and websocket), the offline
GraphiQL assets, /dashboard, /team, /integrations, /healthz, /readyz, /metrics and, in
development, /dev/mail (endpoints.py); its lifespan opens the database, the event broker and
the delivery workers (e-mail, webhooks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from tortoise.connection import get_connection
from tortoise.contrib.starlette import RegisterTortoise

import endpoints
from config import ConfigError, Settings
from events import create_broker, use_broker
from mailers.worker import DeliveryWorker
from models.database import migrate_database, pool_usage
from resolvers.housekeeping import Housekeeping
from resolvers.imports import stop_running_imports
from resolvers.passwords import use_profile
from resolvers.rate_limits import configure_rate_limits
from schema import create_schema
from schema.downloads import download
from schema.http import GraphQLOverHTTP
from schema.pipeline import Pipeline
from schema.websocket import GraphQLWebSocket
from telemetry import metrics, tracing
from telemetry.logs import configure_logging
from webhooks.worker import WebhookWorker

STATIC = Path(__file__).resolve().parent / "static"
NODE_MODULES = STATIC / "node_modules"
# URL prefix -> folder of an npm package installed at set-up (static/package-lock.json).
VENDOR_ASSETS = {
    "react": NODE_MODULES / "react" / "umd",
    "react-dom": NODE_MODULES / "react-dom" / "umd",
    "graphiql": NODE_MODULES / "graphiql",
    "graphql-ws": NODE_MODULES / "graphql-ws" / "umd",
}

log = logging.getLogger("partnerdesk")


async def healthz(request: Request) -> Response:
    """Liveness and database reachability, for load balancers."""
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception:  # any failure means "not healthy"; the detail goes to the log
        log.exception("health check: database unreachable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def _static_file(name: str, media_type: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return FileResponse(STATIC / name, media_type=media_type)

    return endpoint


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    use_profile(settings.password_hash_profile)
    configure_rate_limits(settings)
    schema = create_schema(settings)
    pipeline = Pipeline(schema, settings)  # every operation, whatever its route
    http = GraphQLOverHTTP(pipeline, settings)
    websocket = GraphQLWebSocket(schema, pipeline, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            RegisterTortoise(app, config=settings.tortoise()),
            use_broker(create_broker(settings)) as broker,
        ):
            app.state.broker = broker
            worker = DeliveryWorker(settings) if settings.mail_worker else None
            if worker:
                worker.start()
            webhook_worker = WebhookWorker(settings) if settings.webhook_worker else None
            if webhook_worker:
                webhook_worker.start()
            housekeeping = Housekeeping(settings=settings)
            housekeeping.start()
            pool_gauges = (
                asyncio.create_task(metrics.record_pool_periodically(pool_usage))
                if metrics.MULTIPROCESS
                else None
            )
            try:
                yield
            finally:
                if pool_gauges:
                    pool_gauges.cancel()
                await stop_running_imports()
                await housekeeping.stop()
                if worker:
                    await worker.stop()
                if webhook_worker:
                    await webhook_worker.stop()

    routes: list = [
        Route("/graphql", http.__call__, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", websocket),
        Route("/healthz", healthz),
        Route("/readyz", endpoints.readyz_endpoint(settings)),
        Route("/dashboard", _static_file("dashboard.html", "text/html; charset=utf-8")),
        Route("/static/dashboard.js", _static_file("dashboard.js", "text/javascript")),
        Route("/integrations", _static_file("integrations.html", "text/html; charset=utf-8")),
        Route("/static/integrations.js", _static_file("integrations.js", "text/javascript")),
        Route("/static/partnerdesk.js", _static_file("partnerdesk.js", "text/javascript")),
        Route("/static/partnerdesk.css", _static_file("partnerdesk.css", "text/css")),
        Route("/team", _static_file("team.html", "text/html; charset=utf-8")),
        Route("/static/team.js", _static_file("team.js", "text/javascript")),
        Route("/exports/{token}", download, methods=["GET"]),
        Route("/dashboard/import", _static_file("import.html", "text/html; charset=utf-8")),
        Route("/static/import.js", _static_file("import.js", "text/javascript")),
    ]
    if settings.metrics_token or not settings.production:  # production: only with a token
        routes.append(Route("/metrics", endpoints.metrics_endpoint(settings)))
    if not settings.production:
        routes.extend(endpoints.dev_mail_routes())
    for prefix, folder in VENDOR_ASSETS.items():
        routes.append(
            Mount(f"/static/vendor/{prefix}", StaticFiles(directory=folder, check_dir=False))
        )
    middleware = [Middleware(tracing.TracingMiddleware)] if tracing.current() else []
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.settings = settings
    return app


# ---------------------------------------------------------------- command line


def _seed_demo(settings: Settings) -> None:
    """The demo partners, customers and requests (once), printing the demo logins."""
    from resolvers.demo import seed_demo_data

    asyncio.run(
        _with_database(
            settings,
            seed_demo_data,
            print_logins=True,
            invitation_ttl_days=settings.invitation_ttl_days,
            settings=settings,
        )
    )


def server_config(settings: Settings, app: Starlette) -> uvicorn.Config:
    """uvicorn's settings for one server process (`serve` runs one, or --workers of them)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # PartnerDesk logs each operation itself (telemetry/), one line each; uvicorn's
        # access log would add a second, and its logging set-up would replace ours.
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_ws_message_bytes,
        # Performance (bench/SUBSCRIPTIONS.md): compressing ~80-byte GraphQL frames saves
        # nothing and a deflate context costs ~40 KiB per idle websocket.
        ws_per_message_deflate=False,
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _serve(settings: Settings, demo: bool) -> int:
    """Migrate and seed once, here, then serve: in this process, or in `settings.workers`
    server processes on the same port (server_processes.py); the exit status."""
    base = f"http://{settings.host}:{settings.port}"
    print(f"PartnerDesk on {base}", flush=True)
    print(f"  GraphiQL   {base}/graphql", flush=True)
    print(f"  Dashboard  {base}/dashboard", flush=True)
    if settings.dev_mailbox:
        print(f"  E-mails    {base}/dev/mail  (no PARTNERDESK_SMTP_HOST: kept here)", flush=True)
    if settings.workers > 1:
        print(f"  Processes  {settings.workers} (events and rate limits over Redis)", flush=True)
    asyncio.run(migrate_database(settings.database_url))
    if demo:
        _seed_demo(settings)
    if settings.workers > 1:
        from server_processes import serve_in_processes

        return serve_in_processes(settings)
    GracefulServer(server_config(settings, create_app(settings))).run()
    return 0


class GracefulServer(uvicorn.Server):
    """uvicorn's server with PartnerDesk's ending: on SIGTERM (or Ctrl+C) it stops accepting,
    lets in-flight requests finish (up to PARTNERDESK_SHUTDOWN_GRACE_SECONDS), closes
    websockets with 1012 "Service Restart" so clients reconnect to another instance, runs
    the lifespan's shutdown (the mail worker hands back its leases) and exits with status 0.
    """

    async def shutdown(self, sockets: Any = None) -> None:
        log.info(
            "shutting down: finishing in-flight requests (up to %s s), closing websockets (1012)",
            self.config.timeout_graceful_shutdown,
        )
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn re-raises the signal once shut down, so the process would end "killed
            # by SIGTERM" (status 143); a completed graceful shutdown is a success.
            self._captured_signals.clear()


async def _with_database(settings: Settings, action, /, **kwargs) -> Any:
    from tortoise import Tortoise

    await Tortoise.init(config=settings.tortoise(), _enable_global_fallback=True)
    try:
        return await action(**kwargs)
    finally:
        await Tortoise.close_connections()


async def _work(settings: Settings) -> None:
    """`partnerdesk worker`: deliver e-mails and webhooks, keep house, until SIGTERM or SIGINT."""
    from events.polling import run_until_signalled

    housekeeping = Housekeeping(settings=settings)
    housekeeping.start()
    try:
        # The feed events of what the workers record reach the servers' subscribers via Redis.
        async with use_broker(create_broker(settings)):
            await run_until_signalled([DeliveryWorker(settings), WebhookWorker(settings)])
    finally:
        await housekeeping.stop()


async def _print_mail_status() -> None:
    from mailers.outbox import delivery_counts, recent_failures

    counts = await delivery_counts()
    print("  ".join(f"{status}: {count}" for status, count in counts.items()))
    failures = await recent_failures()
    if failures:
        print("Last failures (newest first; `partnerdesk mail retry ID` re-queues one):")
    for delivery in failures:
        print(
            f"  #{delivery.id} to {delivery.to_address}, {delivery.attempts} attempt(s), "
            f"queued {delivery.queued_at:%Y-%m-%d %H:%M} UTC: {delivery.last_error}"
        )
        if delivery.last_error_detail:  # what the server or the socket said (never in the API)
            print(f"      {delivery.last_error_detail}")


async def _print_webhook_status() -> None:
    from webhooks.outbox import delivery_counts, recent_failures

    counts = await delivery_counts()
    print("  ".join(f"{status}: {count}" for status, count in counts.items()))
    failures = await recent_failures()
    if failures:
        print("Last failures (newest first; partners send one again with redeliverWebhook):")
    for delivery in failures:
        print(
            f"  #{delivery.id} {delivery.event_type.value} to endpoint #{delivery.endpoint_id} "
            f"({delivery.endpoint.url}), {delivery.attempts} attempt(s): {delivery.last_error}"
        )
        if delivery.last_error_detail:  # what the socket or the receiver said (never in the API)
            print(f"      {delivery.last_error_detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="partnerdesk", description="PartnerDesk GraphQL server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="migrate the database, then serve HTTP and websockets"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed demo data into an empty database and print the logins",
    )
    serve.add_argument(
        "--workers",
        metavar="N",
        help="server processes on the one port (default: PARTNERDESK_WORKERS, 1); "
        "more than one needs PARTNERDESK_REDIS_URL",
    )
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser(
        "seed-demo", help="seed demo data into an empty database and print the logins"
    )
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    commands.add_parser(
        "worker", help="deliver queued e-mails and webhooks until SIGTERM or SIGINT"
    )
    mail = commands.add_parser("mail", help="the e-mail outbox: status and dead letters")
    mail_commands = mail.add_subparsers(dest="mail_command", required=True)
    mail_commands.add_parser("status", help="counts by status and the last failures")
    retry = mail_commands.add_parser("retry", help="re-queue a FAILED e-mail")
    retry.add_argument("id", type=int, help="the e-mail's id (see `mail status`)")
    webhooks = commands.add_parser("webhooks", help="webhook deliveries: status and failures")
    webhooks.add_subparsers(dest="webhooks_command", required=True).add_parser(
        "status", help="deliveries by status and the last failures"
    )
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format)
        if args.command == "serve" and args.workers is not None:
            settings = settings.with_option("workers", args.workers, "--workers")
        if args.command in {"serve", "worker"}:
            settings.check_for_serving(
                delivers_mail=args.command == "worker" or settings.mail_worker,
                serves_http=args.command == "serve",
            )
            tracing.configure_from_environment()
    except ConfigError as error:
        print(f"partnerdesk: {error}", file=sys.stderr)
        return 2

    if args.command == "export-schema":
        print(create_schema(settings).as_str())
    elif args.command == "migrate":
        asyncio.run(migrate_database(settings.database_url))
        print("Database is up to date.")
    elif args.command == "seed-demo":
        asyncio.run(migrate_database(settings.database_url))
        _seed_demo(settings)
    elif args.command == "serve":
        return _serve(settings, args.demo)
    elif args.command == "worker":
        asyncio.run(_with_database(settings, functools.partial(_work, settings)))
    elif args.command == "webhooks":
        asyncio.run(_with_database(settings, _print_webhook_status))
    elif args.command == "mail" and args.mail_command == "status":
        asyncio.run(_with_database(settings, _print_mail_status))
    elif args.command == "mail":
        from mailers.outbox import requeue_failed

        if not asyncio.run(_with_database(settings, requeue_failed, delivery_id=args.id)):
            print(f"partnerdesk: no FAILED e-mail with id {args.id}", file=sys.stderr)
            return 1
        print(f"E-mail {args.id} is queued again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
