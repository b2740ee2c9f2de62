"""Periodic state changes that no request makes: overdue access invitations expire,
expiry reminders and notification digests go out, password-reset requests left behind by a
stopped process are answered, imports whose process died are marked FAILED, and once a day
retention applies.

Every `partnerdesk serve` and `partnerdesk worker` process runs the sweep; each step is a
conditional UPDATE, so several processes sweeping at once change each row once, and the
daily retention is claimed by one process a day (resolvers/retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from config import Settings
from resolvers.imports import fail_stalled_imports
from resolvers.invitations import expire_overdue
from resolvers.notifications import send_due_digests
from resolvers.password_reset import dispatch_password_resets
from resolvers.reminders import send_expiry_reminders
from resolvers.retention import daily_retention

log = logging.getLogger("partnerdesk.housekeeping")

SWEEP_SECONDS = 60.0


async def sweep_once(settings: Settings | None = None) -> dict[str, int]:
    """Run every housekeeping step once (retention when it is due); what each changed."""
    settings = settings or Settings()
    changed = {
        "invitations expired": await expire_overdue(),
        "expiry reminders sent": await send_expiry_reminders(settings),
        "notification digests queued": await send_due_digests(settings),
        "password resets sent": await dispatch_password_resets(settings),
        "stalled imports failed": await fail_stalled_imports(),
    }
    changed.update(
        await daily_retention(
            settings.retention_dismissed_inquiry_days, settings.retention_email_body_days
        )
    )
    return changed


class Housekeeping:
    """Runs `sweep_once` every `interval` seconds, from one interval after start until stop."""

    def __init__(self, interval: float = SWEEP_SECONDS, settings: Settings | None = None) -> None:
        self.interval = interval
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="partnerdesk-housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                changed = await sweep_once(self.settings)
            except Exception:  # the next sweep tries again; a request never waits on this
                log.exception("housekeeping sweep failed")
                continue
            if any(changed.values()):
                log.info(
                    "housekeeping: %s", ", ".join(f"{n} {what}" for what, n in changed.items() if n)
                )
