"""Who is calling: a partner member, an account holder, or an anonymous visitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.account import AccountHolder
from models.partner import MemberRole, PartnerMember
from resolvers.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Actor:
    member: PartnerMember | None = None
    account: AccountHolder | None = None
    token_id: int | None = None
    # When the bearer token stops signing them in (a websocket is closed at that moment).
    token_expires_at: datetime | None = None
    # The client's address (behind trusted proxies: from X-Forwarded-For), for rate limits.
    client_ip: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.member is None and self.account is None

    def require_member(self) -> PartnerMember:
        """The signed-in partner member; account tokens and visitors are refused."""
        if self.member is None:
            if self.account is not None:
                raise Forbidden("Only partner members can do this.")
            raise Unauthenticated()
        return self.member

    def require_partner_id(self) -> int:
        return self.require_member().partner_id

    def require_admin(self) -> PartnerMember:
        member = self.require_member()
        if member.role not in (MemberRole.OWNER, MemberRole.ADMIN):
            raise Forbidden("Only the partner's owner or an admin can do this.")
        return member

    def require_account(self) -> AccountHolder:
        if self.account is None:
            if self.member is not None:
                raise Forbidden("Only account holders can do this.")
            raise Unauthenticated()
        return self.account

    @property
    def display_name(self) -> str | None:
        person = self.member or self.account
        return person.name if person else None


ANONYMOUS = Actor()
