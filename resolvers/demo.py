"""Demo data for `partnerdesk serve --demo` / `seed-demo`: every flow visible at once.

Goes through the same resolver functions as the API, so demo rows obey every rule.
"""

from __future__ import annotations

from typing import Any

from models.partner import MemberRole, Partner, PartnerMember
from resolvers import auth, customers, partners
from resolvers.actor import Actor
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
    """(realm, e-mail, password) of every demo login."""
    logins = []
    for _name, slug, _owner in PARTNERS:
        logins.append(("PARTNER", f"owner@{slug}.example", DEMO_PASSWORD))
    logins.append(("PARTNER", "member@studio-aurora.example", DEMO_PASSWORD))
    return logins


async def seed_demo_data(print_logins: bool = False) -> bool:
    """Fill an empty database with demo partners and customers; False if it had data."""
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
            )
            owner = Actor(member=issued.actor.member)
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
                )
                for values in CUSTOMERS:
                    await customers.create_customer(owner, _snake(values))
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
            print(f"  {realm:<8} {email:<34} {password}")
    return seeded
