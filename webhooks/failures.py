"""Why a delivery attempt failed: a short reason partners may read, the detail for operators.

Partners read `WebhookDelivery.lastError`: a fixed sentence and the HTTP status, never the
receiver's answer, our resolver's or socket's words, or anything from the request (its
headers carry the signature). The detail goes to the log line with the delivery id and to
`last_error_detail`, which the API never shows.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from webhooks.addresses import BlockedAddress, UnresolvableHost

GONE = 410


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt.

    `endpoint_wide`: the failure says nothing about this event (the endpoint is unreachable),
    so the endpoint's other deliveries in the same batch share it instead of each waiting out
    a timeout of their own. `gone`: the receiver answered 410, the endpoint is to be disabled.
    """

    reason: str
    detail: str
    status_code: int | None = None
    endpoint_wide: bool = False
    gone: bool = False

    def public_text(self, outcome: str = "") -> str:
        """The reason, then what happens next ("retrying", "gave up ...")."""
        return f"{self.reason}; {outcome}" if outcome else self.reason


def answered(status_code: int, reason_phrase: str) -> AttemptFailure:
    """The receiver answered, but not with 2xx."""
    detail = f"HTTP {status_code} {reason_phrase}".strip()
    if status_code == GONE:
        return AttemptFailure("The endpoint answered 410 Gone", detail, status_code, gone=True)
    if 300 <= status_code < 400:
        reason = f"The endpoint answered {status_code} (redirects are not followed)"
        return AttemptFailure(reason, detail, status_code)
    return AttemptFailure(f"The endpoint answered {status_code}", detail, status_code)


def _has_cause(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(error: BaseException, timeout_seconds: float) -> AttemptFailure:
    """The failure an exception raised while sending stands for."""
    detail = f"{type(error).__name__}: {error or 'no detail'}"
    if isinstance(error, BlockedAddress):
        reason = f"The endpoint's address is not allowed ({error.reason})"
        return AttemptFailure(reason, detail, endpoint_wide=True)
    if isinstance(error, UnresolvableHost):
        return AttemptFailure(
            "The endpoint's host name does not resolve", detail, endpoint_wide=True
        )
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        reason = f"The endpoint did not answer within {timeout_seconds:g} s"
        return AttemptFailure(reason, detail, endpoint_wide=True)
    if _has_cause(error, ssl.SSLError):
        reason = "The endpoint's TLS certificate or handshake was refused"
        return AttemptFailure(reason, detail, endpoint_wide=True)
    if isinstance(error, httpx.ConnectError | ConnectionError):
        return AttemptFailure("Could not connect to the endpoint", detail, endpoint_wide=True)
    if isinstance(error, httpx.TransportError | OSError):
        return AttemptFailure("The connection to the endpoint broke", detail)
    return AttemptFailure("The delivery could not be sent", detail)
