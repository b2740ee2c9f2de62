"""What observing an operation costs (issue 15): `.venv/bin/python -m bench.telemetry_overhead`.

Times, in isolation, what the pipeline adds per operation: a request id, and
`OperationTelemetry.finished` (two counters, one histogram, and the log line when INFO
is on), with the log line written to /dev/null as text and as JSON. The best of five
repetitions; the machine's noise is larger than the metrics' cost in an end-to-end run.
"""

from __future__ import annotations

import logging
import os
import timeit

from telemetry.logs import TEXT_FORMAT, JsonFormatter, new_request_id
from telemetry.operations import OperationTelemetry

CALLS = 50_000


def best_microseconds(call: object) -> float:
    return min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6  # type: ignore[arg-type]


def main() -> None:
    telemetry = OperationTelemetry()
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    logging.getLogger().addHandler(handler)
    request_log = logging.getLogger("partnerdesk.request")

    def finished() -> None:
        telemetry.finished(
            kind="query",
            label="Dashboard",
            title="Dashboard",
            errors=[],
            seconds=0.001,
            request_id=new_request_id(),
            transport="http",
            partner_id=3,
        )

    request_log.setLevel(logging.WARNING)
    print(f"request id                      {best_microseconds(new_request_id):6.2f} µs")
    print(f"metrics (log line off)          {best_microseconds(finished):6.2f} µs")
    request_log.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    print(f"metrics + text log line         {best_microseconds(finished):6.2f} µs")
    handler.setFormatter(JsonFormatter())
    print(f"metrics + JSON log line         {best_microseconds(finished):6.2f} µs")


if __name__ == "__main__":
    main()
