"""The exported schema contains all of ../shared/api/contract.graphql and of its extension
files (identity.graphql, ...), compatibly: each extension is checked parsed together with
the contract it extends."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema import create_schema

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = [
    ROOT.parent / "shared" / "api" / "contract.graphql",
    Path("/work/shared/api/contract.graphql"),
]
# Extension files this server implements (`extend` statements over contract.graphql).
EXTENSIONS = ["identity.graphql"]
# Contract elements that a later issue delivers. This list only ever shrinks.
NOT_YET_BUILT: set[str] = set()


def _contract_path() -> Path:
    for candidate in CANDIDATES:
        if candidate.exists():
            return candidate
    pytest.skip(f"API contract not found (looked in {', '.join(map(str, CANDIDATES))})")


def _contract_text(extension: str | None = None) -> str:
    contract = _contract_path()
    text = contract.read_text(encoding="utf-8")
    if extension is not None:
        text += "\n" + (contract.parent / extension).read_text(encoding="utf-8")
    return text


def _is_pending(description: str) -> bool:
    return any(element in description for element in NOT_YET_BUILT)


@pytest.mark.parametrize("extension", [None, *EXTENSIONS])
def test_exported_schema_does_not_break_the_contract(extension: str | None) -> None:
    contract = build_schema(_contract_text(extension))
    exported = create_schema().as_str()
    changes = find_breaking_changes(contract, build_schema(exported))
    breaking = [
        f"{change.type.name}: {change.description}"
        for change in changes
        if not _is_pending(change.description)
    ]
    assert breaking == [], "\n".join(breaking)


def test_the_pending_list_names_only_what_is_really_missing() -> None:
    contract = build_schema(_contract_path().read_text(encoding="utf-8"))
    changes = find_breaking_changes(contract, build_schema(create_schema().as_str()))
    descriptions = " ".join(change.description for change in changes)
    stale = sorted(element for element in NOT_YET_BUILT if element not in descriptions)
    assert stale == [], f"already built, remove from NOT_YET_BUILT: {stale}"
