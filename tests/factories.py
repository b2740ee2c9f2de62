"""A two-partner world, built through the API, for the isolation and fuzzing suites.

Partner A and partner B each get a webhook endpoint (registered first, so every change below
queues a delivery for it), customers (one archived), a domain, a contract and a
task assigned to a customer and to a second team member, inquiries (one NEW, one
converted, one dismissed), and access authorizations from their own account holders:
one pending, one declined (with its queued decline e-mail) and one connected; a pending
member invitation and a password-reset request of the owner, a CSV dry run and an export
link. Every
change leaves its activity events. Account holders are never shared between the two
partners, so "B's account holder" is invisible to A by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.outbox import EmailDelivery
from models.partner import MemberRole, PartnerMember
from resolvers.passwords import hash_password
from schema.ids import parse_global_id, to_global_id
from tests.imports import EXPORT, send_import
from tests.support import (
    AccountLogin,
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
    unique,
)

ERRORS = "errors { code message field }"
ARCHIVE_CUSTOMER = (
    f"mutation($id: ID!) {{ archiveCustomer(id: $id) {{ customer {{ id }} {ERRORS} }} }}"
)
CREATE_DOMAIN = f"mutation($input: DomainInput!) {{ createDomain(input: $input) {{ domain {{ id }} {ERRORS} }} }}"
CREATE_CONTRACT = f"mutation($input: ContractInput!) {{ createContract(input: $input) {{ contract {{ id }} {ERRORS} }} }}"
CREATE_TASK = (
    f"mutation($input: TaskInput!) {{ createTask(input: $input) {{ task {{ id }} {ERRORS} }} }}"
)
SUBMIT_INQUIRY = f"mutation($input: SubmitInquiryInput!) {{ submitInquiry(input: $input) {{ accepted {ERRORS} }} }}"
INQUIRY_IDS = "{ inquiries(first: 100) { edges { node { id } } } }"
CONVERT_INQUIRY = f"mutation($input: ConvertInquiryInput!) {{ convertInquiry(input: $input) {{ customer {{ id }} {ERRORS} }} }}"
DISMISS_INQUIRY = f"mutation($input: DismissInquiryInput!) {{ dismissInquiry(input: $input) {{ inquiry {{ id }} {ERRORS} }} }}"
SEND_INVITATION = f"""
mutation($input: SendAccessInvitationInput!) {{
  sendAccessInvitation(input: $input) {{ invitation {{ id }} {ERRORS} }}
}}"""
CREATE_WEBHOOK_ENDPOINT = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ endpoint {{ id }} secret {ERRORS} }}
}}"""
WEBHOOK_DELIVERY_IDS = """
{ viewer { member { partner { webhookEndpoints { id deliveries(first: 100) { edges { node { id } } } } } } } }"""
CONNECT = f"mutation($input: ConnectCustomerInput!) {{ connectCustomer(input: $input) {{ customer {{ id }} {ERRORS} }} }}"
INVITE_MEMBER = f"mutation($input: InviteMemberInput!) {{ inviteMember(input: $input) {{ memberInvitation {{ id }} {ERRORS} }} }}"
REQUEST_RESET = f"mutation($input: RequestPasswordResetInput!) {{ requestPasswordReset(input: $input) {{ ok {ERRORS} }} }}"
DECLINE = f"mutation($input: DeclineInvitationInput!) {{ declineInvitation(input: $input) {{ email {{ id }} {ERRORS} }} }}"


def pk_of(global_id: str) -> int:
    parsed = parse_global_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


@dataclass
class PartnerData:
    """One partner's objects, as global ids grouped by GraphQL type name."""

    login: PartnerLogin
    partner_pk: int
    member_token: str  # the second member's (role MEMBER)
    requesters: list[AccountLogin]
    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, type_name: str, global_id: str) -> str:
        self.ids.setdefault(type_name, []).append(global_id)
        return global_id

    def first(self, type_name: str) -> str:
        return self.ids[type_name][0]

    @property
    def token(self) -> str:
        return self.login.token


@dataclass
class World:
    a: PartnerData
    b: PartnerData
    # An account holder who has sent nothing to B: the account-realm attacker.
    outsider: AccountLogin


LOGIN = (
    "mutation($input: LoginInput!) { login(input: $input) { token errors { code message field } } }"
)
MEMBER_PASSWORD = "colleague password 1"


async def add_member(
    client: GraphQLClient, partner: PartnerLogin, role: MemberRole = MemberRole.MEMBER
) -> tuple[str, str]:
    """A second team member (made directly: there is no invite-a-colleague operation yet),
    signed in through `login`. Returns its global id and its bearer token."""
    owner = await PartnerMember.get(email=partner.email)
    member = await PartnerMember.create(
        partner_id=owner.partner_id,
        email=f"{unique('colleague')}@{partner.slug}.example",
        name="Second Colleague",
        role=role,
        password_hash=await hash_password(MEMBER_PASSWORD),
    )
    signed_in = await client.mutate(
        LOGIN, {"input": {"realm": "PARTNER", "email": member.email, "password": MEMBER_PASSWORD}}
    )
    return to_global_id("PartnerMember", member.id), signed_in["token"]


