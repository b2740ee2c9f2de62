"""Tenant isolation, generated from the schema rather than from a hand list.

Every Query and Mutation field is walked; every argument or (nested) input field of
type ID becomes an "id slot". For each slot, partner A sends the operation with partner
B's ids (as global ids and as raw primary keys) and with ids that do not exist. Every
answer must be NOT_FOUND or empty, and B's answer must be byte-identical to the missing
one: nobody may learn that B's object exists. B's rows are hashed before and after.

A new operation, argument or id field that the generator cannot build fails the suite
loudly (`pytest.fail`), so nothing new slips past unchecked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    is_required_input_field,
)
from tortoise import Tortoise
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.account import AccountHolder
from models.auth import AuthToken
from models.customer import Customer
from models.dev_mail import DevMailMessage
from models.housekeeping import HousekeepingRun
from models.identity import IdentityToken, PasswordResetRequest
from models.invitation import AccessInvitation
from models.notification import DigestEntry, NotificationWindow
from models.outbox import EmailDelivery
from models.partner import Partner, PartnerMember
from resolvers.permissions import MUTATION_AUDIENCES, Audience
from schema import create_schema
from schema.ids import parse_global_id, to_global_id
from tests.factories import PartnerData, World, build_world, pk_of
from tests.support import GraphQLClient

SCHEMA: GraphQLSchema = create_schema()._schema
MISSING_PK = 999_999

# Which object an id names, by the name of the argument or input field...
ID_TYPES_BY_FIELD: dict[str, tuple[str, ...]] = {
    "customerId": ("Customer",),
    "existingCustomerId": ("Customer",),
    "itemId": ("Domain", "Contract", "Task"),
    "inquiryId": ("Inquiry",),
    "invitationId": ("AccessInvitation",),
    "assigneeId": ("PartnerMember",),
    "memberId": ("PartnerMember",),
    "memberInvitationId": ("MemberInvitation",),
    "endpointId": ("WebhookEndpoint",),
    "deliveryId": ("WebhookDelivery",),
}
# ...and, for a bare `id` argument, by the operation.
ID_TYPES_BY_OPERATION: dict[str, tuple[str, ...]] = {
    "customer": ("Customer",),
    "updateCustomer": ("Customer",),
    "archiveCustomer": ("Customer",),
    "restoreCustomer": ("Customer",),
    "updateTask": ("Task",),
    "updateDomain": ("Domain",),
    "updateContract": ("Contract",),
    "deleteItem": ("Domain", "Contract", "Task"),
    "customerImport": ("CustomerImport",),
    "inquiry": ("Inquiry",),
    "invitation": ("AccessInvitation",),
}
# Operations a visitor may call (DESIGN.md, "Actors"), and those that need no realm.
PUBLIC_OPERATIONS = {
    "partnerProfile",
    "submitInquiry",
    "registerPartner",
    "registerAccount",
    "login",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
    "acceptMemberInvitation",
}
ANY_REALM_OPERATIONS = {
    "node",
    "viewer",
    "logout",
    "resendVerificationEmail",
    "changePassword",
    "logoutEverywhere",
}
# Queries for account holders only (for mutations, resolvers/permissions.py says who).
ACCOUNT_QUERIES = {"myInvitations"}
# Operations that take a file (multipart requests): tests/test_import.py checks who may call
# them; the JSON requests built here cannot carry one.
UPLOAD_OPERATIONS = {"importCustomers"}

# Plausible values for required non-id inputs: by input field name first, then by type.
VALUES_BY_NAME: dict[str, Any] = {
    "name": "isolation-probe.example",  # a valid domain name and a valid person name
    "email": "isolation-probe@example.com",
    "password": "isolation probe password",
    "amount": "10.00",
    "currency": "EUR",
}
VALUES_BY_SCALAR: dict[str, Any] = {
    "String": "Isolation probe",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2026-01-01",
    "DateTime": "2026-01-01T00:00:00+00:00",
}
NOT_FOUND = "NOT_FOUND"
DENIED = {"FORBIDDEN", "UNAUTHENTICATED"}


def node_types() -> tuple[str, ...]:
    node = SCHEMA.type_map["Node"]
    return tuple(
        sorted(
            name
            for name, type_ in SCHEMA.type_map.items()
            if isinstance(type_, GraphQLObjectType) and node in type_.interfaces
        )
    )


# ---------------------------------------------------------------- operations from the schema


@dataclass(frozen=True)
class IdSlot:
    """One place in an operation's variables that holds an id, and what it names."""

    path: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def label(self) -> str:
        return ".".join(self.path)


@dataclass
class Operation:
    kind: str  # "query" or "mutation"
    name: str
    definition: GraphQLField
    slots: list[IdSlot] = field(default_factory=list)

    @property
    def realm(self) -> str:
        """Who may call it: ACCOUNT, PARTNER, PUBLIC or ANY (from the schema)."""
        if self.name in PUBLIC_OPERATIONS:
            return "PUBLIC"
        if self.name in ANY_REALM_OPERATIONS:
            return "ANY"
        if self.kind == "mutation":
            if MUTATION_AUDIENCES[self.name] == Audience.ACCOUNT_HOLDER:
                return "ACCOUNT"
        elif self.name in ACCOUNT_QUERIES:
            return "ACCOUNT"
        return "PARTNER"


def _id_types(operation: str, name: str) -> tuple[str, ...]:
    if operation == "node" and name == "id":
        return node_types()
    if name == "id" and operation in ID_TYPES_BY_OPERATION:
        return ID_TYPES_BY_OPERATION[operation]
    if name in ID_TYPES_BY_FIELD:
        return ID_TYPES_BY_FIELD[name]
    pytest.fail(
        f"{operation}: id argument/field {name!r} names an unknown type; "
        "map it in ID_TYPES_BY_FIELD or ID_TYPES_BY_OPERATION"
    )


def is_one_of(type_: GraphQLInputObjectType) -> bool:
    # Strawberry enforces @oneOf itself; graphql-core's flag stays False on its types.
    definition = (type_.extensions or {}).get("strawberry-definition")
    return type_.is_one_of or bool(getattr(definition, "is_one_of", False))


def _contains_id(type_: GraphQLType, seen: frozenset[str] = frozenset()) -> bool:
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType):
        return named.name == "ID"
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        return any(_contains_id(f.type, seen | {named.name}) for f in named.fields.values())
    return False


def _walk_ids(
    operation: str, type_: GraphQLInputType, path: tuple[str, ...], slots: list[IdSlot]
) -> None:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        if _contains_id(type_):
            pytest.fail(f"{operation}: ids inside a list at {'.'.join(path)} are not generated yet")
        return
    if isinstance(type_, GraphQLScalarType) and type_.name == "ID":
        slots.append(IdSlot(path, _id_types(operation, path[-1])))
    elif isinstance(type_, GraphQLInputObjectType):
        for name, input_field in type_.fields.items():
            _walk_ids(operation, input_field.type, (*path, name), slots)


def all_operations() -> list[Operation]:
    operations = []
    for kind, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        for name, root_field in root.fields.items():
            operation = Operation(kind, name, root_field)
            for arg_name, arg in root_field.args.items():
                _walk_ids(name, arg.type, (arg_name,), operation.slots)
            operations.append(operation)
    return operations


def test_no_field_below_the_roots_takes_an_id_argument() -> None:
    # The generator visits root fields only; an id argument deeper down needs extending it.
    for type_ in SCHEMA.type_map.values():
        if type_.name.startswith("__") or type_ in (SCHEMA.query_type, SCHEMA.mutation_type):
            continue
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for name, object_field in type_.fields.items():
                for arg_name, arg in object_field.args.items():
                    assert not _contains_id(arg.type), f"{type_.name}.{name}({arg_name}:)"


# ---------------------------------------------------------------- documents and variables


