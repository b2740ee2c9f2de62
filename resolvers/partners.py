"""The partner's public profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.partner import Partner, PartnerMember
from resolvers.actor import Actor
from resolvers.conditions import to_q
from resolvers.read_rules import PUBLIC_PROFILES, scoped, tenant
from resolvers.validation import Problems, clean_text, lookup_key


async def public_profile(slug: str) -> Partner | None:
    """The partner behind a public profile; None while the profile is hidden."""
    key = lookup_key((slug or "").strip().lower(), 63)
    return await Partner.filter(to_q(PUBLIC_PROFILES)).get_or_none(slug=key) if key else None


def own_partner_id(actor: Actor) -> int:
    """The signed-in member's partner (whose events their subscriptions follow)."""
    return tenant(Partner, actor)[1]


async def own_partner(actor: Actor) -> Partner:
    return await scoped(Partner, actor).get()


async def get_partner(actor: Actor, partner_id: int) -> Partner | None:
    """The signed-in member's own partner, or None for any other id."""
    return await scoped(Partner, actor).get_or_none(id=partner_id)


async def get_member(actor: Actor, member_id: int) -> PartnerMember | None:
    """A member of the signed-in member's partner, or None."""
    return await scoped(PartnerMember, actor).get_or_none(id=member_id)


async def update_partner_profile(actor: Actor, changes: Mapping[str, Any]) -> Partner:
    """Change the given profile fields (OWNER/ADMIN only); null clears optional text."""
    actor.require_admin()
    problems = Problems()
    values: dict[str, Any] = {}
    if "display_name" in changes:
        values["display_name"] = clean_text(
            problems,
            "displayName",
            changes["display_name"],
            max_length=200,
            required=True,
            label="Display name",
        )
    for name, graphql_name, limit, multiline in (
        ("headline", "headline", 200, False),
        ("description", "description", 5000, True),
        ("city", "city", 100, False),
    ):
        if name in changes:
            values[name] = clean_text(
                problems,
                graphql_name,
                changes[name],
                max_length=limit,
                multiline=multiline,
                label=graphql_name.capitalize(),
            )
    if "services" in changes:
        services: list[str] = []
        for index, raw in enumerate(changes["services"] or []):
            service = clean_text(
                problems, "services", raw, max_length=80, label=f"Service {index + 1}"
            )
            if service and service not in services:
                services.append(service)
        if len(services) > 30:
            problems.add("services", "At most 30 services.")
        values["services"] = services
    if "is_public" in changes:
        if changes["is_public"] is None:
            problems.add("isPublic", "isPublic must be true or false.")
        else:
            values["is_public"] = bool(changes["is_public"])
    problems.raise_if_any()
    if values:
        await scoped(Partner, actor).update(**values)
    return await own_partner(actor)
