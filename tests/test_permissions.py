"""Who may call each mutation: one table (resolvers/permissions.py), one check, the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.partner import MemberRole, PartnerMember
from resolvers.permissions import MUTATION_AUDIENCES, Audience
from schema import create_schema
from tests.support import GraphQLClient, create_customer, register_account, register_partner

ROOT = Path(__file__).resolve().parent.parent
MUTATION_FIELDS = set(create_schema()._schema.mutation_type.fields)  # type: ignore[union-attr]
ERRORS = "errors { code message field }"
UPDATE_CUSTOMER = f'mutation($id: ID!) {{ updateCustomer(id: $id, patch: {{notes: "x"}}) {{ customer {{ id }} {ERRORS} }} }}'
CONVERT = f"mutation($id: ID!) {{ convertInquiry(input: {{inquiryId: $id, target: {{newCustomer: {{}}}}}}) {{ inquiry {{ id }} {ERRORS} }} }}"
WITHDRAW = f"mutation($id: ID!) {{ withdrawInvitation(input: {{invitationId: $id}}) {{ invitation {{ id }} {ERRORS} }} }}"
PROFILE = f'mutation {{ updatePartnerProfile(input: {{headline: "Hi"}}) {{ profile {{ headline }} {ERRORS} }} }}'
LOGOUT = f"mutation {{ logout {{ ok {ERRORS} }} }}"


def test_every_mutation_has_exactly_one_declared_audience() -> None:
    assert set(MUTATION_AUDIENCES) == MUTATION_FIELDS


def test_the_readme_role_table_is_the_declared_one() -> None:
    # given the README's "Who may do what" table
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after_heading = readme.split("### Who may call which mutation", 1)[1].splitlines()
    documented: dict[str, str] = {}
    for line in _first_table(after_heading)[2:]:
        audience, names = (cell.strip() for cell in line.strip("|").split("|"))
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = audience
    # then it lists every mutation with its audience, as declared
    assert documented == {name: audience.value for name, audience in MUTATION_AUDIENCES.items()}


@pytest.mark.parametrize(
    ("mutation", "name"),
    [
        (UPDATE_CUSTOMER, "updateCustomer"),
        (CONVERT, "convertInquiry"),
        (WITHDRAW, "withdrawInvitation"),
    ],
)
@pytest.mark.parametrize("given_id", ["not an id", "", "Q3VzdG9tZXI6OTk5OTk5"])
async def test_a_visitor_learns_unauthenticated_before_anything_about_ids(
    client: GraphQLClient, mutation: str, name: str, given_id: str
) -> None:
    # when a visitor sends a malformed, empty or unknown id
    payload = (await client.gql(mutation, {"id": given_id}))[name]
    # then the answer is about the missing token, not about the id
    assert [error["code"] for error in payload["errors"]] == ["UNAUTHENTICATED"]
    assert payload["errors"][0]["field"] is None


async def test_roles_and_realms_outside_the_audience_are_forbidden(client: GraphQLClient) -> None:
    # given an owner, a MEMBER of the same partner and an account holder
    owner = await register_partner(client)
    customer = await create_customer(client, owner.token)
    member = await register_partner(client)
    await PartnerMember.filter(email=member.email).update(
        partner_id=int(_pk(owner.partner_id)), role=MemberRole.MEMBER
    )
    account = await register_account(client)
    # then a MEMBER may not edit the profile, an account holder may not edit customers,
    # and a partner member may not withdraw an account holder's authorization
    assert await _codes(client, PROFILE, None, member.token, "updatePartnerProfile") == [
        "FORBIDDEN"
    ]
    assert await _codes(
        client, UPDATE_CUSTOMER, customer["id"], account.token, "updateCustomer"
    ) == ["FORBIDDEN"]
    assert await _codes(client, WITHDRAW, "x", owner.token, "withdrawInvitation") == ["FORBIDDEN"]
    # and the owner may edit the profile; anyone signed in may sign out
    assert await _codes(client, PROFILE, None, owner.token, "updatePartnerProfile") == []
    assert await _codes(client, LOGOUT, None, account.token, "logout") == []
    assert MUTATION_AUDIENCES["updatePartnerProfile"] == Audience.ADMIN


async def _codes(
    client: GraphQLClient, mutation: str, given_id: str | None, token: str, name: str
) -> list[str]:
    variables = {"id": given_id} if given_id is not None else None
    payload = (await client.gql(mutation, variables, token))[name]
    return [error["code"] for error in payload["errors"]]


def _pk(global_id: str) -> int:
    from schema.ids import parse_global_id

    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def _first_table(lines: list[str]) -> list[str]:
    """The rows of the first Markdown table in `lines`."""
    rows: list[str] = []
    for line in lines:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows
