"""The outbox's sender: due notifications sent with httpx, retried with backoff, dead-lettered.

One owned task takes the due rows (``NotificationStore.due``), builds each request from the
current configuration (``notify.services``: secrets resolved now, never stored), and records
the outcome: sent on a 2xx (and, for Slack's Web API, ``"ok": true``); otherwise pending
again after ``conveyor.backoff.exponential_delay`` (the attempt's error kept), and dead after
``max_attempts``. A request that cannot be built (no such service, a template without a part
for it) is dead at once: retrying cannot help. Errors are masked: no secret value of the
configuration appears in the stored error or the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from conveyor.backoff import exponential_delay
from conveyor.clock import Clock, SystemClock
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.notify.config import NotificationConfig
from conveyor.notify.services import Request, build_request
from conveyor.redaction import mask_credentials
from conveyor.store.notifications import DEAD, PENDING, SENT, NotificationStore, OutboxEntry

log = get_logger(component="notification-sender")


@dataclass(frozen=True)
class DeliveryOptions:
    """How hard the sender tries."""

    max_attempts: int = 5
    """Attempts before a notification is dead-lettered."""
    retry_base: float = 2.0
    """Seconds before the second attempt; doubling after each failure."""
    retry_cap: float = 300.0
    """The longest wait between attempts."""
    timeout: float = 10.0
    """Seconds one request may take."""
    idle_poll: float = 30.0
    """How often an idle sender looks at the outbox (another replica may have written)."""


class Deliverer:
    """Sends what the outbox holds."""

    def __init__(
        self,
        store: NotificationStore,
        config: Callable[[], NotificationConfig],
        *,
        options: DeliveryOptions | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self.options = options or DeliveryOptions()
        self._clock = clock or SystemClock()
        self._transport = transport
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.options.timeout, transport=self._transport, follow_redirects=False
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notify-sender")

    def wake(self) -> None:
        """Look at the outbox now (something was queued)."""
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.send_due()
                wait = await self._until_next()
            except Exception as err:  # the store is unreachable: look again later
                log.warning("notification outbox unreadable", error=str(err))
                wait = min(self.options.idle_poll, 5.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _until_next(self) -> float:
        due = await self._store.next_due()
        if due is None:
            return self.options.idle_poll
        seconds = (due - self._clock.now()).total_seconds()
        return max(0.0, min(seconds, self.options.idle_poll))

    async def send_due(self) -> int:
        """Send every due row once; how many were tried."""
        tried = 0
        while True:
            batch = await self._store.due(self._clock.now())
            if not batch:
                return tried
            for entry in batch:
                await self._attempt(entry)
                tried += 1

    async def _attempt(self, entry: OutboxEntry) -> None:
        config = self._config()
        attempts = entry.attempts + 1
        rendered = dict(entry.body.get("rendered") or {})
        try:
            request = build_request(config, entry.service, entry.recipient, rendered)
        except ValidationError as err:
            await self._finish(entry, DEAD, attempts, _masked(str(err), config))
            return
        error = await self._send(request)
        if error is None:
            await self._finish(entry, SENT, attempts, "")
        elif attempts >= self.options.max_attempts:
            await self._finish(entry, DEAD, attempts, _masked(error, config))
        else:
            delay = exponential_delay(attempts - 1, self.options.retry_base, self.options.retry_cap)
            next_at = self._clock.now() + timedelta(seconds=delay)
            await self._finish(entry, PENDING, attempts, _masked(error, config), next_at)

    async def _send(self, request: Request) -> str | None:
        """None when the service took the notification, else why not."""
        assert self._client is not None, "start() the sender first"
        try:
            response = await self._client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"
        if not response.is_success:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        if request.slack_api:
            with contextlib.suppress(ValueError):
                answer = response.json()
                if isinstance(answer, dict) and not answer.get("ok", False):
                    return f"Slack: {answer.get('error', json.dumps(answer)[:200])}"
        return None

    async def _finish(
        self,
        entry: OutboxEntry,
        status: str,
        attempts: int,
        error: str,
        next_at: datetime | None = None,
    ) -> None:
        now = self._clock.now()
        await self._store.attempted(
            entry.id, status=status, attempts=attempts, error=error, at=now,
            next_at=next_at,
        )  # fmt: skip
        log_fn = log.info if status == SENT else log.warning
        log_fn(
            "notification " + {SENT: "sent", DEAD: "dead-lettered", PENDING: "failed"}[status],
            id=entry.id, trigger=entry.trigger, service=entry.service,
            recipient=entry.recipient, subject=entry.subject, attempts=attempts, error=error,
        )  # fmt: skip


def _masked(text: str, config: NotificationConfig) -> str:
    """``text`` with the Secret's values and any URL credentials masked."""
    for value in config.secret_values():
        text = text.replace(value, "******")
    return mask_credentials(text)
