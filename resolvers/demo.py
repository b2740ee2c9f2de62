"""Demo data for `partnerdesk serve --demo` / `seed-demo`: every flow visible at once.

Goes through the same resolver functions as the API, so demo rows obey every rule. The
demo logins are registered as verified, so they get no verification e-mail (a real run
sends none to a verified address); only the one unverified account gets its link.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from config import Settings
from models.account import AccountHolder
from models.invitation import AccessPermission, AccessScope
from models.item import TaskPriority
from models.partner import MemberRole, Partner, PartnerMember
from resolvers import auth, customers, decisions, inquiries, invitations, items, partners
from resolvers.actor import Actor
from resolvers.customers import CustomerTarget
from resolvers.passwords import hash_password

DEMO_PASSWORD = "demo-password-1"
TOKEN_TTL_HOURS = 24
PARTNERS = [
    ("Studio Aurora", "studio-aurora", "Giulia Ferri"),
    ("Pixel Forge", "pixel-forge", "Tom Becker"),
]
CUSTOMERS: list[dict[str, Any]] = [
    {
        "firstName": "Mario",
        "lastName": "Rossi",
        "email": "mario.rossi@example.it",
        "phone": "+39 06 1234 5678",
        "address": {"street": "Via Roma 1", "postalCode": "00184", "city": "Roma", "country": "IT"},
        "language": "it",
        "tags": ["vip"],
    },
    {
        "kind": "COMPANY",
        "companyName": "Bäckerei Huber GmbH",
        "firstName": "Lena",
        "lastName": "Huber",
        "email": "info@baeckerei-huber.example",
        "address": {"city": "München", "country": "DE"},
        "language": "de",
        "vatId": "DE123456789",
    },
    {"firstName": "Sofia", "lastName": "Conti", "email": "sofia@conti.example", "tags": ["shop"]},
    {
        "kind": "COMPANY",
        "companyName": "Green Leaf Ltd",
        "email": "hello@greenleaf.example",
        "address": {"city": "Bristol", "country": "GB"},
    },
]


ACCOUNT_HOLDERS = [
    # (name, e-mail, language, company, what happens to their authorization)
    ("Anna Bianchi", "anna.bianchi@example.org", "it", None, "pending"),
    ("Jonas Keller", "jonas.keller@example.org", "de", "Keller Design", "pending"),
    ("Emma Clarke", "emma.clarke@example.org", "en", None, "connected"),
    ("Paul Weiß", "paul.weiss@example.org", "de", None, "declined"),
    ("Lucia Romano", "lucia.romano@example.org", "it", None, "withdrawn"),
]
# Registered but never confirmed: shows the unverified state (sendAccessInvitation answers
# EMAIL_NOT_VERIFIED for it). Every other demo login is verified.
UNVERIFIED_ACCOUNT = ("Nora Weber", "nora.weber@example.org", "de")
INQUIRIES = [
    (
        "Francesca Galli",
        "francesca@galli.example",
        None,
        "We need a new website for our bed & breakfast, with online booking.",
    ),
    (
        "Stefan Braun",
        "s.braun@braun-metall.example",
        "Braun Metallbau",
        "Unser Online-Shop braucht ein neues Design. Können Sie helfen?",
    ),
    (
        "Olivia Hart",
        "olivia.hart@example.com",
        None,
        "Could you move our domains and e-mail to a new host?",
    ),
    ("Spam Bot", "bot@spam.example", None, "Cheap backlinks!!!"),
]


def _snake(values: dict[str, Any]) -> dict[str, Any]:
    """The demo rows are written in GraphQL's names; resolvers take Python's."""
    names = {
        "firstName": "first_name",
        "lastName": "last_name",
        "companyName": "company_name",
        "vatId": "vat_id",
        "postalCode": "postal_code",
    }
    return {
        names.get(key, key): _snake(value) if isinstance(value, dict) else value
        for key, value in values.items()
    }


def demo_logins() -> list[tuple[str, str, str]]:
    """(realm, e-mail, password) of every demo login, the unverified account's last."""
    logins = []
    for _name, slug, _owner in PARTNERS:
        logins.append(("PARTNER", f"owner@{slug}.example", DEMO_PASSWORD))
    logins.append(("PARTNER", "member@studio-aurora.example", DEMO_PASSWORD))
    for _name, email, *_rest in ACCOUNT_HOLDERS:
        logins.append(("ACCOUNT", email, DEMO_PASSWORD))
    logins.append(("ACCOUNT", UNVERIFIED_ACCOUNT[1], DEMO_PASSWORD))
    return logins


async def _seed_items(owner: Actor, customer_ids: list[int]) -> None:
    """Domains, contracts and tasks, assigned and unassigned."""
    first, second = customer_ids[0], customer_ids[1]
    await items.create_domain(owner, {"name": "rossi-pizzeria.it", "customer_id": first})
    await items.create_domain(
        owner, {"name": "bäckerei-huber.de", "customer_id": second, "expires_on": date(2027, 3, 31)}
    )
    await items.create_domain(owner, {"name": "spare-domain.example"})
    await items.create_contract(
        owner,
        {
            "product": "Hosting Plus",
            "starts_on": date(2026, 1, 1),
            "customer_id": first,
            "monthly_fee": {"amount": "19.90", "currency": "EUR"},
        },
    )
    await items.create_contract(
        owner, {"product": "Online shop care", "starts_on": date(2026, 6, 1), "customer_id": second}
    )
    await items.create_task(
        owner,
        {
            "title": "Renew SSL certificate",
            "customer_id": first,
            "due_on": date(2026, 12, 15),
            "priority": TaskPriority.HIGH,
        },
    )
    await items.create_task(owner, {"title": "Send shop redesign offer", "customer_id": second})
    await items.create_task(owner, {"title": "Update the agency portfolio"})


