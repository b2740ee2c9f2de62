"""Differential test: generated queries get identical answers, errors included, from the
compiled read path and from the resolvers."""

from __future__ import annotations

import os
import warnings

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis_graphql import strategies as graphql_strategies

from schema import create_schema
from tests.support import GraphQLClient
from tests.test_compiled import compiled_answers, resolvers_only, settings, world  # noqa: F401  (fixtures)

# Root fields the compiled path understands (others always take the resolvers).
COMPILED_ROOTS = ["customers", "customer", "viewer", "pendingInvitationCount"]
EXAMPLES = int(os.environ.get("PARTNERDESK_DIFFERENTIAL_EXAMPLES", "300"))


def generated_queries(count: int) -> list[str]:
    """`count` distinct valid queries over the compiled roots, reproducibly."""
    strategy = graphql_strategies.queries(
        create_schema().as_str(), fields=COMPILED_ROOTS, allow_x00=False
    )
    found: list[str] = []

    # Hypothesis drives a plain function that only collects: the HTTP calls happen in the
    # async test on the session event loop, where the database connections live.
    @hypothesis_settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(query: str) -> None:
        if query not in found:
            found.append(query)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return found


async def test_generated_queries_get_identical_answers(
    client: GraphQLClient,
    resolvers_only: GraphQLClient,
    world: dict[str, str],
    compiled_answers: list[bool],
) -> None:
    queries = generated_queries(EXAMPLES)
    compiled_count = 0
    for query in queries:
        compiled_answers.clear()
        compiled = await client.post(query, {}, world["token"])
        expected = await resolvers_only.post(query, {}, world["token"])
        assert compiled.status_code == expected.status_code, query
        assert compiled.json() == expected.json(), query
        compiled_count += sum(compiled_answers)
    print(
        f"differential: {len(queries)} generated queries, {compiled_count} answered by the compiled path"
    )
    assert len(queries) >= EXAMPLES // 2
    assert compiled_count >= len(queries) // 10, (
        "the generator should reach the compiled path often"
    )
