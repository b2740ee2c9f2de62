"""Registration, sign-in and the viewer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.account import AccountHolder as AccountHolderModel
from models.auth import Realm
from resolvers import auth
from resolvers.actor import Actor
from schema.context import Info
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import to_global_id, to_opaque_id
from schema.mutations import mutation
from schema.partners import NotificationPreferences, PartnerMember
from schema.relay import Node

register_enum(
    Realm,
    "Agency staff (PARTNER) or holders of their own customer account (ACCOUNT).",
    {
        "PARTNER": "Partner members: the agencies' staff.",
        "ACCOUNT": "Account holders: people with their own customer account.",
    },
)


PASSWORD_RULES = "12-128 characters, not the e-mail address, not a common password."
CLOSED = "empty once the authorization a partner sees it through is closed."


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
    account_number: str = strawberry.field(description=f'"A" and 9 digits; {CLOSED}')
    email: str = strawberry.field(description=f"Login e-mail address, lower case; {CLOSED}")
    name: str = strawberry.field(
        description="Their name; after the authorization closed, the name it was sent with."
    )
    phone: str | None = strawberry.field(
        description="E.164; null when not given, and once the authorization is closed."
    )
    company_name: str | None = strawberry.field(
        description="Their company, if any; null once the authorization is closed."
    )
    language: str = strawberry.field(description=f'Language of their e-mails, e.g. "it"; {CLOSED}')
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
    realm: Realm = strawberry.field(description="Which kind of login is signed in.")
    member: PartnerMember | None = strawberry.field(
        description="Set when realm = PARTNER: the signed-in member."
    )
    account: AccountHolder | None = strawberry.field(
        description="Set when realm = ACCOUNT: the signed-in account holder."
    )
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


@strawberry.type(description="A new session: a bearer token and who it signs in.")
class AuthPayload:
    token: str | None = strawberry.field(
        description="Send as `Authorization: Bearer <token>`; keep it secret, it is shown once."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the token stops working (14 days after it is issued, by default)."
    )
    viewer: Viewer | None = strawberry.field(description="Who the token signs in.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)

    @classmethod
    def issued(cls, issued: auth.IssuedToken) -> AuthPayload:
        return cls(
            token=issued.token,
            expires_at=issued.expires_at,
            viewer=Viewer.of(issued.actor),
            errors=[],
        )


@strawberry.type(description="The result of a mutation that has nothing else to return.")
class OkPayload:
    ok: bool = strawberry.field(description="true when it was done; false: see errors.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


@strawberry.input(description="The login of a partner member or of an account holder.")
class LoginInput:
    realm: Realm = strawberry.field(description="Which kind of login.")
    email: str = strawberry.field(description="The login's e-mail address, in any case.")
    password: str = strawberry.field(description="Its password.")


@strawberry.input(description="A new partner and its OWNER.")
class RegisterPartnerInput:
    partner_name: str = strawberry.field(
        description="The agency's name, at most 200 characters; also its profile's displayName."
    )
    slug: str = strawberry.field(
        description="3-63 lower-case letters, digits or hyphens; the public profile's address."
    )
    name: str = strawberry.field(description="The owner's name, at most 200 characters.")
    email: str = strawberry.field(
        description="The owner's login, a valid address; stored in lower case."
    )
    password: str = strawberry.field(description=PASSWORD_RULES)
    language: str | None = strawberry.field(
        default=None,
        description='Language of the owner\'s e-mails ("en", "de", "it", ...); default "en".',
    )


@strawberry.input(description="A new account holder.")
class RegisterAccountInput:
    name: str = strawberry.field(description="Their name, at most 200 characters.")
    email: str = strawberry.field(description="Their login, a valid address; stored in lower case.")
    password: str = strawberry.field(description=PASSWORD_RULES)
    phone: str | None = strawberry.field(
        default=None, description="In international form, e.g. +39 06 1234 5678; stored as E.164."
    )
    company_name: str | None = strawberry.field(
        default=None, description="Their company, if any; at most 200 characters."
    )
    language: str | None = strawberry.field(
        default=None, description='Language of their e-mails ("en", "de", "it", ...); default "en".'
    )


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
    async def register_partner(
        self,
        info: Info,
        input: Annotated[
            RegisterPartnerInput, strawberry.argument(description="The partner and its owner.")
        ],
    ) -> AuthPayload:
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
    async def register_account(
        self,
        info: Info,
        input: Annotated[
            RegisterAccountInput, strawberry.argument(description="The new account holder.")
        ],
    ) -> AuthPayload:
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

    @mutation(
        description="Sign in, for a bearer token. A wrong password and an unknown e-mail give "
        "the same UNAUTHENTICATED; attempts are rate-limited."
    )
    async def login(
        self,
        info: Info,
        input: Annotated[LoginInput, strawberry.argument(description="The credentials.")],
    ) -> AuthPayload:
        issued = await auth.login(
            info.context.settings.token_ttl_hours,
            realm=input.realm,
            email=input.email,
            password=input.password,
            client_ip=info.context.actor.client_ip,
        )
        return AuthPayload.issued(issued)

    @mutation(description="Revoke the token this request was sent with (its websockets close too).")
    async def logout(self, info: Info) -> OkPayload:
        await auth.logout(info.context.actor)
        return OkPayload(ok=True, errors=[])
