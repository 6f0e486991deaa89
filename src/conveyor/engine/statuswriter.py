"""Apps' statuses written behind the controller, many apps in one statement.

A status is derived: a restarted controller recomputes it at its first reconcile, and what
must survive a crash (operations, history, deployments) has its own writes. Writing each
status as it changes made every reconcile wait for a transaction of its own (a thousand apps
syncing at once queued thousands of them). So the controller only marks an app's status
dirty here; a task writes every dirty status, serialized once at its latest value, in one
``Repository.save_statuses`` call ``interval`` seconds after the first change. ``flush`` is
the barrier for a status that must be stored before it is announced (an operation's end,
with its history), and ``stop`` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from conveyor.logging import get_logger

log = get_logger(component="status-writer")

Save = Callable[[Mapping[str, dict[str, Any]]], Awaitable[None]]


class HasStatus(Protocol):
    """What is written: an app's name and its status in Argo CD's JSON."""

    @property
    def name(self) -> str: ...

    def status_dict(self) -> dict[str, Any]: ...


class StatusWriter:
    """Coalesces status writes: the latest status per app, all dirty apps at once."""

    def __init__(self, save: Save, *, interval: float = 0.1, retry_cap: float = 5.0) -> None:
        self._save = save
        self.interval = interval
        self.retry_cap = retry_cap
        self._dirty: dict[str, HasStatus] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.writes = 0
        """Batches written so far (tests, benchmarks)."""

    @property
    def pending(self) -> int:
        """Apps whose status waits to be written."""
        return len(self._dirty)

    def put(self, app: HasStatus) -> None:
        """``app``'s status changed: write its latest value soon."""
        self._dirty[app.name] = app
        self._wake.set()

    def drop(self, name: str) -> None:
        """The app is gone: nothing more to write for it."""
        self._dirty.pop(name, None)

    async def flush(self) -> None:
        """Write every status marked dirty before the call; raises when that fails (the
        statuses stay dirty, to be written by the next flush)."""
        async with self._lock:
            dirty, self._dirty = self._dirty, {}
            if not dirty:
                return
            try:
                await self._save({name: app.status_dict() for name, app in dirty.items()})
            except BaseException:
                self._dirty = {**dirty, **self._dirty}  # newer marks win (same objects)
                raise
            self.writes += 1

    def start(self) -> None:
        """Write in the background (on the running loop); idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="status-writer")

    async def stop(self) -> None:
        """Stop writing in the background and write what is left (logged if that fails:
        the statuses are recomputed at the next start)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.flush()
        except Exception as err:
            log.warning("statuses not written at stop", apps=self.pending, error=str(err))

    async def _run(self) -> None:
        delay = self.interval
        while True:
            await self._wake.wait()
            await asyncio.sleep(delay)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as err:  # derived data: say so, and try again, backing off
                log.warning("writing statuses failed; retrying", apps=self.pending, error=str(err))
                self._wake.set()
                delay = min(delay * 2, self.retry_cap)
            else:
                delay = self.interval
