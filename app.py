"""The ASGI application and the `partnerdesk` command line.

create_app(settings) -> Starlette with /graphql (HTTP and websocket), the offline
GraphiQL assets, and /healthz; its lifespan opens the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from tortoise.connection import get_connection
from tortoise.contrib.starlette import RegisterTortoise

from config import ConfigError, Settings
from models.database import migrate_database
from resolvers.passwords import use_profile
from schema import create_schema
from schema.view import GraphQLView

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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    use_profile(settings.password_hash_profile)
    view = GraphQLView(create_schema(settings), settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=settings.tortoise()):
            yield

    routes: list = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
    ]
    for prefix, folder in VENDOR_ASSETS.items():
        routes.append(
            Mount(f"/static/vendor/{prefix}", StaticFiles(directory=folder, check_dir=False))
        )
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return app


# ---------------------------------------------------------------- command line


def _serve(settings: Settings, demo: bool) -> None:
    import uvicorn

    asyncio.run(migrate_database(settings.database_url))
    if demo:
        from resolvers.demo import seed_demo_data

        asyncio.run(_with_database(settings, seed_demo_data, print_logins=True))
    base = f"http://{settings.host}:{settings.port}"
    print(f"PartnerDesk on {base}  (GraphiQL: {base}/graphql)", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_max_size=64 * 1024,
        proxy_headers=False,
    )


async def _with_database(settings: Settings, action, **kwargs) -> None:
    from tortoise import Tortoise

    await Tortoise.init(config=settings.tortoise(), _enable_global_fallback=True)
    try:
        await action(**kwargs)
    finally:
        await Tortoise.close_connections()


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
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser(
        "seed-demo", help="seed demo data into an empty database and print the logins"
    )
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"partnerdesk: {error}", file=sys.stderr)
        return 2

    if args.command == "export-schema":
        print(create_schema(settings).as_str())
    elif args.command == "migrate":
        asyncio.run(migrate_database(settings.database_url))
        print("Database is up to date.")
    elif args.command == "seed-demo":
        from resolvers.demo import seed_demo_data

        asyncio.run(migrate_database(settings.database_url))
        asyncio.run(_with_database(settings, seed_demo_data, print_logins=True))
    elif args.command == "serve":
        _serve(settings, args.demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
