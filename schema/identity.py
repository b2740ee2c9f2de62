"""Verified addresses and passwords: verifyEmail, resendVerificationEmail, requestPasswordReset,
resetPassword, changePassword, logoutEverywhere."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.auth import Realm
from resolvers import auth, password_reset, verification
from schema.auth import PASSWORD_RULES, AuthPayload, OkPayload
from schema.context import Info
from schema.mutations import mutation


@strawberry.input(description="The token of a verification link.")
class VerifyEmailInput:
    token: str = strawberry.field(
        description="From the verification e-mail's link: /verify-email?token=…"
    )


@strawberry.input(description="Whose password to reset.")
class RequestPasswordResetInput:
    realm: Realm = strawberry.field(description="Which kind of login.")
    email: str = strawberry.field(description="The login's e-mail address, in any case.")


@strawberry.input(description="A new password, with the token of a reset link.")
class ResetPasswordInput:
    token: str = strawberry.field(
        description="From the reset e-mail's link: /reset-password?token=…"
    )
    new_password: str = strawberry.field(description=PASSWORD_RULES)


@strawberry.input(description="The current and the new password.")
class ChangePasswordInput:
    current_password: str = strawberry.field(
        description="The password in use now; a wrong one is VALIDATION at this field."
    )
    new_password: str = strawberry.field(description=PASSWORD_RULES)


OK = OkPayload(ok=True, errors=[])


@strawberry.type
class IdentityMutation:
    @mutation(
        description="Confirm an address with its verification link's token (single use; "
        "7 days by default)."
    )
    async def verify_email(
        self,
        info: Info,
        input: Annotated[VerifyEmailInput, strawberry.argument(description="The token.")],
    ) -> OkPayload:
        await verification.verify_email(input.token)
        return OK

    @mutation(
        description="Send a fresh verification link to my address (rate-limited); earlier "
        "links stop working. Verified already: ALREADY_PROCESSED."
    )
    async def resend_verification_email(self, info: Info) -> OkPayload:
        await verification.resend_verification_email(info.context.settings, info.context.actor)
        return OK

    @mutation(
        description="E-mail a reset link (valid 60 minutes by default) to the address if it "
        "has a login. Always ok: the answer (and its timing) never tells whether it exists."
    )
    async def request_password_reset(
        self,
        info: Info,
        input: Annotated[
            RequestPasswordResetInput, strawberry.argument(description="Whose password.")
        ],
    ) -> OkPayload:
        await password_reset.request_password_reset(
            info.context.settings, input.realm, input.email, info.context.actor.client_ip
        )
        return OK

    @mutation(
        description="Set a new password with the reset e-mail's token (single use); every "
        "session of the login is signed out, and the returned token signs in."
    )
    async def reset_password(
        self,
        info: Info,
        input: Annotated[
            ResetPasswordInput, strawberry.argument(description="The token and the password.")
        ],
    ) -> AuthPayload:
        issued = await password_reset.reset_password(
            info.context.settings, input.token, input.new_password
        )
        return AuthPayload.issued(issued)

    @mutation(
        description="Change my password. Every session, this request's token too, is signed "
        "out; carry on with the returned token."
    )
    async def change_password(
        self,
        info: Info,
        input: Annotated[
            ChangePasswordInput, strawberry.argument(description="The old and new password.")
        ],
    ) -> AuthPayload:
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
