"""Registration, sign-in, tokens and the viewer."""

from __future__ import annotations

import hashlib

import pytest
from tortoise import Tortoise

from models.auth import AuthToken
from tests.support import REGISTER_PARTNER, GraphQLClient, register_account, register_partner

LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { token expiresAt viewer { realm member { email role } account { email } } errors { code message field } }
}"""
VIEWER = "{ viewer { realm member { name role partner { slug } } account { email language } } }"
LOGOUT = "mutation { logout { ok errors { code } } }"


async def test_registered_partner_owner_is_signed_in(client: GraphQLClient) -> None:
    # given
    login = await register_partner(client)
    # when
    data = await client.gql(VIEWER, token=login.token)
    # then
    assert data["viewer"]["realm"] == "PARTNER"
    assert data["viewer"]["member"]["role"] == "OWNER"
    assert data["viewer"]["member"]["partner"]["slug"] == login.slug


async def test_login_in_partner_realm_returns_a_working_token(client: GraphQLClient) -> None:
    login = await register_partner(client)
    payload = await client.mutate(
        LOGIN, {"input": {"realm": "PARTNER", "email": login.email, "password": login.password}}
    )
    assert payload["viewer"]["member"]["email"] == login.email
    assert payload["expiresAt"].endswith("+00:00")
    data = await client.gql(VIEWER, token=payload["token"])
    assert data["viewer"]["member"]["partner"]["slug"] == login.slug


async def test_account_holder_logs_in_only_in_account_realm(client: GraphQLClient) -> None:
    account = await register_account(client, language="de")
    good = await client.mutate(
        LOGIN,
        {"input": {"realm": "ACCOUNT", "email": account.email, "password": "account password 1"}},
    )
    assert good["viewer"]["realm"] == "ACCOUNT"
    wrong_realm = await client.gql(
        LOGIN,
        {"input": {"realm": "PARTNER", "email": account.email, "password": "account password 1"}},
    )
    assert wrong_realm["login"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_wrong_password_and_unknown_email_give_the_same_error(client: GraphQLClient) -> None:
    login = await register_partner(client)
    wrong = await client.gql(
        LOGIN, {"input": {"realm": "PARTNER", "email": login.email, "password": "nope nope nope"}}
    )
    unknown = await client.gql(
        LOGIN,
        {
            "input": {
                "realm": "PARTNER",
                "email": "nobody@example.com",
                "password": "nope nope nope",
            }
        },
    )
    assert wrong["login"]["token"] is None
    assert wrong["login"]["errors"] == unknown["login"]["errors"]
    assert wrong["login"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_logout_revokes_the_token(client: GraphQLClient) -> None:
    login = await register_partner(client)
    result = await client.gql(LOGOUT, token=login.token)
    assert result["logout"] == {"ok": True, "errors": []}
    data = await client.gql(VIEWER, token=login.token)
    assert data["viewer"] is None


async def test_logout_without_token_is_unauthenticated(client: GraphQLClient) -> None:
    result = await client.gql(LOGOUT)
    assert result["logout"]["ok"] is False
    assert result["logout"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_expired_token_is_not_accepted(client: GraphQLClient) -> None:
    from datetime import UTC, datetime, timedelta

    login = await register_partner(client)
    await AuthToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    data = await client.gql(VIEWER, token=login.token)
    assert data["viewer"] is None


async def test_duplicate_slug_is_a_conflict_from_the_database(client: GraphQLClient) -> None:
    first = await register_partner(client)
    body = await client.gql(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Other",
                "slug": first.slug,
                "name": "X Y",
                "email": "other@example.com",
                "password": "long enough pw",
            }
        },
    )
    errors = body["registerPartner"]["errors"]
    assert errors == [{"code": "CONFLICT", "message": "This slug is taken.", "field": ["slug"]}]


async def test_duplicate_member_email_is_a_conflict_and_leaves_no_partner(
    client: GraphQLClient,
) -> None:
    first = await register_partner(client)
    body = await client.gql(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Other",
                "slug": "other-slug",
                "name": "X Y",
                "email": first.email.upper(),
                "password": "long enough pw",
            }
        },
    )
    assert body["registerPartner"]["errors"][0]["code"] == "CONFLICT"
    assert body["registerPartner"]["errors"][0]["field"] == ["email"]
    profile = await client.gql('{ partnerProfile(slug: "other-slug") { slug } }')
    assert profile["partnerProfile"] is None
    from models.partner import Partner

    assert not await Partner.exists(slug="other-slug")


@pytest.mark.parametrize(
    ("field", "value", "code_field"),
    [
        ("slug", "X", ["slug"]),
        ("slug", "has space", ["slug"]),
        ("email", "not-an-email", ["email"]),
        ("password", "short", ["password"]),
        ("name", "   ", ["name"]),
        ("partnerName", "a\x00b", ["partnerName"]),
    ],
)
async def test_registration_rejects_bad_input(
    client: GraphQLClient, field: str, value: str, code_field: list[str]
) -> None:
    values = {
        "partnerName": "Agency",
        "slug": "good-slug",
        "name": "Owner",
        "email": "o@example.com",
        "password": "long enough pw",
        field: value,
    }
    body = await client.gql(REGISTER_PARTNER, {"input": values})
    errors = body["registerPartner"]["errors"]
    assert [(error["code"], error["field"]) for error in errors] == [("VALIDATION", code_field)]


async def test_several_bad_fields_give_several_errors(client: GraphQLClient) -> None:
    body = await client.gql(
        REGISTER_PARTNER,
        {"input": {"partnerName": "", "slug": "!", "name": "", "email": "x", "password": "1"}},
    )
    fields = sorted(error["field"][0] for error in body["registerPartner"]["errors"])
    assert fields == ["email", "name", "partnerName", "password", "slug"]


async def test_passwords_are_argon2id_and_tokens_are_stored_only_hashed(
    client: GraphQLClient,
) -> None:
    login = await register_partner(client)
    account = await register_account(client)
    connection = Tortoise.get_connection("default")
    _, members = await connection.execute_query("SELECT password_hash FROM partner_member")
    _, holders = await connection.execute_query("SELECT password_hash FROM account_holder")
    assert all(row["password_hash"].startswith("$argon2id$") for row in [*members, *holders])
    _, tokens = await connection.execute_query("SELECT token_hash FROM auth_token")
    stored = {row["token_hash"] for row in tokens}
    assert login.token not in stored and account.token not in stored
    assert hashlib.sha256(login.token.encode()).hexdigest() in stored