async def build_partner(client: GraphQLClient, label: str) -> PartnerData:
    login = await register_partner(client, public=True, slug=unique(f"{label}-agency-"))
    member_id, member_token = await add_member(client, login)
    requesters = [
        await register_account(client, email=f"{unique(f'{label}-holder')}@example.org")
        for _ in range(3)
    ]
    data = PartnerData(login, pk_of(login.partner_id), member_token, requesters)
    data.add("Partner", login.partner_id)
    data.add("PartnerMember", login.member_id)
    data.add("PartnerMember", member_id)
    for requester in requesters:
        data.add("AccountHolder", requester.account_id)
    token = login.token

    endpoint = await client.mutate(
        CREATE_WEBHOOK_ENDPOINT,
        {"input": {"url": f"https://hooks.{login.slug}.example/partnerdesk"}},
        token,
    )
    data.add("WebhookEndpoint", endpoint["endpoint"]["id"])

    first = await create_customer(client, token, email=f"{unique('mario')}@{label}.example")
    second = await create_customer(client, token, kind="COMPANY", companyName=f"{label} GmbH")
    archived = await create_customer(client, token, firstName="Old", lastName=unique("Client"))
    for customer in (first, second, archived):
        data.add("Customer", customer["id"])
    await client.mutate(ARCHIVE_CUSTOMER, {"id": archived["id"]}, token)

    domain = await client.mutate(
        CREATE_DOMAIN,
        {"input": {"name": f"{unique(label)}.example", "customerId": first["id"]}},
        token,
    )
    data.add("Domain", domain["domain"]["id"])
    contract = await client.mutate(
        CREATE_CONTRACT,
        {
            "input": {
                "product": "Hosting M",
                "startsOn": "2026-01-01",
                "monthlyFee": {"amount": "19.90", "currency": "EUR"},
                "customerId": first["id"],
            }
        },
        token,
    )
    data.add("Contract", contract["contract"]["id"])
    task = await client.mutate(
        CREATE_TASK,
        {"input": {"title": "Renew SSL", "customerId": second["id"], "assigneeId": member_id}},
        token,
    )
    data.add("Task", task["task"]["id"])

    for number in range(3):
        await client.mutate(
            SUBMIT_INQUIRY,
            {
                "input": {
                    "partnerSlug": login.slug,
                    "name": f"Visitor {number}",
                    "email": f"{unique('visitor')}@example.net",
                    "message": "Please call me back about a new website.",
                    "privacyConsent": True,
                    "renderedAt": rendered_at(),
                }
            },
        )
    inquiries = await client.gql(INQUIRY_IDS, token=token)
    inquiry_ids = [edge["node"]["id"] for edge in inquiries["inquiries"]["edges"]]
    for inquiry_id in inquiry_ids:
        data.add("Inquiry", inquiry_id)
    # newest first: keep the newest NEW, convert one, dismiss one.
    converted = await client.mutate(
        CONVERT_INQUIRY,
        {"input": {"inquiryId": inquiry_ids[1], "target": {"newCustomer": {}}}},
        token,
    )
    data.add("Customer", converted["customer"]["id"])
    await client.mutate(DISMISS_INQUIRY, {"input": {"inquiryId": inquiry_ids[2]}}, token)

    invitation_ids = []
    for requester in requesters:
        sent = await client.mutate(
            SEND_INVITATION,
            {"input": {"partnerSlug": login.slug, "scope": "FULL", "message": "Hello"}},
            requester.token,
        )
        invitation_ids.append(data.add("AccessInvitation", sent["invitation"]["id"]))
    # the first stays PENDING
    declined = await client.mutate(
        DECLINE,
        {"input": {"invitationId": invitation_ids[1], "personalMessage": "Not now, sorry."}},
        token,
    )
    assert declined["email"]["id"]
    connected = await client.mutate(
        CONNECT,
        {"input": {"invitationId": invitation_ids[2], "target": {"newCustomer": {}}}},
        token,
    )
    data.add("Customer", connected["customer"]["id"])

    invited = await client.mutate(
        INVITE_MEMBER,
        {"input": {"email": f"{unique(f'{label}-recruit')}@example.net", "role": "MEMBER"}},
        token,
    )
    data.add("MemberInvitation", invited["memberInvitation"]["id"])
    await client.mutate(REQUEST_RESET, {"input": {"realm": "PARTNER", "email": login.email}})
    # A CSV dry run (its report) and an export's download link.
    csv_file = b"First name,Last name\r\nDry,Run\r\n"
    report = await send_import(client, token, csv_file)
    data.add("CustomerImport", report["customerImport"]["id"])
    await client.mutate(EXPORT, {}, token)
    return data


async def build_world(client: GraphQLClient) -> World:
    """Partners A and B with everything above, plus an outsider account holder."""
    a = await build_partner(client, "a")
    b = await build_partner(client, "b")
    outsider = await register_account(client, email=f"{unique('outsider')}@example.org")
    # The outsider has one pending authorization of its own, with partner A.
    await client.mutate(
        SEND_INVITATION, {"input": {"partnerSlug": a.login.slug, "scope": "FULL"}}, outsider.token
    )
    await _collect_generated_ids(client, a)
    await _collect_generated_ids(client, b)
    return World(a=a, b=b, outsider=outsider)


ACTIVITY = "{ activity(first: 100) { edges { node { id } } } }"


async def _collect_generated_ids(client: GraphQLClient, data: PartnerData) -> None:
    """Ids made as side effects: activity events, webhook deliveries, and the outbox e-mails
    (decline and connect confirmation; the API shows only the decline one, so read the outbox)."""
    found: dict[str, Any] = await client.gql(ACTIVITY, token=data.token)
    for edge in found["activity"]["edges"]:
        data.add("ActivityEvent", edge["node"]["id"])
    found = await client.gql(WEBHOOK_DELIVERY_IDS, token=data.token)
    for endpoint in found["viewer"]["member"]["partner"]["webhookEndpoints"]:
        for edge in endpoint["deliveries"]["edges"]:
            data.add("WebhookDelivery", edge["node"]["id"])
    emails = await EmailDelivery.filter(partner_id=data.partner_pk).order_by("id")
    for email in emails:
        data.add("EmailDelivery", to_global_id("EmailDelivery", email.id))
