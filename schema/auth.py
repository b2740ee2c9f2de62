"""Registration, sign-in and the viewer."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.account import AccountHolder as AccountHolderModel
from models.auth import Realm
from resolvers import auth
from resolvers.actor import Actor
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id, to_opaque_id
from schema.mutations import mutation
from schema.partners import NotificationPreferences, PartnerMember
from schema.relay import Node

strawberry.enum(
    Realm, description="Agency staff (PARTNER) or holders of their own customer account (ACCOUNT)."
)


PASSWORD_RULES = "12-128 characters, not the e-mail address, not a common password."
CLOSED = "Empty once the authorization a partner sees it through is closed."


@strawberry.type(
    description=(
        "A person with their own customer account. A partner's members see it through an "
        "authorization that is PENDING (unexpired) or CONNECTED; once that authorization is "
        "withdrawn, declined, expired or revoked, they see only the name it was sent with, "
        "under an id of that authorization's own that node() does not resolve, with empty "
        "strings and nulls for everything else."
    )
)
class AccountHolder(Node):
    account_number: str = strawberry.field(description=CLOSED)
    email: str = strawberry.field(description=CLOSED)
    name: str = strawberry.field(
        description="After the authorization closed: the name it was sent with."
    )
    phone: str | None = strawberry.field(description="Null once the authorization is closed.")
    company_name: str | None = strawberry.field(
        description="Null once the authorization is closed."
    )
    language: str = strawberry.field(description=CLOSED)
    email_verified: bool = strawberry.field(
        description="Whether they proved the address with the verification link (an account "
        "must have, to send an authorization). False once the authorization is closed."
    )

    @classmethod
    def from_model(cls, account: AccountHolderModel) -> AccountHolder:
        return cls(
            id=to_global_id("AccountHolder", account.id),
            account_number=account.account_number,
            email=account.email,
            name=account.name,
            phone=account.phone,
            company_name=account.company_name,
            language=account.language,
            email_verified=account.email_verified_at is not None,
        )

    @classmethod
    def closed_requester(cls, invitation_id: int, name: str) -> AccountHolder:
        """The sender of a closed authorization as its partner sees them: the name only."""
        return cls(
            id=to_opaque_id("AccountHolder", f"closed-{invitation_id}"),
            account_number="",
            email="",
            name=name,
            phone=None,
            company_name=None,
            language="",
            email_verified=False,
        )


@strawberry.type(description="Who is signed in.")
class Viewer:
    realm: Realm
    member: PartnerMember | None
    account: AccountHolder | None
    notification_preferences: NotificationPreferences | None = strawberry.field(
        default=None, description="Set when realm = PARTNER: which e-mails I get."
    )

    @classmethod
    def of(cls, actor: Actor) -> Viewer | None:
        if actor.member is not None:
            return cls(
                realm=Realm.PARTNER,
                member=PartnerMember.from_model(actor.member),
                account=None,
                notification_preferences=NotificationPreferences.of(actor.member),
            )
        if actor.account is not None:
            return cls(
                realm=Realm.ACCOUNT, member=None, account=AccountHolder.from_model(actor.account)
            )
        return None


@strawberry.type
class AuthPayload:
    token: str | None = strawberry.field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime | None
    viewer: Viewer | None
    errors: list[UserError]

    @classmethod
    def issued(cls, issued: auth.IssuedToken) -> AuthPayload:
        return cls(
            token=issued.token,
            expires_at=issued.expires_at,
            viewer=Viewer.of(issued.actor),
            errors=[],
        )


@strawberry.type
class OkPayload:
    ok: bool
    errors: list[UserError]


@strawberry.input
class LoginInput:
    realm: Realm
    email: str
    password: str


@strawberry.input
class RegisterPartnerInput:
    partner_name: str
    slug: str = strawberry.field(
        description="3-63 lower-case letters, digits or hyphens; the public profile's address."
    )
    name: str
    email: str
    password: str = strawberry.field(description=PASSWORD_RULES)
    language: str | None = strawberry.field(
        default=None, description='Language of the owner\'s e-mails ("en", "de", "it", ...).'
    )


@strawberry.input
class RegisterAccountInput:
    name: str
    email: str
    password: str = strawberry.field(description=PASSWORD_RULES)
    phone: str | None = None
    company_name: str | None = None
    language: str | None = None


@strawberry.type
class AuthQuery:
    @strawberry.field(description="Who is signed in; null for visitors.")
    def viewer(self, info: Info) -> Viewer | None:
        return Viewer.of(info.context.actor)


@strawberry.type
class AuthMutation:
    @mutation(
        description="Create a partner and its owner, and sign the owner in; a verification "
        "e-mail goes to the owner. A taken address is CONFLICT (its owner is told, once a day)."
    )
    async def register_partner(self, info: Info, input: RegisterPartnerInput) -> AuthPayload:
        issued = await auth.register_partner(
            info.context.settings.token_ttl_hours,
            partner_name=input.partner_name,
            slug=input.slug,
            name=input.name,
            email=input.email,
            password=input.password,
            language=input.language,
            client_ip=info.context.actor.client_ip,
            settings=info.context.settings,
        )
        return AuthPayload.issued(issued)

    @mutation(
        description="Create an account holder and sign them in; a verification e-mail goes to "
        "the address. A taken address is CONFLICT (its owner is told, once a day)."
    )
    async def register_account(self, info: Info, input: RegisterAccountInput) -> AuthPayload:
        issued = await auth.register_account(
            info.context.settings.token_ttl_hours,
            name=input.name,
            email=input.email,
            password=input.password,
            phone=input.phone,
            company_name=input.company_name,
            language=input.language,
            client_ip=info.context.actor.client_ip,
            settings=info.context.settings,
        )
        return AuthPayload.issued(issued)

    @mutation(description="Sign in; a wrong password and an unknown e-mail give the same error.")
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        issued = await auth.login(
            info.context.settings.token_ttl_hours,
            realm=input.realm,
            email=input.email,
            password=input.password,
            client_ip=info.context.actor.client_ip,
        )
        return AuthPayload.issued(issued)

    @mutation(description="Revoke the token this request was sent with.")
    async def logout(self, info: Info) -> OkPayload:
        await auth.logout(info.context.actor)
        return OkPayload(ok=True, errors=[])