def selection(type_: GraphQLType, depth: int) -> str:
    """A selection set for any output type: ids and typenames, every argument-free field
    down to `depth`, and always `errors { code message field }` on payloads."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if named.name == "UserError":
        return "{ code message field }"
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        pytest.fail(f"no selection rule for {named}")
    parts = ["__typename"]
    if "id" in named.fields:
        parts.append("id")
    if depth > 0 or "errors" in named.fields:
        for name, child in named.fields.items():
            if name == "id" or any(is_required_argument(arg) for arg in child.args.values()):
                continue
            if is_leaf_type(get_named_type(child.type)):
                parts.append(name)
            elif depth > 0 or name == "errors":
                parts.append(f"{name} {selection(child.type, max(depth - 1, 0))}")
    return "{ " + " ".join(parts) + " }"


def document(operation: Operation, variables: dict[str, Any], depth: int = 2) -> str:
    args = {name: arg for name, arg in operation.definition.args.items() if name in variables}
    definitions = ", ".join(f"${name}: {arg.type}" for name, arg in args.items())
    call = ", ".join(f"{name}: ${name}" for name in args)
    head = f"{operation.kind} Probe({definitions})" if definitions else operation.kind
    field_call = f"{operation.name}({call})" if call else operation.name
    return f"{head} {{ {field_call} {selection(operation.definition.type, depth)} }}"


@dataclass
class VariableBuilder:
    """Minimal valid variables: required inputs get plausible values, id slots get ids."""

    operation: Operation
    ids: dict[tuple[str, ...], Any]  # slot path -> the id to send there
    own: dict[str, str]  # type name -> one of the caller's own ids, for required id slots
    texts: dict[str, Any]

    def build(self) -> dict[str, Any]:
        variables: dict[str, Any] = {}
        for name, arg in self.operation.definition.args.items():
            if self._wanted(arg, (name,)):
                variables[name] = self._value(arg.type, (name,))
        return variables

    def _wanted(self, arg: GraphQLArgument | GraphQLInputField, path: tuple[str, ...]) -> bool:
        required = (
            is_required_argument(arg)
            if isinstance(arg, GraphQLArgument)
            else is_required_input_field(arg)
        )
        return required or any(slot[: len(path)] == path for slot in self.ids)

    def _value(self, type_: GraphQLInputType, path: tuple[str, ...]) -> Any:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return [self._value(type_.of_type, path)]
        if isinstance(type_, GraphQLInputObjectType):
            return self._object(type_, path)
        if isinstance(type_, GraphQLEnumType):
            return next(iter(type_.values))
        assert isinstance(type_, GraphQLScalarType)
        if type_.name == "ID":
            if path in self.ids:
                return self.ids[path]
            slot_types = _id_types(self.operation.name, path[-1])
            return self.own[slot_types[0]]
        if path[-1] in self.texts:
            return self.texts[path[-1]]
        if type_.name in VALUES_BY_SCALAR:
            return VALUES_BY_SCALAR[type_.name]
        pytest.fail(f"{self.operation.name}: no plausible value for {type_.name} at {path}")

    def _object(self, type_: GraphQLInputObjectType, path: tuple[str, ...]) -> dict[str, Any]:
        if is_one_of(type_):
            # Exactly one field: the one leading to the slot under test, else an id field
            # (filled with the caller's own id), else the first.
            names = list(type_.fields)
            chosen = next(
                (n for n in names if any(s[: len(path) + 1] == (*path, n) for s in self.ids)),
                next((n for n in names if _contains_id(type_.fields[n].type)), names[0]),
            )
            return {chosen: self._value(type_.fields[chosen].type, (*path, chosen))}
        return {
            name: self._value(input_field.type, (*path, name))
            for name, input_field in type_.fields.items()
            if self._wanted(input_field, (*path, name))
        }


# ---------------------------------------------------------------- answers


def outcome(body: dict[str, Any], operation: str) -> str:
    """What an answer tells the caller: "not_found", "empty", a denial code, or "data"."""
    errors = body.get("errors") or []
    data = body.get("data")
    value = data.get(operation) if isinstance(data, dict) else None
    if errors:
        codes = {(error.get("extensions") or {}).get("code") for error in errors}
        if value is not None or len(codes) != 1:
            return f"data with errors {codes}"
        (code,) = codes
        return "not_found" if code == NOT_FOUND else str(code)
    if value is None or value == [] or value == 0:
        return "empty"
    if isinstance(value, dict) and "errors" in value:
        payload_errors = value["errors"]
        leaked = {
            key for key, item in value.items() if key not in {"errors", "__typename"} and item
        }
        codes = {error["code"] for error in payload_errors}
        if leaked or len(codes) != 1:
            return f"data {sorted(leaked)} with payload errors {codes}"
        (code,) = codes
        return "not_found" if code == NOT_FOUND else str(code)
    if isinstance(value, dict) and "edges" in value:
        return "empty" if not value["edges"] and not value.get("totalCount") else "data"
    return "data"


def normalized(text: str, sent_id: str) -> str:
    """The answer with the id we sent (if echoed as a value) replaced by a placeholder."""
    return text.replace(json.dumps(sent_id), '"<ID>"')


@dataclass
class Prober:
    client: GraphQLClient
    cases: int = 0

    async def send(
        self, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[str, dict[str, Any]]:
        self.cases += 1
        response = await self.client.post(query, variables, token)
        assert response.status_code == 200, (query, variables, response.text)
        assert "Internal server error" not in response.text, (query, variables, response.text)
        return response.text, response.json()


# ---------------------------------------------------------------- B's rows


async def b_row_hashes(world: World) -> dict[str, str]:
    """A hash of every table's rows that belong to B, table by table."""
    b = world.b.partner_pk
    members = await PartnerMember.filter(partner_id=b).values_list("id", flat=True)
    accounts = await AccessInvitation.filter(partner_id=b).values_list("account_id", flat=True)
    hashes = {}
    for model in Tortoise.apps["partnerdesk"].values():
        columns = model._meta.db_fields
        query: QuerySet[Any]
        if model is Partner:
            query = model.filter(id=b)
        elif "partner_id" in columns:
            query = model.filter(partner_id=b)
        elif model is AccountHolder:
            query = model.filter(id__in=list(accounts))
        elif model in (AuthToken, IdentityToken):
            query = model.filter(Q(member_id__in=list(members)) | Q(account_id__in=list(accounts)))
        elif model in (NotificationWindow, DigestEntry):
            query = model.filter(member_id__in=list(members))
        elif model is PasswordResetRequest:
            query = model.filter(email=world.b.login.email)
        elif model is DevMailMessage:  # the development mailbox: B's e-mails, once delivered
            emails = await EmailDelivery.filter(partner_id=b).values_list("id", flat=True)
            query = model.filter(delivery_id__in=list(emails))
        elif model is HousekeepingRun:
            continue  # when periodic jobs ran: no partner's data
        else:
            pytest.fail(f"table {model._meta.db_table}: no rule says which of its rows are B's")
        rows = await query.order_by(model._meta.pk_attr).values()
        # Digest entries need a burst of notifications, more than the world makes; no worker
        # runs here, so nothing reached the development mailbox.
        assert rows or model in (AuthToken, DigestEntry, DevMailMessage), (
            f"the world has no {model.__name__} row of B's"
        )
        raw = json.dumps(rows, default=str, sort_keys=True)
        hashes[model._meta.db_table] = (
            f"{len(rows)} rows, sha256 {hashlib.sha256(raw.encode()).hexdigest()}"
        )
    return hashes