async def _seed_inquiries(owner: Actor, slug: str, existing_customer_id: int) -> None:
    """Three NEW inquiries, one converted into a new customer, one assigned, one dismissed."""
    shown = datetime.now(UTC) - timedelta(minutes=5)  # when a visitor opened the form
    created = []
    for name, email, company, message in INQUIRIES:
        inquiry_id = await inquiries.submit_inquiry(
            {
                "partner_slug": slug,
                "name": name,
                "email": email,
                "company_name": company,
                "message": message,
                "privacy_consent": True,
                "rendered_at": shown,
            }
        )
        assert inquiry_id is not None
        created.append(inquiry_id)
    await inquiries.convert_inquiry(owner, created[0], CustomerTarget(new_customer={}))
    await inquiries.convert_inquiry(
        owner, created[2], CustomerTarget(existing_customer_id=existing_customer_id)
    )
    await inquiries.dismiss_inquiry(owner, created[3], "Spam")
    for name, email, company, message in INQUIRIES[:3]:
        await inquiries.submit_inquiry(
            {
                "partner_slug": slug,
                "name": name,
                "email": email,
                "company_name": company,
                "message": "Follow-up: " + message,
                "privacy_consent": True,
                "rendered_at": shown,
            }
        )


async def _seed_invitations(owner: Actor, slug: str, ttl_days: int, settings: Settings) -> None:
    """Account holders' authorizations: pending, connected, declined, withdrawn."""
    for name, email, language, company, outcome in ACCOUNT_HOLDERS:
        await auth.register_account(
            TOKEN_TTL_HOURS,
            name=name,
            email=email,
            password=DEMO_PASSWORD,
            language=language,
            company_name=company,
            settings=settings,
            email_verified=True,
        )
        holder = Actor(account=await AccountHolder.get(email=email))
        scope = (
            {"scope": AccessScope.FULL}
            if outcome != "pending" or company
            else {
                "scope": AccessScope.PARTIAL,
                "permissions": [AccessPermission.DOMAINS, AccessPermission.EMAIL],
            }
        )
        invitation = await invitations.send_access_invitation(
            holder,
            ttl_days,
            {
                "partner_slug": slug,
                "message": f"Hello, this is {name}. Please take care of my account.",
                **scope,
            },
        )
        if outcome == "connected":
            await decisions.connect_customer(owner, invitation.id, CustomerTarget(new_customer={}))
        elif outcome == "declined":
            await decisions.decline_invitation(
                owner,
                invitation.id,
                "Thank you for thinking of us!\nWe are fully booked this year.",
            )
        elif outcome == "withdrawn":
            await invitations.withdraw_invitation(holder, invitation.id)
    name, email, language = UNVERIFIED_ACCOUNT
    await auth.register_account(
        TOKEN_TTL_HOURS,
        name=name,
        email=email,
        password=DEMO_PASSWORD,
        language=language,
        settings=settings,
    )


async def seed_demo_data(
    print_logins: bool = False, invitation_ttl_days: int = 30, settings: Settings | None = None
) -> bool:
    """Fill an empty database with demo partners, customers, items, inquiries and
    authorizations in every state; False if it had data already. `settings` give the
    unverified account's link its public address (default: the built-in settings)."""
    settings = settings or Settings()
    seeded = False
    if not await Partner.exists():
        for index, (partner_name, slug, owner_name) in enumerate(PARTNERS):
            issued = await auth.register_partner(
                TOKEN_TTL_HOURS,
                partner_name=partner_name,
                slug=slug,
                name=owner_name,
                email=f"owner@{slug}.example",
                password=DEMO_PASSWORD,
                settings=settings,
                email_verified=True,
            )
            owner = Actor(member=await PartnerMember.get(email=f"owner@{slug}.example"))
            await partners.update_partner_profile(
                owner,
                {
                    "headline": "Websites, shops and hosting for small businesses",
                    "city": "Bologna" if index == 0 else "Berlin",
                    "services": ["Web design", "Online shops", "Hosting"],
                    "is_public": True,
                },
            )
            if index == 0:
                assert issued.actor.member is not None
                await PartnerMember.create(
                    partner_id=issued.actor.member.partner_id,
                    email=f"member@{slug}.example",
                    name="Marco Neri",
                    role=MemberRole.MEMBER,
                    password_hash=await hash_password(DEMO_PASSWORD),
                    email_verified_at=datetime.now(UTC),
                )
                customer_ids = [
                    (await customers.create_customer(owner, _snake(values))).id
                    for values in CUSTOMERS
                ]
                await _seed_items(owner, customer_ids)
                await _seed_inquiries(owner, slug, customer_ids[2])
                await _seed_invitations(owner, slug, invitation_ttl_days, settings)
            else:
                await customers.create_customer(
                    owner,
                    {"first_name": "Jonas", "last_name": "Weber", "email": "jonas@weber.example"},
                )
        seeded = True
    if print_logins:
        print("Demo data " + ("seeded." if seeded else "already present (database not empty)."))
        print("Demo logins (use with the login mutation):")
        for realm, email, password in demo_logins():
            note = "  (e-mail not verified)" if email == UNVERIFIED_ACCOUNT[1] else ""
            print(f"  {realm:<8} {email:<34} {password}{note}")
    return seeded
