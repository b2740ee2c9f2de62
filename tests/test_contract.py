"""The exported schema contains all of ../shared/api/contract.graphql, compatibly, and of the
extension files of the issues built so far (`extend` statements over the contract)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema import create_schema

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]
CANDIDATES = [
    ROOT.parent / "shared" / "api" / "contract.graphql",
    Path("/work/shared/api/contract.graphql"),
]
EXTENSIONS = ["identity.graphql", "webhooks.graphql", "data.graphql"]
# Contract elements that a later issue delivers. This list only ever shrinks.
NOT_YET_BUILT: set[str] = set()


def _contract_path() -> Path:
    for candidate in CANDIDATES:
        if candidate.exists():
            return candidate
    pytest.skip(f"API contract not found (looked in {', '.join(map(str, CANDIDATES))})")


def _contract_text() -> str:
    """The contract with the extensions built so far, as one document."""
    contract = _contract_path()
    parts = [contract.read_text(encoding="utf-8")]
    for name in EXTENSIONS:
        extension = contract.parent / name
        assert extension.exists(), f"{extension} is missing"
        parts.append(extension.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _is_pending(description: str) -> bool:
    return any(element in description for element in NOT_YET_BUILT)


def test_exported_schema_does_not_break_the_contract() -> None:
    contract = build_schema(_contract_text())
    exported = create_schema().as_str()
    changes = find_breaking_changes(contract, build_schema(exported))
    breaking = [
        f"{change.type.name}: {change.description}"
        for change in changes
        if not _is_pending(change.description)
    ]
    assert breaking == [], "\n".join(breaking)


def test_the_pending_list_names_only_what_is_really_missing() -> None:
    contract = build_schema(_contract_text())
    changes = find_breaking_changes(contract, build_schema(create_schema().as_str()))
    descriptions = " ".join(change.description for change in changes)
    stale = sorted(element for element in NOT_YET_BUILT if element not in descriptions)
    assert stale == [], f"already built, remove from NOT_YET_BUILT: {stale}"


def test_the_extensions_add_to_the_contract() -> None:
    # A check that can fail: the extensions really are part of what is compared.
    contract = build_schema(_contract_text())
    assert "WebhookEndpoint" in contract.type_map
    assert "createWebhookEndpoint" in contract.mutation_type.fields  # type: ignore[union-attr]
    assert "webhookEndpoints" in contract.type_map["Partner"].fields  # type: ignore[attr-defined]