async def b_global_ids(world: World) -> set[str]:
    """Global ids of every object of B's, of every Node type, straight from the tables."""
    b = world.b.partner_pk
    accounts: list[Any] = await AccessInvitation.filter(partner_id=b).values_list(
        "account_id", flat=True
    )
    models = Tortoise.apps["partnerdesk"]
    found: set[str] = {to_global_id("Partner", b)}
    found |= {to_global_id("AccountHolder", int(pk)) for pk in accounts}
    for type_name in node_types():
        model = models.get(type_name)
        if model is not None and "partner_id" in model._meta.db_fields:
            pks = await model.filter(partner_id=b).values_list("id", flat=True)
            found |= {to_global_id(type_name, int(pk)) for pk in pks}
    return found


def ids_in(value: Any) -> Iterator[str]:
    """Every string in a response that is a global id of one of our types."""
    if isinstance(value, dict):
        for item in value.values():
            yield from ids_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from ids_in(item)
    elif isinstance(value, str):
        parsed = parse_global_id(value)
        if parsed is not None and parsed[0] in SCHEMA.type_map:
            yield value


# ---------------------------------------------------------------- the suites


@pytest.fixture
async def world(client: GraphQLClient) -> World:
    return await build_world(client)


def texts_for(data: PartnerData) -> dict[str, Any]:
    return {**VALUES_BY_NAME, "partnerSlug": data.login.slug, "slug": data.login.slug}


def own_ids(data: PartnerData) -> dict[str, str]:
    return {type_name: ids[0] for type_name, ids in data.ids.items()}


