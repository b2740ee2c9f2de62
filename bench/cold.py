"""The cold figure: the first request of a GraphQL document the server has never seen.

A server that caches per document text (parsed and validated document, plan, compiled
SQL, prepared statement) pays all of that on a document's first request. Each cold
request here sends Q2 with its root field under an alias used nowhere else
(`cold_<run>_<n>: customers(...)`), so no cache keyed on the text or on its normalised
form can hold it, with the variables and token of the rotation; right after it the same
request is sent again (warm). One connection, one request at a time, the servers in
turn, so they share the machine's noise. PartnerDesk's aliased answer must equal the
reference's answer to the plain document.

The reference does not parse GraphQL, so its cold and warm requests cost the same: it is
the floor. PostGraphile parses, validates and plans per document like PartnerDesk.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from bench import compare
from bench.fixture import Fixture
from bench.harness import PARTNERDESK, PEER, BenchFailure, Endpoints, Target, headers, log
from bench.queries import WORKLOADS
from bench.rotation import ROTATING, body

WORKLOAD = "Q2"


def aliased(document: str, root: str, alias: str) -> str:
    """`document` with its root field `root` answered under `alias`."""
    marker = f"{root}("
    if document.count(marker) != 1:
        raise ValueError(f"{root} is not the one root field of the document")
    return document.replace(marker, f"{alias}: {marker}")


async def _timed(
    client: httpx.AsyncClient, url: str, content: bytes, token: str | None
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post(url, content=content, headers=headers(token))
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or b'"message"' in response.content:
        raise BenchFailure(f"cold {url}: {response.status_code} {response.text[:500]}")
    return elapsed, orjson.loads(response.content)


async def measure(
    endpoints: Endpoints, fixture: Fixture, targets: Sequence[Target], count: int
) -> dict[str, list[tuple[float, float]]]:
    """target key -> [(cold ms, warm ms)] for `count` never-seen documents each."""
    rotation_ = fixture.rotation(WORKLOAD, ROTATING)
    run = time.strftime("%H%M%S")
    found: dict[str, list[tuple[float, float]]] = {target.key: [] for target in targets}
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(count):
            v, token = rotation_.entry(7919 * n)
            alias = f"cold_{run}_{n}"
            answers: dict[str, Any] = {}
            shift = n % len(targets)
            for target in [*targets[shift:], *targets[:shift]]:
                url = endpoints.url(target, WORKLOAD)
                if target.key == PEER.key:
                    assert rotation_.peer_variables is not None
                    document = aliased(
                        WORKLOADS[WORKLOAD].peer_document or "", "allCustomers", alias
                    )
                    content, sent_token = body(document, rotation_.peer_variables[v]), None
                else:
                    document = aliased(WORKLOADS[WORKLOAD].document, "customers", alias)
                    content, sent_token = body(document, rotation_.variables[v]), token
                cold, answer = await _timed(client, url, content, sent_token)
                warm, _ = await _timed(client, url, content, sent_token)
                found[target.key].append((cold, warm))
                answers[target.key] = answer["data"]
            ours = answers.get(PARTNERDESK.key)
            for key, theirs in answers.items():
                if key in (PARTNERDESK.key, PEER.key) or ours is None:
                    continue
                difference = compare.first_difference(ours[alias], theirs["customers"])
                if difference:
                    raise BenchFailure(f"cold Q2 {n}: PartnerDesk and {key} differ at {difference}")
    for target in targets:
        cold = [pair[0] for pair in found[target.key]]
        log(f"cold Q2 {target.label}: p50 {statistics.median(cold):.2f} ms over {len(cold)}")
    return found


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]
