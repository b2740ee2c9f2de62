"""Why a send failed: a safe reason for partner members, the raw detail for operators.

Partner members read `EmailDelivery.lastError` (and the EMAIL_FAILED activity row): they
get a short reason and the SMTP reply code, never the server's own words, host names,
ports or errno text, which describe our infrastructure rather than their e-mail. The
detail goes to the log line (with the delivery id) and to `last_error_detail`, which
only `partnerdesk mail status` shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosmtplib

UNREACHABLE = "Could not reach the mail server"
TOO_SLOW = "The mail server did not answer in time"
CLOSED = "The mail server closed the connection"
UNAVAILABLE = "The mail server is unavailable"
RECIPIENT_REFUSED = "The recipient's server refused the message"
REFUSED = "The mail server refused the message"
SENDER_REFUSED = "The mail server refused the sender"
UNSUPPORTED = "The mail server does not support what the message needs"
BAD_ADDRESS = "The recipient's address cannot be used in an e-mail"
UNKNOWN = "The message could not be sent"


@dataclass(frozen=True)
class SendFailure:
    """Why one send did not succeed, and whether trying again can help.

    `reason` is safe to show partner members; `code` is the SMTP reply code, if any;
    `detail` is what the server or the socket said, for the log and operators only.
    """

    reason: str
    detail: str
    permanent: bool
    code: int | None = None
    connection_broken: bool = False

    def public_text(self, outcome: str = "") -> str:
        """The reason, then its outcome ("retrying", "gave up ..."), then the reply code."""
        text = f"{self.reason}; {outcome}" if outcome else self.reason
        return f"{text} ({self.code})" if self.code else text


class ConnectionFailed(Exception):
    """The SMTP session could not be opened (connect, STARTTLS, login)."""

    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def _reply_code(code: int) -> int | None:
    return code if 400 <= code < 600 else None


def classify_failure(error: BaseException) -> SendFailure:
    """RFC 5321: 4yz and broken connections are transient, 5yz is permanent."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        codes = [r.code for r in error.recipients]
        refused = [code for code in codes if code >= 500]
        detail = f"recipient refused: {replies}"
        if refused:
            return SendFailure(RECIPIENT_REFUSED, detail, True, _reply_code(refused[0]))
        return SendFailure(UNAVAILABLE, detail, False, _reply_code(codes[0]) if codes else None)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        detail = f"{error.code} {error.message}"
        if not 500 <= error.code < 600:
            return SendFailure(UNAVAILABLE, detail, False, _reply_code(error.code))
        if isinstance(error, aiosmtplib.SMTPRecipientRefused):
            reason = RECIPIENT_REFUSED
        elif isinstance(error, aiosmtplib.SMTPSenderRefused):
            reason = SENDER_REFUSED
        else:
            reason = REFUSED
        return SendFailure(reason, detail, True, error.code)
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return SendFailure(UNSUPPORTED, f"not supported by the server: {error}", permanent=True)
    detail = f"{type(error).__name__}: {error or 'no detail'}"
    if isinstance(error, TimeoutError):  # asyncio's and aiosmtplib's timeouts included
        return SendFailure(TOO_SLOW, detail, False, connection_broken=True)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return SendFailure(CLOSED, detail, False, connection_broken=True)
    if isinstance(error, OSError):  # connect errors and resets
        return SendFailure(UNREACHABLE, detail, False, connection_broken=True)
    return SendFailure(UNKNOWN, detail, False, connection_broken=True)


def connection_failure(error: BaseException) -> SendFailure:
    """Opening the session failed: whatever the reply, that says nothing about the e-mail."""
    failure = classify_failure(error)
    reason = TOO_SLOW if failure.reason == TOO_SLOW else UNREACHABLE
    return SendFailure(reason, f"connecting: {failure.detail}", permanent=False)


def unbuildable(error: BaseException) -> SendFailure:
    """The email package cannot express the row (an address with a line break)."""
    return SendFailure(BAD_ADDRESS, f"cannot build the message: {error}", permanent=True)