@dataclass
class Attacker:
    label: str
    token: str
    own: dict[str, str]
    texts: dict[str, Any]
    # What may come back; a denial is fine where it is the same for every id.
    allowed: frozenset[str] = frozenset({"not_found", "empty"})


def attackers_for(operation: Operation, world: World, outsider_invitation: str) -> list[Attacker]:
    """Partner A for partner operations; the outsider account for account-realm ones (its own
    invitation fills required slots); both for operations open to every realm (`node`)."""
    partner_a = Attacker("partner A", world.a.token, own_ids(world.a), texts_for(world.a))
    outsider = Attacker(
        "outsider account",
        world.outsider.token,
        {"AccountHolder": world.outsider.account_id, "AccessInvitation": outsider_invitation},
        texts_for(world.a),
    )
    if operation.realm == "ACCOUNT":
        return [outsider]
    if operation.realm == "ANY":
        outsider.allowed = outsider.allowed | DENIED
        return [partner_a, outsider]
    return [partner_a]


async def _outsider_invitation(client: GraphQLClient, world: World) -> str:
    data = await client.gql("{ myInvitations { id } }", token=world.outsider.token)
    return data["myInvitations"][0]["id"]


async def test_partner_a_cannot_tell_b_objects_from_missing_ones(
    client: GraphQLClient, world: World
) -> None:
    # given
    operations = [operation for operation in all_operations() if operation.slots]
    b_ids = world.b.ids
    hashes_before = await b_row_hashes(world)
    outsider_invitation = await _outsider_invitation(client, world)
    prober = Prober(client)
    failures: list[str] = []
    # when
    for operation in operations:
        for attacker in attackers_for(operation, world, outsider_invitation):
            for slot in operation.slots:
                for type_name in slot.types:
                    victims = b_ids.get(type_name)
                    assert victims, f"the world has no {type_name} of B's for {operation.name}"
                    variants = [
                        ("global id", to_global_id(type_name, MISSING_PK), victims),
                        ("raw id", str(MISSING_PK), [str(pk_of(v)) for v in victims]),
                    ]
                    for variant, missing_id, victim_ids in variants:
                        base = VariableBuilder(
                            operation, {slot.path: missing_id}, attacker.own, attacker.texts
                        ).build()
                        query = document(operation, base)
                        missing_text, missing_body = await prober.send(query, base, attacker.token)
                        missing_outcome = outcome(missing_body, operation.name)
                        where = f"{operation.name}({slot.label}) as {attacker.label}, {type_name} {variant}"
                        if missing_outcome not in attacker.allowed:
                            failures.append(f"{where}: missing id gave {missing_body}")
                        for victim in victim_ids:
                            variables = VariableBuilder(
                                operation, {slot.path: victim}, attacker.own, attacker.texts
                            ).build()
                            text, body = await prober.send(query, variables, attacker.token)
                            if outcome(body, operation.name) not in attacker.allowed:
                                failures.append(f"{where}: B's {victim} gave {body}")
                            elif normalized(text, victim) != normalized(missing_text, missing_id):
                                failures.append(
                                    f"{where}: B's {victim} answered {text}, missing {missing_text}"
                                )
    hashes_after = await b_row_hashes(world)
    # then
    print(f"isolation cases: cross-tenant {prober.cases}")
    assert failures == [], "\n".join(failures)
    assert hashes_after == hashes_before
    assert prober.cases >= 400  # 456 with the world of tests/factories.py


def realm_cases(world: World) -> Iterator[tuple[Operation, dict[str, Any]]]:
    """Each operation that needs a realm, with variables naming the caller-side objects of
    A (so that an unguarded operation would act or answer with data)."""
    a_ids = own_ids(world.a)
    for operation in all_operations():
        if operation.realm not in {"PARTNER", "ACCOUNT"} or operation.name in UPLOAD_OPERATIONS:
            continue
        ids = {slot.path: a_ids[slot.types[0]] for slot in operation.slots}
        yield operation, VariableBuilder(operation, ids, a_ids, texts_for(world.a)).build()


