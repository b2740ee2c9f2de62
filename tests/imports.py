"""Helpers for tests of CSV imports and exports: upload a file, wait for an import, download."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support import GraphQLClient

IMPORT = """
mutation($file: Upload!, $dryRun: Boolean) {
  importCustomers(file: $file, dryRun: $dryRun) {
    customerImport { id status dryRun fileName rows created updated skipped problems { row field message } }
    errors { code message field }
  }
}"""
CUSTOMER_IMPORT = """
query($id: ID!) {
  customerImport(id: $id) { id status dryRun fileName rows created updated skipped problems { row field message } finishedAt }
}"""
EXPORT = """
mutation($format: ExportFormat, $filter: CustomerFilter) {
  exportCustomers(format: $format, filter: $filter) { export { url expiresAt } errors { code message field } }
}"""


async def send_import(
    client: GraphQLClient,
    token: str,
    content: bytes,
    *,
    dry_run: bool = True,
    name: str = "customers.csv",
) -> dict[str, Any]:
    """The importCustomers payload for a file."""
    response = await client.upload(
        IMPORT, {"file": None, "dryRun": dry_run}, {"file": (name, content)}, token
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]["importCustomers"]


async def finished_import(
    client: GraphQLClient, token: str, import_id: str, timeout: float = 60
) -> dict[str, Any]:
    """The import once it is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while True:
        found = (await client.gql(CUSTOMER_IMPORT, {"id": import_id}, token))["customerImport"]
        if found["status"] != "RUNNING":
            return found
        assert time.monotonic() < deadline, f"import still running: {found}"
        await asyncio.sleep(0.05)


async def run_import(
    client: GraphQLClient, token: str, content: bytes, name: str = "customers.csv"
) -> dict[str, Any]:
    """Import a file for real and wait until it is done; the finished import."""
    payload = await send_import(client, token, content, dry_run=False, name=name)
    assert payload["errors"] == [], payload["errors"]
    started = payload["customerImport"]
    assert (started["status"], started["dryRun"]) == ("RUNNING", False)  # it runs in the background
    return await finished_import(client, token, started["id"])


async def download(client: GraphQLClient, url: str) -> bytes:
    """GET a download link as a browser would (no bearer token)."""
    response = await client.http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.content


async def export_customers(
    client: GraphQLClient, token: str, format: str = "CSV", filter: dict[str, Any] | None = None
) -> bytes:
    """Ask for an export of the partner's customers and download it."""
    payload = await client.mutate(EXPORT, {"format": format, "filter": filter}, token)
    return await download(client, payload["export"]["url"])
