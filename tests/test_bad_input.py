"""The bad input catalogue, over HTTP: every request here is malformed on purpose.

Overlong strings for each kind of text input, NUL and other control characters, lone
surrogates, invalid UTF-8, JSON of the wrong shape, integers far out of range, malformed
global ids and tampered cursors. Each must get a clear answer: a UserError (VALIDATION,
NOT_FOUND, ...), a top-level error with a readable message, or, for a lookup, nothing
found. Never a 5xx, never the masked "Internal server error", never a database or Python
message that tells the client about our internals.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import World, build_world, pk_of
from tests.support import GraphQLClient, PartnerLogin, register_partner, rendered_at

OVERLONG = "x" * 20_000  # longer than every text limit, well inside the 64 KiB body limit
OVERLONG_EMAIL = "a" * 20_000 + "@example.com"
# Words of driver and runtime messages that must never reach a client.
INTERNALS = re.compile(
    r"Internal server error|INTERNAL_SERVER_ERROR|Traceback|File \"|sqlite|bindings supplied|"
    r"invalid byte sequence|the server expects|asyncpg|psycopg|out of int32 range|"
    r"Python int too large|object has no attribute|NoneType|codec can't|syntax error at or near",
    re.IGNORECASE,
)
ERRORS = "errors { code message field }"


async def post_json(
    client: GraphQLClient, payload: Any, token: str | None = None
) -> httpx.Response:
    """POST any JSON value; `json.dumps` escapes lone surrogates as \\udXXX, as a client may."""
    return await post_bytes(client, json.dumps(payload).encode("ascii"), token)


async def post_bytes(
    client: GraphQLClient, body: bytes, token: str | None = None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await client.http.post("/graphql", content=body, headers=headers)


def clear_answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body, after checking that nothing went wrong on the server's side."""
    assert response.status_code < 500, response.text
    assert not INTERNALS.search(response.text), response.text
    body = response.json()
    assert isinstance(body, dict), response.text
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str) and error["message"].strip(), response.text
    return body


def first_line(error: AssertionError) -> str:
    return str(error).splitlines()[0][:400]


def codes_of(body: dict[str, Any], operation: str) -> set[str]:
    """Error codes in the answer: the payload's UserErrors, or the top-level errors'."""
    value = (body.get("data") or {}).get(operation)
    if isinstance(value, dict) and value.get("errors"):
        return {error["code"] for error in value["errors"]}
    return {(error.get("extensions") or {}).get("code") or "" for error in body.get("errors") or []}


def found_nothing(body: dict[str, Any], operation: str) -> bool:
    if body.get("errors"):
        return False
    value = (body.get("data") or {}).get(operation)
    if isinstance(value, dict) and "edges" in value:
        return value["edges"] == []
    return value in (None, [])


