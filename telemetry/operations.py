"""One operation observed: its metrics and its log line, written once when it ends.

The pipeline (schema/pipeline.py) calls `finished` for every query and mutation, whatever
its route, `refused` for every request refused before it ran, and `subscription_started`
for subscriptions. Label children are cached, so a finished operation costs a few dict
look-ups, one counter and one histogram update, and one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from graphql import GraphQLError

from telemetry import metrics

log = logging.getLogger("partnerdesk.request")

FAULT = "INTERNAL_SERVER_ERROR"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


def error_code(error: GraphQLError, refused: bool) -> str:
    """The error's code as clients read it; parse and validation errors carry none."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if not refused:
        return "UNCODED"
    return "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") else "BAD_REQUEST"


class OperationTelemetry:
    """The metrics and log lines of one pipeline's operations."""

    def __init__(self) -> None:
        self.names = metrics.OperationNames()
        self._operations: dict[tuple[str, str], metrics.Counter] = {}
        self._latency: dict[str, metrics.Histogram] = {}
        self._errors: dict[str, metrics.Counter] = {}

    def finished(
        self,
        *,
        kind: str,
        label: str,
        title: str,
        errors: Sequence[GraphQLError],
        seconds: float,
        request_id: str,
        transport: str,
        partner_id: int | None,
    ) -> str:
        """Count, time and log a query or mutation that ran; its outcome."""
        codes = [error_code(error, refused=False) for error in errors]
        outcome = "fault" if FAULT in codes else "error" if codes else "ok"
        self._count(label, outcome, codes)
        latency = self._latency.get(kind)
        if latency is None:
            latency = self._latency[kind] = metrics.LATENCY.labels(kind)
        latency.observe(seconds)
        self._log(kind, title, outcome, seconds, request_id, transport, partner_id, codes)
        return outcome

    def refused(
        self,
        *,
        kind: str | None,
        label: str,
        title: str,
        errors: Sequence[GraphQLError],
        seconds: float,
        request_id: str,
        transport: str,
    ) -> None:
        """Count and log a request refused before anything ran."""
        codes = [error_code(error, refused=True) for error in errors]
        self._count(label, "refused", codes)
        self._log(kind or "request", title, "refused", seconds, request_id, transport, None, codes)

    def subscription_started(
        self, *, label: str, title: str, request_id: str, partner_id: int | None
    ) -> None:
        self._count(label, "ok", ())
        self._log("subscription", title, "started", 0.0, request_id, "websocket", partner_id, [])

    def _count(self, label: str, outcome: str, codes: Iterable[str]) -> None:
        key = (label, outcome)
        counter = self._operations.get(key)
        if counter is None:
            counter = self._operations[key] = metrics.OPERATIONS.labels(label, outcome)
        counter.inc()
        for code in codes:
            errors = self._errors.get(code)
            if errors is None:
                errors = self._errors[code] = metrics.ERRORS.labels(code)
            errors.inc()

    @staticmethod
    def _log(
        kind: str,
        title: str,
        outcome: str,
        seconds: float,
        request_id: str,
        transport: str,
        partner_id: int | None,
        codes: list[str],
    ) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        duration_ms = round(seconds * 1000, 1)
        coded = f" [{', '.join(sorted(set(codes)))}]" if codes else ""
        log.info(
            "%s %s %s%s %.1f ms",
            kind,
            title,
            outcome,
            coded,
            duration_ms,
            extra={
                "request_id": request_id,
                "operation": title,
                "operation_type": kind,
                "transport": transport,
                "partner_id": partner_id,
                "duration_ms": duration_ms,
                "outcome": outcome,
                "error_codes": sorted(set(codes)) or None,
            },
        )
