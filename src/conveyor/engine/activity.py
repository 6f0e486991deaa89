"""The controller's own actions in the audit trail, and Degraded moments in the health record.

An ``EngineListener`` beside the deployment recorder: each operation that ends (not a dry
run) becomes an audit entry, its actor the user who asked or ``system:controller`` for an
auto-sync, a self-heal or a rollback nobody asked for, its revision before the one of the
app's last history entry (stored, so right after a restart too) and its detail naming what it
pruned; each change of an app's health to Degraded becomes a ``HealthEvent`` (DORA's failures
and restores read them). The engine starts before its listeners, so an app already Degraded
then is told by ``record_initial_health``, unless that Degraded was recorded before a restart.
The API hands its own entries (one per mutating request) to ``audit`` here too, so that one
queue writes them all.

Only changes are written: an operation's end, a health change, a request. Nothing here runs
per reconcile. Listeners must not block, so writes go to a queue that one owned task works
through, retrying a failed write until it succeeds; the retention prunes the oldest rows at
most once per ``prune_every``, inside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from conveyor.clock import Clock, SystemClock
from conveyor.engine.events import (
    AppDeleted,
    EngineEvent,
    HealthStatusChanged,
    Initiator,
    OperationFinished,
)
from conveyor.engine.records import (
    CONTROLLER,
    AuditEntry,
    HealthEvent,
    RecordRepository,
    Retention,
)
from conveyor.logging import get_logger
from conveyor.redaction import mask_credentials

log = get_logger(component="activity")

DEGRADED = "Degraded"
SUCCEEDED = "Succeeded"
ACTIONS = {
    Initiator.USER: "operation.sync",
    Initiator.AUTOMATED: "operation.auto-sync",
    Initiator.SELF_HEAL: "operation.self-heal",
    Initiator.ROLLBACK: "operation.rollback",
}
MAX_DETAIL = 512
MAX_PRUNED = 20
"""Pruned resources named in an operation's entry; more are counted ("and N more")."""

Write = Callable[[], Awaitable[object]]


class ActivityRecorder:
    """Writes audit entries and health events to a ``RecordRepository``, behind a queue."""

    def __init__(
        self,
        repository: RecordRepository,
        *,
        retention: Retention | None = None,
        prune_every: timedelta = timedelta(hours=1),
        clock: Clock | None = None,
        retry_delay: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        self._repo = repository
        self._retention = retention or Retention()
        self._prune_every = prune_every
        self._clock = clock or SystemClock()
        self._retry_delay, self._retry_cap = retry_delay, retry_cap
        self._queue: asyncio.Queue[Write] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._pruned_at: float | None = None
        self._deployed: dict[str, str] = {}
        """Each app's last revision synced by a Succeeded operation (the next one's before)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="activity-recorder"
            )

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (False after ``timeout`` seconds:
        a write is being retried)."""
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 30.0) -> None:
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._queue.join()
        worker, self._worker = self._worker, None
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    # -- what is written ---------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        """Queue one audit entry (never blocks)."""
        self._queue.put_nowait(lambda: self._repo.record_audit([entry]))

    def record_initial_health(self, apps: Iterable[Mapping[str, Any]]) -> None:
        """The Applications (Argo CD's shape) as the recorder starts listening: a Degraded one
        gets a health event now, unless the last one recorded for it is the same Degraded (at
        the same synced revision), written before a restart."""
        for app in apps:
            status = app.get("status") or {}
            if (status.get("health") or {}).get("status") != DEGRADED:
                continue
            name = str((app.get("metadata") or {}).get("name") or "")
            revision = str((status.get("sync") or {}).get("revision") or "")
            self._queue.put_nowait(self._initial_degraded(name, revision))

    def _initial_degraded(self, app: str, revision: str) -> Write:
        async def write() -> None:
            known = await self._repo.health_events(app=app)
            if known and (known[-1].health, known[-1].revision) == (DEGRADED, revision):
                return
            await self._repo.record_health(HealthEvent(app, DEGRADED, revision, self._clock.now()))

        return write

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, OperationFinished) and not event.dry_run:
            self.audit(self._operation_entry(event))
            if event.phase == SUCCEEDED and event.revision:
                self._deployed[event.app] = event.revision
        elif isinstance(event, HealthStatusChanged) and event.new == DEGRADED:
            health = HealthEvent(event.app, DEGRADED, event.revision, event.at)
            self._queue.put_nowait(lambda: self._repo.record_health(health))
        elif isinstance(event, AppDeleted):
            self._deployed.pop(event.app, None)

    def _operation_entry(self, event: OperationFinished) -> AuditEntry:
        before = event.revision_before
        if before is None:  # an event that does not say: what this process saw
            before = self._deployed.get(event.app, "")
        return AuditEntry(
            at=event.finished_at,
            actor=event.username or CONTROLLER,
            action=ACTIONS.get(event.initiator, "operation.sync"),
            target_kind="Application",
            target=event.app,
            app=event.app,
            project=event.project,
            source="controller",
            revision_before=before,
            revision_after=event.revision,
            outcome=event.phase,
            detail=operation_detail(event),
        )

    # -- the writer --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            write = await self._queue.get()
            try:
                await self._write(write)
                await self._maybe_prune()
            finally:
                self._queue.task_done()

    async def _write(self, write: Write) -> None:
        delay = self._retry_delay
        while True:
            try:
                await write()
                return
            except Exception as err:  # keep the record, try again
                log.warning("audit or health record write failed, retrying", error=str(err))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_cap)

    async def _maybe_prune(self) -> None:
        now = self._clock.monotonic()
        if (
            self._pruned_at is not None
            and now - self._pruned_at < self._prune_every.total_seconds()
        ):
            return
        self._pruned_at = now
        try:
            gone = await self._repo.prune_audit(self._retention, self._clock.now())
        except Exception as err:  # retention is retried at the next write
            self._pruned_at = None
            log.warning("audit retention failed", error=str(err))
            return
        if gone:
            log.info("audit retention", deleted=gone)


def operation_detail(event: OperationFinished) -> str:
    """The operation's message (credentials masked), then what it pruned, both capped."""
    detail = mask_credentials(event.message)[:MAX_DETAIL]
    if event.pruned:
        named = ", ".join(event.pruned[:MAX_PRUNED])
        more = len(event.pruned) - MAX_PRUNED
        detail += f"; pruned {len(event.pruned)}: {named}"
        if more > 0:
            detail += f" and {more} more"
    return detail
