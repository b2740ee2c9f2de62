"""Log lines: plain text (the development default) or one JSON object per line, and request ids.

PARTNERDESK_LOG_FORMAT=json writes each record as one JSON object: time, level, logger,
message and, for operations, request_id, operation, operation_type, partner_id,
duration_ms and outcome. Those fields are all an operation's line carries: never e-mail
addresses, names, tokens or variables (tests/test_logging.py greps for them).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson

# The operation fields a record may carry (logging's `extra=`), in the order they are written.
OPERATION_FIELDS = (
    "request_id",
    "operation",
    "operation_type",
    "transport",
    "partner_id",
    "duration_ms",
    "outcome",
    "error_codes",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
# Quiet libraries: Tortoise's start/stop notes and uvicorn's banner say nothing an operator
# acts on; their warnings and errors still show.
QUIET_LOGGERS = ("tortoise", "uvicorn.error", "aiosqlite", "asyncio")
# An X-Request-ID from the load balancer is kept when it looks like an id, else replaced.
INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_PREFIX = os.urandom(4).hex()  # per process, so instances' ids do not collide
_sequence = itertools.count(1)


def new_request_id() -> str:
    """16 hex digits: this process's random prefix and a counter (no system call per
    request, unlike a random id; ids of one process sort by arrival)."""
    return f"{_PREFIX}{next(_sequence) & 0xFFFFFFFF:08x}"


def request_id_of(scope: MutableMapping[str, Any]) -> str:
    """The HTTP request's id: its X-Request-ID if sane, else a new one; the same for every
    caller during one request (the tracing middleware and the pipeline share it)."""
    held = scope.get("partnerdesk.request_id")
    if held is not None:
        return held
    found = None
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            found = text if INCOMING_ID.fullmatch(text) else None
            break
    request_id = found or new_request_id()
    scope["partnerdesk.request_id"] = request_id
    return request_id


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in OPERATION_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """The process's one log handler (stderr), in `log_format` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
