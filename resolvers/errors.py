"""Typed domain errors. Resolvers raise them; schema/errors.py turns them into UserErrors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    VALIDATION = "VALIDATION"
    CONFLICT = "CONFLICT"
    ALREADY_PROCESSED = "ALREADY_PROCESSED"
    EXPIRED = "EXPIRED"
    PROFILE_NOT_PUBLIC = "PROFILE_NOT_PUBLIC"
    RATE_LIMITED = "RATE_LIMITED"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    INVALID_TOKEN = "INVALID_TOKEN"
    LAST_OWNER = "LAST_OWNER"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; `path` uses the GraphQL input names."""

    code: ErrorCode
    message: str
    path: tuple[str, ...] | None = None
    retry_after: int | None = None  # seconds, for RATE_LIMITED


class DomainError(Exception):
    """An expected failure: reported to the client as data, never logged as a fault."""

    code: ErrorCode = ErrorCode.VALIDATION

    def __init__(self, message: str, path: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(self.code, self.message, self.path)]


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "Sign in first: this needs a valid bearer token.") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    """Missing, or another partner's: the two are never told apart."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, what: str, path: tuple[str, ...] | None = None) -> None:
        super().__init__(f"{what} not found.", path)


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class AlreadyProcessed(DomainError):
    code = ErrorCode.ALREADY_PROCESSED


class Expired(DomainError):
    code = ErrorCode.EXPIRED


class ProfileNotPublic(DomainError):
    code = ErrorCode.PROFILE_NOT_PUBLIC


class EmailNotVerified(DomainError):
    code = ErrorCode.EMAIL_NOT_VERIFIED


class InvalidToken(DomainError):
    """A verification, reset or member-invitation token that is unknown, used, revoked or
    expired: the four are never told apart."""

    code = ErrorCode.INVALID_TOKEN

    def __init__(self, path: tuple[str, ...] = ("token",)) -> None:
        super().__init__("This link is invalid or has expired: ask for a new one.", path)


class LastOwner(DomainError):
    code = ErrorCode.LAST_OWNER


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many attempts; retry in {retry_after_seconds} seconds.")
        self.retry_after_seconds = retry_after_seconds

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(self.code, self.message, None, self.retry_after_seconds)]


class ValidationFailed(DomainError):
    """Bad input; may carry several field errors at once."""

    code = ErrorCode.VALIDATION

    def __init__(self, problems: list[FieldError]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems

    @classmethod
    def at(cls, path: tuple[str, ...], message: str) -> ValidationFailed:
        return cls([FieldError(ErrorCode.VALIDATION, message, path)])

    @property
    def errors(self) -> list[FieldError]:
        return self.problems
