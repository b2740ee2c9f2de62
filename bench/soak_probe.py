"""`partnerdesk serve`, plus a count of the process's asyncio tasks for the soak.

The soak must see whether tasks pile up in a server (a subscription or request that
leaves one behind each time), and the server does not publish that number. This runs
PartnerDesk's own command line (`app.main(["serve"])`, unchanged) in a process where
uvicorn's `Server.serve` is wrapped to start one extra task: every PROBE_SECONDS it
appends "<unix time> <number of asyncio tasks>" to the file named by
BENCH_SOAK_PROBE (the probe's own task included, a constant 1). If uvicorn's API moves,
the server runs without the probe and the soak reports the task count as not measured.

    BENCH_SOAK_PROBE=/tmp/tasks.txt PARTNERDESK_...=... python -m bench.soak_probe
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

PROBE_SECONDS = 2.0


async def _probe(path: str) -> None:
    with open(path, "a", buffering=1) as out:  # noqa: ASYNC230 (one short line per 2 s)
        while True:
            out.write(f"{time.time():.3f} {len(asyncio.all_tasks())}\n")
            await asyncio.sleep(PROBE_SECONDS)


def _install(path: str) -> None:
    try:
        from uvicorn.server import Server
    except ImportError:
        return
    original = Server.serve

    async def serve(self: Any, *args: Any, **kwargs: Any) -> None:
        task = asyncio.get_running_loop().create_task(_probe(path))
        try:
            await original(self, *args, **kwargs)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    Server.serve = serve  # type: ignore[method-assign]


def main() -> int:
    path = os.environ.get("BENCH_SOAK_PROBE")
    if path:
        _install(path)
    import app

    return int(app.main(["serve"]) or 0)


if __name__ == "__main__":
    sys.exit(main())
