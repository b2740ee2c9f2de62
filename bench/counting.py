"""SQL statements per request, counted on the PostgreSQL wire (bench/statements.py).

Each server is started a second time with its database URL pointing at the counting
proxy. Fixed: one request warms the server up, then the same request is counted.
Rotating: eight requests of the rotation warm it up, then the ninth (other variables,
another member's token) is counted, which is what a cache keyed on either costs when it
misses. Writes take their pool entries like the timed runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench import seed, servers
from bench.fixture import Fixture
from bench.harness import PARTNERDESK, PEER, BenchFailure, Endpoints, Target, headers, log
from bench.queries import WORKLOADS
from bench.rotation import FIXED, MODES, ROTATING, Rotation, body, fill, pool_entry
from bench.statements import CountingProxy

WARM_UP = 8  # rotating requests before the counted one (every shape of Q3 filter seen)


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}"))


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


async def _send(client: httpx.AsyncClient, url: str, content: bytes, token: str | None) -> None:
    response = await client.post(url, content=content, headers=headers(token))
    if response.status_code != 200 or b'"message"' in response.content:
        raise BenchFailure(
            f"POST {url} while counting statements: {response.status_code} {response.text[:500]}"
        )


async def pool_values(url: str, workload: str, count: int) -> list[list[str]]:
    """`count` fresh pool entries of a write workload (none for the others)."""
    if workload == "M2":
        ids = await seed.insert_inquiry_pool(url, [n % len(seed.POOL_PEOPLE) for n in range(count)])
        return [pool_entry("M2", (pk, None)) for pk in ids]
    if workload in ("M3", "M4"):
        pool = await seed.insert_invitation_pool(url, count, with_customers=workload == "M3")
        return [pool_entry(workload, ids) for ids in pool]
    return [[] for _ in range(count)]


def request(
    workload: str, target: Target, rotation_: Rotation, i: int, values: list[str]
) -> tuple[bytes, str | None]:
    """(body, token) of request number i of a rotation, with its pool values filled in."""
    v, token = rotation_.entry(i)
    if target.key == PEER.key:
        assert rotation_.peer_variables is not None
        document = WORKLOADS[workload].peer_document
        assert document is not None
        return body(document, rotation_.peer_variables[v]), None
    variables = fill(rotation_.variables[v], values) if values else rotation_.variables[v]
    return body(WORKLOADS[workload].document, variables), token


async def count_statements(
    url: str,
    work_dir: Path,
    fixture: Fixture,
    workloads: list[str],
    targets: dict[str, list[Target]],
    extra_env: dict[str, str],
    peer: bool,
) -> tuple[dict[tuple[str, str, str], dict[str, Any]], dict[str, dict[int, int]]]:
    """((workload, mode, target) -> tally summary, workload -> page size -> statements)."""
    counted: dict[tuple[str, str, str], dict[str, Any]] = {}
    growth: dict[str, dict[int, int]] = {}
    async with CountingProxy(*host_port(url)) as proxy:
        counted_url = with_port(url, proxy.port)
        started = [
            servers.partnerdesk(counted_url, work_dir, extra_env, suffix="-counting"),
            servers.reference(counted_url, work_dir, suffix="-counting"),
        ]
        if peer:
            started.append(servers.postgraphile(counted_url, work_dir, suffix="-counting"))
        for server in started:
            server.start()
        try:
            await asyncio.gather(*(server.wait_ready() for server in started))
            endpoints = Endpoints(
                started[0].base_url, started[1].base_url, started[2].base_url if peer else None
            )
            async with httpx.AsyncClient(timeout=60) as client:

                async def tally(
                    workload: str, target: Target, rotation_: Rotation, warm: list[int], i: int
                ) -> dict[str, Any]:
                    values = await pool_values(url, workload, len(warm) + 1)
                    address = endpoints.url(target, workload)
                    for n, k in enumerate(warm):
                        await _send(
                            client, address, *request(workload, target, rotation_, k, values[n])
                        )
                    await asyncio.sleep(0.2)
                    proxy.reset()
                    await _send(
                        client, address, *request(workload, target, rotation_, i, values[-1])
                    )
                    await asyncio.sleep(0.3)  # pool releases happen after the response
                    return proxy.tally.summary()

                for workload in workloads:
                    for mode in MODES:
                        rotation_ = fixture.rotation(workload, mode)
                        warm, i = ([0], 0) if mode == FIXED else (list(range(WARM_UP)), WARM_UP)
                        for target in targets[workload]:
                            if target.key == PEER.key and rotation_.peer_variables is None:
                                continue
                            summary = await tally(workload, target, rotation_, warm, i)
                            counted[(workload, mode, target.key)] = summary
                            log(
                                f"statements: {workload} {mode} {target.label}: {summary['sql']} "
                                f"(+{summary['transaction']} tx, {summary['pool_reset']} pool "
                                f"resets, {summary['parses']} prepared), "
                                f"{summary['round_trips']} round trips"
                            )
                for workload, sizes in (("Q2", (5, 20)), ("Q3", (10, 100))):
                    if workload not in workloads:
                        continue
                    rotation_ = fixture.rotation(workload, ROTATING)
                    growth[workload] = {}
                    for size in sizes:
                        resized = Rotation(
                            [{**variables, "first": size} for variables in rotation_.variables],
                            rotation_.tokens,
                        )
                        summary = await tally(workload, PARTNERDESK, resized, [0], 0)
                        growth[workload][size] = summary["sql"]
        finally:
            for server in started:
                server.stop()
    return counted, growth