async def test_account_holders_and_visitors_get_no_partner_data(
    client: GraphQLClient, world: World
) -> None:
    # given
    account = world.a.requesters[0]  # A's own requester: the closest an account gets to A
    prober = Prober(client)
    failures: list[str] = []
    tried = set()
    # when
    for operation, variables in realm_cases(world):
        query = document(operation, variables)
        callers: list[tuple[str, str | None, set[str]]] = [("visitor", None, {"UNAUTHENTICATED"})]
        if operation.realm == "PARTNER":
            callers.append(("account holder", account.token, DENIED))
        else:
            callers.append(("partner member", world.a.token, DENIED))
            callers.append(("second member", world.a.member_token, DENIED))
        for label, token, allowed in callers:
            _text, body = await prober.send(query, variables, token)
            answer = outcome(body, operation.name)
            tried.add(operation.name)
            if answer not in allowed:
                failures.append(f"{operation.name} as {label}: {answer}: {body}")
    # then
    print(f"isolation cases: realms {prober.cases}")
    assert failures == [], "\n".join(failures)
    assert {"customers", "createCustomer", "declineInvitation", "withdrawInvitation"} <= tried
    assert prober.cases >= 60  # 66 today


async def test_node_gives_visitors_and_account_holders_no_partner_objects(
    client: GraphQLClient, world: World
) -> None:
    # given
    query = "query($id: ID!) { node(id: $id) { __typename id } }"
    account_types = {"AccountHolder", "AccessInvitation"}  # an account's own objects
    prober = Prober(client)
    failures = []
    # when
    for type_name, ids in world.a.ids.items():
        for global_id in ids:
            _text, anonymous = await prober.send(query, {"id": global_id}, None)
            if outcome(anonymous, "node") not in {"UNAUTHENTICATED", "empty"}:
                failures.append(f"visitor: node({type_name}) gave {anonymous}")
            if type_name in account_types:
                continue
            _text, body = await prober.send(query, {"id": global_id}, world.outsider.token)
            if outcome(body, "node") not in {*DENIED, "empty"}:
                failures.append(f"account holder: node({type_name}) gave {body}")
    # then
    print(f"isolation cases: node realms {prober.cases}")
    assert failures == [], "\n".join(failures)
    assert prober.cases >= 70  # 78 today


def list_queries() -> list[Operation]:
    return [
        operation
        for operation in all_operations()
        if operation.kind == "query"
        and not any(is_required_argument(arg) for arg in operation.definition.args.values())
    ]


async def test_lists_as_a_show_none_of_b_ids(client: GraphQLClient, world: World) -> None:
    # given
    b_ids = await b_global_ids(world)
    b_customer = await Customer.filter(partner_id=world.b.partner_pk).order_by("id").first()
    assert b_customer is not None and b_customer.email and b_customer.last_name
    searches: dict[str, dict[str, Any]] = {
        "customers": {"filter": {"search": b_customer.last_name}},
        "customerMatches": {"email": b_customer.email, "name": b_customer.display_name},
        "domains": {"filter": {"search": "b"}},
        "tasks": {"filter": {"search": "SSL"}},
        "contracts": {"filter": {"search": "Hosting"}},
    }
    prober = Prober(client)
    seen_a = set()
    leaks = []
    # when
    for operation in list_queries():
        # a connection's nodes sit two levels down; go one further into them
        returned = get_named_type(operation.definition.type)
        depth = 3 if isinstance(returned, GraphQLObjectType) and "edges" in returned.fields else 2
        for extra in [{}, *([searches[operation.name]] if operation.name in searches else [])]:
            variables: dict[str, Any] = dict(extra)
            if "first" in operation.definition.args:
                variables["first"] = 100
            for token in (world.a.token, world.a.member_token):
                _text, body = await prober.send(
                    document(operation, variables, depth), variables, token
                )
                if operation.realm != "ACCOUNT":
                    assert not body.get("errors"), (operation.name, body["errors"])
                found = set(ids_in(body.get("data")))
                leaks += [f"{operation.name}{variables}: {leak}" for leak in found & b_ids]
                seen_a |= found
    # then
    print(f"isolation cases: lists {prober.cases}")
    assert leaks == []
    for list_name in ("Customer", "Domain", "Contract", "Task", "Inquiry", "AccessInvitation"):
        assert set(world.a.ids[list_name]) & seen_a, f"A's own {list_name} list came back empty"
    assert len(b_ids) > 30
