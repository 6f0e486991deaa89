"""The durable deployment record, written from the engine's events.

Argo CD's history is trimmed to revisionHistoryLimit and goes with its app; DORA figures,
notifications and the UI need every deployment, and when it started serving. The
``DeploymentRecorder`` is an ``EngineListener``: an operation's start and end become a record
(dry runs are not deployments), and ``servedAt`` is set the first time after the operation
that the app is Healthy and Synced at the revision it deployed.

Listeners run on the event loop and must not block, and a lost write would be a deployment
missing for good. So every event becomes a write on a queue that one owned task works
through, each app's writes in order (different apps' side by side, so that the store commits
them together); a failed write is retried (with a growing delay) until it succeeds, never
dropped. ``flush`` waits for the writes queued so far, ``close`` for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from conveyor.engine.events import (
    AppDeleted,
    EngineEvent,
    HealthStatusChanged,
    OperationFinished,
    OperationStarted,
    SyncStatusChanged,
)
from conveyor.engine.repository import DeploymentInput, DeploymentRepository
from conveyor.logging import get_logger

log = get_logger(component="deployments")

SYNCED = "Synced"
HEALTHY = "Healthy"
SUCCEEDED = "Succeeded"

Write = Callable[[], Awaitable[object]]


@dataclass
class _Seen:
    """What the events last said about one app's status."""

    sync: str = ""
    revision: str = ""
    health: str = ""

    def serving(self) -> str | None:
        """The revision the app serves (Healthy and Synced at it), or None."""
        if self.sync == SYNCED and self.health == HEALTHY and self.revision:
            return self.revision
        return None


class DeploymentRecorder:
    """Records deployments from engine events into a ``DeploymentRepository``.

    It learns each app's sync and health status from the change events only, so it expects
    the controller to announce an app's first status after a start (a change from "").
    """

    def __init__(
        self,
        repository: DeploymentRepository,
        *,
        retry_delay: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        self._repo = repository
        self._retry_delay = retry_delay
        self._retry_cap = retry_cap
        self._queue: asyncio.Queue[tuple[str, str, Write]] = asyncio.Queue()
        self._seen: dict[str, _Seen] = {}
        self._worker: asyncio.Task[None] | None = None
        self._retrying: dict[str, str] = {}
        """What is being retried, and why (several apps' writes run side by side)."""
        self.failing: str | None = None
        """The error of a write being retried (None when writes go through)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer task (on the running loop); idempotent."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="deployment-recorder"
            )

    async def flush(self) -> None:
        """Wait until every write queued so far is in the repository."""
        if self._worker is None or self._worker.done():
            raise RuntimeError("the deployment recorder is not running: call start() first")
        await self._queue.join()

    async def close(self, timeout: float = 30.0) -> None:
        """Write what is queued (waiting ``timeout`` seconds at most), then stop."""
        if self._worker is None:
            return
        if not self._worker.done():
            try:
                async with asyncio.timeout(timeout):
                    await self._queue.join()
            except TimeoutError:
                log.error(
                    "stopping with deployment records unwritten",
                    unwritten=self._queue.qsize() + 1,
                    error=self.failing,
                )
        worker, self._worker = self._worker, None
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    @property
    def pending(self) -> int:
        """Writes not yet done."""
        return self._queue.qsize()

    # -- the listener ------------------------------------------------------------------------

    def __call__(self, event: EngineEvent) -> None:
        """Turn one event into the writes it calls for (never blocks)."""
        if isinstance(event, OperationStarted):
            self._started(event)
        elif isinstance(event, OperationFinished):
            self._finished(event)
        elif isinstance(event, SyncStatusChanged):
            seen = self._seen.setdefault(event.app, _Seen())
            before = seen.serving()
            seen.sync, seen.revision = event.new, event.revision
            self._maybe_served(event.app, before, seen, event.at)
        elif isinstance(event, HealthStatusChanged):
            seen = self._seen.setdefault(event.app, _Seen())
            before = seen.serving()
            seen.health = event.new
            self._maybe_served(event.app, before, seen, event.at)
        elif isinstance(event, AppDeleted):
            self._seen.pop(event.app, None)

    def _started(self, event: OperationStarted) -> None:
        if event.dry_run:
            return
        deployment = DeploymentInput(
            operation_id=event.operation_id,
            app=event.app,
            project=event.project,
            destination=event.destination,
            revision=event.revision,
            initiator=event.initiator,
            username=event.username,
            started_at=event.at,
        )
        self._put(f"start of {event.app} operation {event.operation_id}", deployment)

    def _finished(self, event: OperationFinished) -> None:
        if event.dry_run:
            return
        deployment = DeploymentInput(
            operation_id=event.operation_id,
            app=event.app,
            project=event.project,
            destination=event.destination,
            revision=event.revision,
            initiator=event.initiator,
            username=event.username,
            started_at=event.started_at,
            phase=event.phase,
            message=event.message,
            finished_at=event.finished_at,
            app_commit=event.app_commit.sha,
            app_commit_at=event.app_commit.at,
        )
        self._put(f"end of {event.app} operation {event.operation_id}", deployment)
        seen = self._seen.get(event.app)
        if event.phase == SUCCEEDED and seen is not None and seen.serving() == event.revision:
            # Healthy and Synced at this revision already while it finished: served now.
            self._serve(event.app, event.revision, event.finished_at)

    def _maybe_served(self, app: str, before: str | None, seen: _Seen, at: datetime) -> None:
        now = seen.serving()
        if now is not None and now != before:
            self._serve(app, now, at)

    def _put(self, what: str, deployment: DeploymentInput) -> None:
        self._queue.put_nowait(
            (deployment.app, what, lambda: self._repo.record_deployment(deployment))
        )

    def _serve(self, app: str, revision: str, at: datetime) -> None:
        self._queue.put_nowait(
            (
                app,
                f"servedAt of {app} at {revision}",
                lambda: self._repo.mark_deployment_served(app, revision, at),
            )
        )

    # -- the writer --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_batch(self, batch: list[tuple[str, str, Write]]) -> None:
        """Every app's writes in order, different apps side by side (the store commits
        writes that arrive together in one transaction)."""
        per_app: dict[str, list[tuple[str, Write]]] = {}
        for app, what, write in batch:
            per_app.setdefault(app, []).append((what, write))

        async def in_order(writes: list[tuple[str, Write]]) -> None:
            for what, write in writes:
                await self._write(what, write)

        await asyncio.gather(*(in_order(w) for w in per_app.values()))

    async def _write(self, what: str, write: Write) -> None:
        """Write until it succeeds: a deployment is never dropped."""
        delay = self._retry_delay
        while True:
            try:
                await write()
            except Exception as err:  # any failure: keep the record, try again
                reason = f"recording the {what} failed, retrying: {err}"
                self.failing = self._retrying[what] = reason
                log.warning("deployment record write failed", what=what, error=str(err))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_cap)
            else:
                self._retrying.pop(what, None)
                self.failing = next(iter(self._retrying.values()), None)
                return
