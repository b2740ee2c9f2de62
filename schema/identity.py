"""Verified addresses and passwords: verifyEmail, resendVerificationEmail, requestPasswordReset,
resetPassword, changePassword, logoutEverywhere."""

from __future__ import annotations

import strawberry

from models.auth import Realm
from resolvers import auth, password_reset, verification
from schema.auth import PASSWORD_RULES, AuthPayload, OkPayload
from schema.context import Info
from schema.mutations import mutation


@strawberry.input
class VerifyEmailInput:
    token: str = strawberry.field(description="From the verification e-mail's link.")


@strawberry.input
class RequestPasswordResetInput:
    realm: Realm
    email: str


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="From the reset e-mail's link.")
    new_password: str = strawberry.field(description=PASSWORD_RULES)


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str = strawberry.field(description=PASSWORD_RULES)


OK = OkPayload(ok=True, errors=[])


@strawberry.type
class IdentityMutation:
    @mutation(description="Public: confirm an address with the verification e-mail's token.")
    async def verify_email(self, info: Info, input: VerifyEmailInput) -> OkPayload:
        await verification.verify_email(input.token)
        return OK

    @mutation(
        description="Send a fresh verification link (rate-limited); earlier links stop working."
    )
    async def resend_verification_email(self, info: Info) -> OkPayload:
        await verification.resend_verification_email(info.context.settings, info.context.actor)
        return OK

    @mutation(
        description="Public: e-mail a reset link to the address if it has a login. Always ok: "
        "the answer (and its timing) never tells whether the address exists."
    )
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> OkPayload:
        await password_reset.request_password_reset(
            info.context.settings, input.realm, input.email, info.context.actor.client_ip
        )
        return OK

    @mutation(
        description="Public: set a new password with the reset e-mail's token (single use); "
        "every session of the login is signed out, and the returned token signs in."
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> AuthPayload:
        issued = await password_reset.reset_password(
            info.context.settings, input.token, input.new_password
        )
        return AuthPayload.issued(issued)

    @mutation(
        description="Change my password. Every session, this request's token too, is signed "
        "out; carry on with the returned token."
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> AuthPayload:
        issued = await password_reset.change_password(
            info.context.settings,
            info.context.actor,
            input.current_password,
            input.new_password,
        )
        return AuthPayload.issued(issued)

    @mutation(description="Sign out every session of my login (open websockets close too).")
    async def logout_everywhere(self, info: Info) -> OkPayload:
        await auth.logout_everywhere(info.context.actor)
        return OK