async def ask(
    client: GraphQLClient, query: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    return clear_answer(await post_json(client, {"query": query, "variables": variables}, token))


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def unb64url(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")


@pytest.fixture
async def partner(client: GraphQLClient) -> PartnerLogin:
    return await register_partner(client, public=True)


@pytest.fixture
async def world(client: GraphQLClient) -> World:
    return await build_world(client)


# ---------------------------------------------------------------- overlong text


@dataclass(frozen=True)
class TextInput:
    """One text input: the mutation, its variables with `{}` where the text goes, and the
    UserError field path it must be reported at."""

    name: str
    query: str
    template: dict[str, Any]
    field: list[str]
    needs: str = "partner"  # whose token: "partner", "account" or "visitor"


def _fill(template: Any, value: str) -> Any:
    if template == "{}":
        return value
    if isinstance(template, dict):
        return {key: _fill(item, value) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(item, value) for item in template]
    return template


CREATE_CUSTOMER = f"mutation($input: CustomerInput!) {{ createCustomer(input: $input) {{ customer {{ id }} {ERRORS} }} }}"
CREATE_DOMAIN = f"mutation($input: DomainInput!) {{ createDomain(input: $input) {{ domain {{ id }} {ERRORS} }} }}"
CREATE_CONTRACT = f"mutation($input: ContractInput!) {{ createContract(input: $input) {{ contract {{ id }} {ERRORS} }} }}"
CREATE_TASK = (
    f"mutation($input: TaskInput!) {{ createTask(input: $input) {{ task {{ id }} {ERRORS} }} }}"
)
UPDATE_PROFILE = f"mutation($input: PartnerProfileInput!) {{ updatePartnerProfile(input: $input) {{ profile {{ slug }} {ERRORS} }} }}"
SUBMIT_INQUIRY = f"mutation($input: SubmitInquiryInput!) {{ submitInquiry(input: $input) {{ accepted {ERRORS} }} }}"
SEND_INVITATION = f"mutation($input: SendAccessInvitationInput!) {{ sendAccessInvitation(input: $input) {{ invitation {{ id }} {ERRORS} }} }}"
REGISTER_PARTNER = f"mutation($input: RegisterPartnerInput!) {{ registerPartner(input: $input) {{ token {ERRORS} }} }}"
REGISTER_ACCOUNT = f"mutation($input: RegisterAccountInput!) {{ registerAccount(input: $input) {{ token {ERRORS} }} }}"
LOGIN = f"mutation($input: LoginInput!) {{ login(input: $input) {{ token {ERRORS} }} }}"

CUSTOMER = {"firstName": "Mario", "lastName": "Rossi"}
INQUIRY = {
    "partnerSlug": "<slug>",
    "name": "Visitor",
    "email": "visitor@example.net",
    "message": "Hello",
    "privacyConsent": True,
    "renderedAt": rendered_at(),
}
NEW_PARTNER = {
    "partnerName": "Agency",
    "slug": "overlong-agency",
    "name": "Owner",
    "email": "owner@overlong.example",
    "password": "long enough password",
}
NEW_ACCOUNT = {"name": "Anna", "email": "anna@overlong.example", "password": "long enough password"}

TEXT_INPUTS = [
    TextInput(
        "customer first name", CREATE_CUSTOMER, {"input": {"firstName": "{}"}}, ["firstName"]
    ),
    TextInput("customer last name", CREATE_CUSTOMER, {"input": {"lastName": "{}"}}, ["lastName"]),
    TextInput(
        "customer company",
        CREATE_CUSTOMER,
        {"input": {"kind": "COMPANY", "companyName": "{}"}},
        ["companyName"],
    ),
    TextInput(
        "customer e-mail", CREATE_CUSTOMER, {"input": {**CUSTOMER, "email": "{}"}}, ["email"]
    ),
    TextInput("customer phone", CREATE_CUSTOMER, {"input": {**CUSTOMER, "phone": "{}"}}, ["phone"]),
    TextInput(
        "customer VAT id", CREATE_CUSTOMER, {"input": {**CUSTOMER, "vatId": "{}"}}, ["vatId"]
    ),
    TextInput(
        "customer language",
        CREATE_CUSTOMER,
        {"input": {**CUSTOMER, "language": "{}"}},
        ["language"],
    ),
    TextInput("customer notes", CREATE_CUSTOMER, {"input": {**CUSTOMER, "notes": "{}"}}, ["notes"]),
    TextInput("customer tag", CREATE_CUSTOMER, {"input": {**CUSTOMER, "tags": ["{}"]}}, ["tags"]),
    TextInput(
        "customer street",
        CREATE_CUSTOMER,
        {"input": {**CUSTOMER, "address": {"street": "{}"}}},
        ["address", "street"],
    ),
    TextInput(
        "customer country",
        CREATE_CUSTOMER,
        {"input": {**CUSTOMER, "address": {"country": "{}"}}},
        ["address", "country"],
    ),
    TextInput("domain name", CREATE_DOMAIN, {"input": {"name": "{}"}}, ["name"]),
    TextInput(
        "contract product",
        CREATE_CONTRACT,
        {"input": {"product": "{}", "startsOn": "2026-01-01"}},
        ["product"],
    ),
    TextInput(
        "contract number",
        CREATE_CONTRACT,
        {"input": {"product": "Hosting", "startsOn": "2026-01-01", "contractNumber": "{}"}},
        ["contractNumber"],
    ),
    TextInput(
        "contract fee amount",
        CREATE_CONTRACT,
        {
            "input": {
                "product": "Hosting",
                "startsOn": "2026-01-01",
                "monthlyFee": {"amount": "{}", "currency": "EUR"},
            }
        },
        ["monthlyFee", "amount"],
    ),
    TextInput("task title", CREATE_TASK, {"input": {"title": "{}"}}, ["title"]),
    TextInput(
        "task description",
        CREATE_TASK,
        {"input": {"title": "T", "description": "{}"}},
        ["description"],
    ),
    TextInput(
        "profile display name", UPDATE_PROFILE, {"input": {"displayName": "{}"}}, ["displayName"]
    ),
    TextInput(
        "profile description", UPDATE_PROFILE, {"input": {"description": "{}"}}, ["description"]
    ),
    TextInput(
        "inquiry name", SUBMIT_INQUIRY, {"input": {**INQUIRY, "name": "{}"}}, ["name"], "visitor"
    ),
    TextInput(
        "inquiry message",
        SUBMIT_INQUIRY,
        {"input": {**INQUIRY, "message": "{}"}},
        ["message"],
        "visitor",
    ),
    TextInput(
        "inquiry e-mail",
        SUBMIT_INQUIRY,
        {"input": {**INQUIRY, "email": "{}"}},
        ["email"],
        "visitor",
    ),
    TextInput(
        "invitation message",
        SEND_INVITATION,
        {"input": {"partnerSlug": "<slug>", "scope": "FULL", "message": "{}"}},
        ["message"],
        "account",
    ),
    TextInput(
        "partner name",
        REGISTER_PARTNER,
        {"input": {**NEW_PARTNER, "partnerName": "{}"}},
        ["partnerName"],
        "visitor",
    ),
    TextInput(
        "partner slug",
        REGISTER_PARTNER,
        {"input": {**NEW_PARTNER, "slug": "{}"}},
        ["slug"],
        "visitor",
    ),
    TextInput(
        "partner password",
        REGISTER_PARTNER,
        {"input": {**NEW_PARTNER, "password": "{}"}},
        ["password"],
        "visitor",
    ),
    TextInput(
        "account e-mail",
        REGISTER_ACCOUNT,
        {"input": {**NEW_ACCOUNT, "email": "{}"}},
        ["email"],
        "visitor",
    ),
    TextInput(
        "account name",
        REGISTER_ACCOUNT,
        {"input": {**NEW_ACCOUNT, "name": "{}"}},
        ["name"],
        "visitor",
    ),
]


def _variables(text_input: TextInput, value: str, slug: str) -> dict[str, Any]:
    filled = _fill(text_input.template, value)
    raw = json.dumps(filled).replace('"<slug>"', json.dumps(slug))
    return json.loads(raw)


async def _token_for(client: GraphQLClient, needs: str, partner: PartnerLogin) -> str | None:
    if needs == "partner":
        return partner.token
    if needs == "account":
        from tests.support import register_account

        return (await register_account(client)).token
    return None


@pytest.mark.parametrize("text_input", TEXT_INPUTS, ids=lambda text_input: text_input.name)
async def test_overlong_text_is_refused_at_its_field(
    client: GraphQLClient, partner: PartnerLogin, text_input: TextInput
) -> None:
    # given
    token = await _token_for(client, text_input.needs, partner)
    value = OVERLONG_EMAIL if "e-mail" in text_input.name else OVERLONG
    variables = _variables(text_input, value, partner.slug)
    operation = re.search(r"\{\s*(\w+)\(", text_input.query)
    assert operation
    # when
    body = await ask(client, text_input.query, variables, token)
    # then
    payload = body["data"][operation.group(1)]
    assert payload["errors"], body
    assert {error["code"] for error in payload["errors"]} == {"VALIDATION"}, body
    assert text_input.field in [error["field"] for error in payload["errors"]], body


# ---------------------------------------------------------------- control characters


CONTROL_CHARACTERS = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "line separator": "\u2028",
    "lone surrogate": "\ud800",
}


@pytest.mark.parametrize(
    "text_input",
    [
        t
        for t in TEXT_INPUTS
        if t.name in {"customer first name", "task description", "inquiry name"}
    ],
    ids=lambda text_input: text_input.name,
)
async def test_control_characters_in_text_are_refused(
    client: GraphQLClient, partner: PartnerLogin, text_input: TextInput
) -> None:
    # given
    token = await _token_for(client, text_input.needs, partner)
    operation = re.search(r"\{\s*(\w+)\(", text_input.query)
    assert operation
    failures = []
    for label, character in CONTROL_CHARACTERS.items():
        variables = _variables(text_input, f"Ma{character}rio", partner.slug)
        # when
        body = await ask(client, text_input.query, variables, token)
        # then
        errors = body["data"][operation.group(1)]["errors"]
        if {error["code"] for error in errors} != {"VALIDATION"} or text_input.field not in [
            error["field"] for error in errors
        ]:
            failures.append(f"{label}: {body}")
    assert failures == [], "\n".join(failures)


@dataclass(frozen=True)
class Lookup:
    """A text that is looked up or searched, not stored: odd values find nothing or are refused."""

    name: str
    query: str
    operation: str
    codes: frozenset[str]  # acceptable error codes besides "found nothing"
    needs: str = "partner"


LOOKUPS = [
    Lookup(
        "profile slug",
        "query($s: String!) { partnerProfile(slug: $s) { slug } }",
        "partnerProfile",
        frozenset({"VALIDATION"}),
        "visitor",
    ),
    Lookup(
        "inquiry partner slug",
        f'mutation($s: String!) {{ submitInquiry(input: {{partnerSlug: $s, name: "V", email: "v@example.net", message: "Hi", privacyConsent: true, renderedAt: "{rendered_at()}"}}) {{ accepted {ERRORS} }} }}',
        "submitInquiry",
        frozenset({"PROFILE_NOT_PUBLIC", "NOT_FOUND", "VALIDATION"}),
        "visitor",
    ),
    Lookup(
        "invitation partner slug",
        f"mutation($s: String!) {{ sendAccessInvitation(input: {{partnerSlug: $s, scope: FULL}}) {{ invitation {{ id }} {ERRORS} }} }}",
        "sendAccessInvitation",
        frozenset({"PROFILE_NOT_PUBLIC", "NOT_FOUND", "VALIDATION"}),
        "account",
    ),
    Lookup(
        "login e-mail",
        f'mutation($s: String!) {{ login(input: {{realm: PARTNER, email: $s, password: "whatever password"}}) {{ token {ERRORS} }} }}',
        "login",
        frozenset({"UNAUTHENTICATED", "VALIDATION"}),
        "visitor",
    ),
    Lookup(
        "account login e-mail",
        f'mutation($s: String!) {{ login(input: {{realm: ACCOUNT, email: $s, password: "whatever password"}}) {{ token {ERRORS} }} }}',
        "login",
        frozenset({"UNAUTHENTICATED", "VALIDATION"}),
        "visitor",
    ),
    Lookup(
        "login password",
        f'mutation($s: String!) {{ login(input: {{realm: PARTNER, email: "nobody@example.com", password: $s}}) {{ token {ERRORS} }} }}',
        "login",
        frozenset({"UNAUTHENTICATED", "VALIDATION"}),
        "visitor",
    ),
    Lookup(
        "customer search",
        "query($s: String!) { customers(filter: {search: $s}) { totalCount edges { node { id } } } }",
        "customers",
        frozenset({"VALIDATION"}),
    ),
    Lookup(
        "customer tag",
        "query($s: String!) { customers(filter: {tag: $s}) { edges { node { id } } } }",
        "customers",
        frozenset({"VALIDATION"}),
    ),
    Lookup(
        "customer matches",
        "query($s: String!) { customerMatches(email: $s, phone: $s, name: $s) { id } }",
        "customerMatches",
        frozenset({"VALIDATION"}),
    ),
    Lookup(
        "domain search",
        "query($s: String!) { domains(filter: {search: $s}) { edges { node { id } } } }",
        "domains",
        frozenset({"VALIDATION"}),
    ),
    Lookup(
        "task search",
        "query($s: String!) { tasks(filter: {search: $s}) { totalCount edges { node { id } } } }",
        "tasks",
        frozenset({"VALIDATION"}),
    ),
]
ODD_TEXTS = {"overlong": OVERLONG, "overlong e-mail": OVERLONG_EMAIL} | {
    name: f"a{character}b" for name, character in CONTROL_CHARACTERS.items()
}


@pytest.mark.parametrize("lookup", LOOKUPS, ids=lambda lookup: lookup.name)
async def test_odd_lookup_texts_find_nothing_or_are_refused(
    client: GraphQLClient, partner: PartnerLogin, lookup: Lookup
) -> None:
    # given
    token = await _token_for(client, lookup.needs, partner)
    failures = []
    for label, text in ODD_TEXTS.items():
        # when
        try:
            body = await ask(client, lookup.query, {"s": text}, token)
        except AssertionError as error:
            failures.append(f"{label}: {first_line(error)}")
            continue
        # then
        if not (
            found_nothing(body, lookup.operation)
            or codes_of(body, lookup.operation) <= lookup.codes
        ):
            failures.append(f"{label}: {body}")
    assert failures == [], "\n".join(failures)


# ---------------------------------------------------------------- the HTTP body itself


VIEWER = b'"{ viewer { realm } }"'
MALFORMED_BODIES = {
    "invalid UTF-8 in a string": b'{"query": "{ viewer { realm } }\xff"}',
    "invalid UTF-8 outside strings": b'{"query": "{ viewer { realm } }"}\xc3\x28',
    "only invalid bytes": b"\xff\xfe\xfd",
    "overlong UTF-8 encoding": b'{"query": "{ viewer { realm } }\xc0\xaf"}',
    "encoded surrogate": b'{"query": "{ viewer { realm } }\xed\xa0\x80"}',
    "truncated JSON": b'{"query": "{ viewer',
    "empty body": b"",
    "JSON string": b'"x"',
    "JSON null": b"null",
    "JSON number": b"42",
    "JSON true": b"true",
    "JSON array (batch)": b"[" + b'{"query": ' + VIEWER + b"}]",
    "empty JSON array": b"[]",
    "empty object": b"{}",
    "query as number": b'{"query": 1}',
    "query as list": b'{"query": ["{ viewer { realm } }"]}',
    "query as object": b'{"query": {"a": 1}}',
    "query as boolean": b'{"query": true}',
    "variables as list": b'{"query": ' + VIEWER + b', "variables": []}',
    "variables as string": b'{"query": ' + VIEWER + b', "variables": "x"}',
    "variables as number": b'{"query": ' + VIEWER + b', "variables": 7}',
    "operationName as object": b'{"query": ' + VIEWER + b', "operationName": {}}',
    "operationName as list": b'{"query": ' + VIEWER + b', "operationName": ["a"]}',
    "operationName as number": b'{"query": ' + VIEWER + b', "operationName": 5}',
    "extensions as string": b'{"query": ' + VIEWER + b', "extensions": "x"}',
    "lone surrogate in the query": b'{"query": "{ viewer \\ud800 { realm } }"}',
    "NUL in the query": b'{"query": "{ viewer \\u0000 { realm } }"}',
    "deeply nested JSON": b'{"query": '
    + VIEWER
    + b', "variables": {"a": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}}",
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=list(MALFORMED_BODIES))
async def test_malformed_bodies_get_a_readable_client_error(
    client: GraphQLClient, body: bytes
) -> None:
    # when
    response = await post_bytes(client, body)
    # then
    answer = clear_answer(response)
    assert answer.get("errors") or answer.get("data") == {"viewer": None}, response.text


# ---------------------------------------------------------------- integers


HUGE_INTEGERS = {
    "2**31": "2147483648",
    "-2**31 - 1": "-2147483649",
    "10**30": "1000000000000000000000000000000",
    "1e400": "1e400",
    "max Int": "2147483647",
    "min Int": "-2147483648",
    "negative": "-1",
    "fraction": "1.5",
    "string": '"10"',
}
PAGED = {
    "customers first": "query($n: Int) { customers(first: $n) { totalCount } }",
    "customers last": "query($n: Int) { customers(last: $n) { totalCount } }",
    "domains": "query($n: Int) { domains(first: $n) { totalCount } }",
    "activity": "query($n: Int) { activity(first: $n) { totalCount } }",
    "pending invitations": "query($n: Int) { pendingInvitations(first: $n) { totalCount } }",
    "nested timeline": "query($n: Int) { customers(first: 1) { edges { node { activity(first: $n) { totalCount } } } } }",
}


@pytest.mark.parametrize("query", PAGED.values(), ids=list(PAGED))
async def test_out_of_range_page_sizes_are_refused(
    client: GraphQLClient, partner: PartnerLogin, query: str
) -> None:
    # given: a customer, so that the nested timeline is reached
    await ask(client, CREATE_CUSTOMER, {"input": CUSTOMER}, partner.token)
    failures = []
    for label, number in HUGE_INTEGERS.items():
        as_variable = f'{{"query": {json.dumps(query)}, "variables": {{"n": {number}}}}}'
        inline = re.sub(r"query\(\$n: Int\) ", "", query).replace("$n", number.strip('"'))
        # when
        responses = [
            await post_bytes(client, as_variable.encode(), partner.token),
            await post_json(client, {"query": inline}, partner.token),
        ]
        # then: refused, readably (only "10" as a literal is a fine page size)
        for how, response in zip(("variable", "literal"), responses, strict=True):
            try:
                body = clear_answer(response)
                assert body.get("errors") or (number == '"10"' and how == "literal"), body
                assert codes_of(body, "") <= {"", "VALIDATION"}, body
            except AssertionError as error:
                failures.append(f"{label} as {how}: {first_line(error)}")
    assert failures == [], "\n".join(failures)


async def test_out_of_range_expected_version_is_refused(
    client: GraphQLClient, partner: PartnerLogin
) -> None:
    # given
    created = await ask(client, CREATE_CUSTOMER, {"input": CUSTOMER}, partner.token)
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    query = f'mutation($id: ID!, $v: Int) {{ updateCustomer(id: $id, patch: {{notes: "n"}}, expectedVersion: $v) {{ {ERRORS} }} }}'
    for number in ("2147483648", "-2147483648", "2147483647", "1e400"):
        body = f'{{"query": {json.dumps(query)}, "variables": {{"id": "{customer_id}", "v": {number}}}}}'
        # when
        answer = clear_answer(await post_bytes(client, body.encode(), partner.token))
        # then: refused by GraphQL, or a CONFLICT with the real version
        assert (
            answer.get("errors")
            or answer["data"]["updateCustomer"]["errors"][0]["code"] == "CONFLICT"
        )


# ---------------------------------------------------------------- global ids


def malformed_ids(world: World, expects: str) -> dict[str, str]:
    """Ids that name nothing the caller may use here; `expects` is the type the slot takes."""
    a_customer = pk_of(world.a.first("Customer"))
    wrong_type = "Customer" if expects != "Customer" else "Domain"
    ids = {
        "not base64": "!!!not-base64!!!",
        "empty": "",
        "blank": "   ",
        "base64 of garbage bytes": base64.b64encode(b"\xff\xfe\xfd\x00").decode(),
        "base64 of garbage text": b64("garbage"),
        "no primary key": b64(f"{expects}:"),
        "letters as key": b64(f"{expects}:abc"),
        "negative key": b64(f"{expects}:-1"),
        "fractional key": b64(f"{expects}:1.5"),
        "key with space": b64(f"{expects}: {a_customer}"),
        "key with NUL": b64(f"{expects}:{a_customer}\x00"),
        "key beyond int32": b64(f"{expects}:2147483648"),
        "key of 18 digits": b64(f"{expects}:999999999999999999"),
        "key of 40 digits": b64(f"{expects}:" + "9" * 40),
        "raw primary key": str(a_customer),
        "unknown type": b64(f"Password:{a_customer}"),
        "unicode": "Kündé:1",
        "very long": "A" * 20_000,
    }
    if expects != "Node":  # node() takes every type
        ids["wrong type (an own object)"] = world.a.first(wrong_type)
    return ids


@dataclass(frozen=True)
class IdUse:
    name: str
    query: str
    operation: str
    # Fills the other variables from the world: a caller's own objects.
    variables: Any
    expects: str  # the type the id must name ("Node": any)
    token: str = "partner"


ID_USES = [
    IdUse(
        "customer",
        "query($id: ID!) { customer(id: $id) { id } }",
        "customer",
        lambda w, i: {"id": i},
        "Customer",
    ),
    IdUse(
        "node", "query($id: ID!) { node(id: $id) { id } }", "node", lambda w, i: {"id": i}, "Node"
    ),
    IdUse(
        "inquiry",
        "query($id: ID!) { inquiry(id: $id) { id } }",
        "inquiry",
        lambda w, i: {"id": i},
        "Inquiry",
    ),
    IdUse(
        "invitation",
        "query($id: ID!) { invitation(id: $id) { id } }",
        "invitation",
        lambda w, i: {"id": i},
        "AccessInvitation",
    ),
    IdUse(
        "domains filter",
        "query($id: ID) { domains(filter: {customerId: $id}) { totalCount } }",
        "domains",
        lambda w, i: {"id": i},
        "Customer",
    ),
    IdUse(
        "updateCustomer",
        f'mutation($id: ID!) {{ updateCustomer(id: $id, patch: {{notes: "n"}}) {{ customer {{ id }} {ERRORS} }} }}',
        "updateCustomer",
        lambda w, i: {"id": i},
        "Customer",
    ),
    IdUse(
        "archiveCustomer",
        f"mutation($id: ID!) {{ archiveCustomer(id: $id) {{ customer {{ id }} {ERRORS} }} }}",
        "archiveCustomer",
        lambda w, i: {"id": i},
        "Customer",
    ),
    IdUse(
        "assignItem item",
        f"mutation($id: ID!, $c: ID) {{ assignItem(input: {{itemId: $id, customerId: $c}}) {{ item {{ id }} {ERRORS} }} }}",
        "assignItem",
        lambda w, i: {"id": i, "c": w.a.first("Customer")},
        "Domain",
    ),
    IdUse(
        "assignItem customer",
        f"mutation($i: ID!, $id: ID) {{ assignItem(input: {{itemId: $i, customerId: $id}}) {{ item {{ id }} {ERRORS} }} }}",
        "assignItem",
        lambda w, i: {"i": w.a.first("Domain"), "id": i},
        "Customer",
    ),
    IdUse(
        "createTask assignee",
        f'mutation($id: ID) {{ createTask(input: {{title: "T", assigneeId: $id}}) {{ task {{ id }} {ERRORS} }} }}',
        "createTask",
        lambda w, i: {"id": i},
        "PartnerMember",
    ),
    IdUse(
        "convertInquiry existing customer",
        f"mutation($i: ID!, $id: ID!) {{ convertInquiry(input: {{inquiryId: $i, target: {{existingCustomerId: $id}}}}) {{ customer {{ id }} {ERRORS} }} }}",
        "convertInquiry",
        lambda w, i: {"i": w.a.first("Inquiry"), "id": i},
        "Customer",
    ),
    IdUse(
        "connectCustomer existing customer",
        f"mutation($i: ID!, $id: ID!) {{ connectCustomer(input: {{invitationId: $i, target: {{existingCustomerId: $id}}}}) {{ customer {{ id }} {ERRORS} }} }}",
        "connectCustomer",
        lambda w, i: {"i": w.a.first("AccessInvitation"), "id": i},
        "Customer",
    ),
    IdUse(
        "declineInvitation",
        f"mutation($id: ID!) {{ declineInvitation(input: {{invitationId: $id}}) {{ email {{ id }} {ERRORS} }} }}",
        "declineInvitation",
        lambda w, i: {"id": i},
        "AccessInvitation",
    ),
    IdUse(
        "withdrawInvitation",
        f"mutation($id: ID!) {{ withdrawInvitation(input: {{invitationId: $id}}) {{ invitation {{ id }} {ERRORS} }} }}",
        "withdrawInvitation",
        lambda w, i: {"id": i},
        "AccessInvitation",
        token="account",
    ),
]


@pytest.mark.parametrize("use", ID_USES, ids=lambda use: use.name)
async def test_malformed_global_ids_are_not_found(
    client: GraphQLClient, world: World, use: IdUse
) -> None:
    # given
    token = world.a.requesters[0].token if use.token == "account" else world.a.token
    failures = []
    for label, malformed in malformed_ids(world, use.expects).items():
        # when
        try:
            body = await ask(client, use.query, use.variables(world, malformed), token)
        except AssertionError as error:
            failures.append(f"{label} ({malformed[:40]!r}): {first_line(error)}")
            continue
        # then: NOT_FOUND, or (for a lookup) nothing
        if not (
            found_nothing(body, use.operation) or codes_of(body, use.operation) == {"NOT_FOUND"}
        ):
            failures.append(f"{label} ({malformed[:40]!r}): {json.dumps(body)[:300]}")
    assert failures == [], "\n".join(failures)


# ---------------------------------------------------------------- cursors


LISTS = {
    "customers": "customers",
    "domains": "domains",
    "contracts": "contracts",
    "tasks": "tasks",
    "inquiries": "inquiries",
    "invitations": "invitations",
    "pendingInvitations": "pendingInvitations",
    "activity": "activity",
}


def tampered_cursors(real: str, other: str) -> dict[str, str]:
    """Variations of a real cursor, made without knowing its format beyond base64url."""
    text = unb64url(real)
    return {
        "extra character": real + "x",
        "cut short": real[: len(real) // 2],
        "not base64": "!!!",
        "empty": "",
        "padding only": "=",
        "very long": "A" * 20_000,
        "base64 of garbage": b64url("garbage"),
        "base64 of JSON object": b64url('{"id": 1}'),
        "base64 of JSON array": b64url("[1, 2]"),
        "base64 of invalid UTF-8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        "lone surrogate": b64url("\udcff"),
        "numbers made huge": b64url(re.sub(r"\d+", "9" * 40, text)),
        "numbers made 2**31": b64url(re.sub(r"\d+", str(2**31), text)),
        "numbers made 2**63": b64url(re.sub(r"\d+", str(2**63), text)),
        "numbers made negative": b64url(re.sub(r"\d+", "-1", text)),
        "numbers made fractions": b64url(re.sub(r"\d+", "1.5", text)),
        "NUL appended": b64url(text + "\x00"),
        "NUL prepended": b64url("\x00" + text),
        "signature upper-cased": b64url(text.upper()),
        "signature names another column": b64url(re.sub(r"^[\w,-]+", "password_hash", text)),
        "reversed": b64url(text[::-1]),
        "halved": b64url(text[: len(text) // 2]),
        "from another list": other,
    }


@pytest.mark.parametrize("list_name", LISTS.values())
async def test_tampered_cursors_are_refused_or_page_normally(
    client: GraphQLClient, world: World, list_name: str
) -> None:
    # given: a real cursor of this list and one of another list
    first_page = f"{{ {list_name}(first: 1) {{ pageInfo {{ endCursor }} }} activity(first: 1) {{ pageInfo {{ endCursor }} }} customers(first: 1) {{ pageInfo {{ endCursor }} }} }}"
    pages = await client.gql(first_page, token=world.a.token)
    real = pages[list_name]["pageInfo"]["endCursor"]
    assert real, f"the world has no {list_name} to page through"
    other_list = "customers" if list_name == "activity" else "activity"
    other = pages[other_list]["pageInfo"]["endCursor"]
    queries = [
        f"query($c: String) {{ {list_name}(first: 2, after: $c) {{ totalCount edges {{ cursor node {{ id }} }} }} }}",
        f"query($c: String) {{ {list_name}(first: 2, after: $c) {{ edges {{ node {{ __typename }} }} }} }}",
    ]
    if list_name == "customers":
        queries.append("query($c: String) { customers(last: 2, before: $c) { edges { cursor } } }")
    failures = []
    for label, cursor in tampered_cursors(real, other).items():
        for query in queries:
            # when
            response = await post_json(
                client, {"query": query, "variables": {"c": cursor}}, world.a.token
            )
            # then: a VALIDATION error naming the argument, or an ordinary page
            try:
                body = clear_answer(response)
                if body.get("errors"):
                    assert codes_of(body, "") == {"VALIDATION"}, body
            except AssertionError as error:
                failures.append(f"{label} ({query[:50]}): {first_line(error)}")
    assert failures == [], "\n".join(failures)


# ---------------------------------------------------------------- dates and times


@pytest.mark.parametrize(
    "rendered_at",
    [
        "2026-01-01T00:00:00",  # no offset
        "2026-01-01",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00+00:00",
        "2026-13-45T99:99:99+00:00",
        "yesterday",
    ],
)
async def test_odd_form_timestamps_on_inquiries_get_a_clear_answer(
    client: GraphQLClient, partner: PartnerLogin, rendered_at: str
) -> None:
    # given
    variables = {"input": {**INQUIRY, "partnerSlug": partner.slug, "renderedAt": rendered_at}}
    # when
    body = await ask(client, SUBMIT_INQUIRY, variables, None)
    # then: accepted (the time trap decides silently), or refused with a readable error
    assert body.get("errors") or body["data"]["submitInquiry"]["errors"] == [], body


@pytest.mark.parametrize(
    "day", ["2026-02-30", "0000-01-01", "10000-01-01", "2026-1-1", "", "2026-01-01T00:00:00"]
)
async def test_odd_dates_on_contracts_get_a_clear_answer(
    client: GraphQLClient, partner: PartnerLogin, day: str
) -> None:
    # when
    body = await ask(
        client, CREATE_CONTRACT, {"input": {"product": "Hosting", "startsOn": day}}, partner.token
    )
    # then
    assert body.get("errors") or codes_of(body, "createContract") == {"VALIDATION"}, body


async def test_decline_message_over_two_thousand_characters_is_refused(
    client: GraphQLClient, world: World
) -> None:
    # given
    query = f"mutation($i: ID!, $m: String) {{ declineInvitation(input: {{invitationId: $i, personalMessage: $m}}) {{ email {{ id }} {ERRORS} }} }}"
    variables = {"i": world.a.first("AccessInvitation"), "m": "x" * 2001}
    # when
    body = await ask(client, query, variables, world.a.token)
    # then
    assert codes_of(body, "declineInvitation") == {"VALIDATION"}, body
