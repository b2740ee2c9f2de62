"""Who may call each mutation: one table, checked in one place.

schema/mutations.py checks a mutation's audience before anything else runs (before its ids
are even decoded), so a visitor always learns UNAUTHENTICATED first, and an account holder
or a MEMBER calling what they may not learns FORBIDDEN. The README's role table is this one
(tests/test_permissions.py keeps the two in step). Reads are scoped by
resolvers/read_rules.py instead: there, another partner's object is NOT_FOUND.
"""

from __future__ import annotations

from enum import StrEnum

from models.partner import MemberRole
from resolvers.actor import Actor
from resolvers.errors import Forbidden, Unauthenticated


class Audience(StrEnum):
    """Who may call a mutation (the README's role table spells these out)."""

    ANYONE = "anyone (no token needed)"
    SIGNED_IN = "anyone signed in"
    ACCOUNT_HOLDER = "account holders"
    MEMBER = "partner members (OWNER, ADMIN, MEMBER)"
    ADMIN = "the partner's OWNER and ADMINs"
    OWNER = "the partner's OWNER"


# GraphQL mutation name -> who may call it. A mutation missing here fails at start.
MUTATION_AUDIENCES: dict[str, Audience] = {
    "registerPartner": Audience.ANYONE,
    "registerAccount": Audience.ANYONE,
    "login": Audience.ANYONE,
    "logout": Audience.SIGNED_IN,
    "submitInquiry": Audience.ANYONE,
    "updatePartnerProfile": Audience.ADMIN,
    "createCustomer": Audience.MEMBER,
    "updateCustomer": Audience.MEMBER,
    "archiveCustomer": Audience.MEMBER,
    "restoreCustomer": Audience.MEMBER,
    "createDomain": Audience.MEMBER,
    "createContract": Audience.MEMBER,
    "createTask": Audience.MEMBER,
    "updateTask": Audience.MEMBER,
    "assignItem": Audience.MEMBER,
    "convertInquiry": Audience.MEMBER,
    "dismissInquiry": Audience.MEMBER,
    "connectCustomer": Audience.MEMBER,
    "declineInvitation": Audience.MEMBER,
    "sendAccessInvitation": Audience.ACCOUNT_HOLDER,
    "withdrawInvitation": Audience.ACCOUNT_HOLDER,
    "revokeAccess": Audience.ACCOUNT_HOLDER,
    # Identity and team (issue 12)
    "verifyEmail": Audience.ANYONE,
    "requestPasswordReset": Audience.ANYONE,
    "resetPassword": Audience.ANYONE,
    "acceptMemberInvitation": Audience.ANYONE,
    "resendVerificationEmail": Audience.SIGNED_IN,
    "changePassword": Audience.SIGNED_IN,
    "logoutEverywhere": Audience.SIGNED_IN,
    "updateNotificationPreferences": Audience.MEMBER,
    "inviteMember": Audience.ADMIN,
    "revokeMemberInvitation": Audience.ADMIN,
    "removeMember": Audience.ADMIN,
    "changeMemberRole": Audience.OWNER,
    "transferOwnership": Audience.OWNER,
    "createWebhookEndpoint": Audience.ADMIN,
    "updateWebhookEndpoint": Audience.ADMIN,
    "deleteWebhookEndpoint": Audience.ADMIN,
    "rotateWebhookSecret": Audience.ADMIN,
    "sendTestWebhook": Audience.ADMIN,
    "redeliverWebhook": Audience.ADMIN,
    "importCustomers": Audience.MEMBER,
    "exportCustomers": Audience.MEMBER,
    "exportCustomerData": Audience.MEMBER,
    "eraseCustomer": Audience.ADMIN,
    "exportMyData": Audience.ACCOUNT_HOLDER,
    "deleteMyAccount": Audience.ACCOUNT_HOLDER,
    "updateDomain": Audience.MEMBER,
    "updateContract": Audience.MEMBER,
    "deleteItem": Audience.MEMBER,
}

_ROLES_OF = {
    Audience.MEMBER: (MemberRole.OWNER, MemberRole.ADMIN, MemberRole.MEMBER),
    Audience.ADMIN: (MemberRole.OWNER, MemberRole.ADMIN),
    Audience.OWNER: (MemberRole.OWNER,),
}


def admit(actor: Actor, audience: Audience) -> None:
    """Return if `actor` is in `audience`; else Unauthenticated (visitors) or Forbidden."""
    if audience == Audience.ANYONE:
        return
    if actor.is_anonymous:
        raise Unauthenticated()
    if audience == Audience.SIGNED_IN:
        return
    if audience == Audience.ACCOUNT_HOLDER:
        if actor.account is None:
            raise Forbidden("Only account holders can do this.")
        return
    if actor.member is None:
        raise Forbidden("Only partner members can do this.")
    if actor.member.role not in _ROLES_OF[audience]:
        raise Forbidden(f"Only {audience.value} can do this.")
