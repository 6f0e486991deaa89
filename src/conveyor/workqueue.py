"""A keyed work queue in the manner of client-go's: one reconcile per key at a time.

Many things ask for a key to be looked at (for the engine an application: the poll, a refresh,
a webhook, the end of a sync; for the local runtime an object: a change, its owner, a timer);
the queue folds them into one pending entry per key, and a key that is being worked on when it
is asked for again is worked on once more right after, never twice at the same time. Several
workers take keys in parallel, so a slow key never blocks the rest. The engine and the local
runtime share this one queue, so it imports no layer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from conveyor.logging import get_logger

K = TypeVar("K", bound=Hashable)

log = get_logger(component="workqueue")


class WorkQueue(Generic[K]):
    """Deduplicating queue with delayed adds and ``workers`` parallel handlers."""

    def __init__(self, handler: Callable[[K], Awaitable[None]], *, workers: int = 8) -> None:
        self._handler = handler
        self._workers = workers
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._pending: set[K] = set()
        self._active: set[K] = set()
        self._again: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the workers (in the running loop)."""
        for n in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"workqueue-{n}"))

    async def stop(self) -> None:
        """Stop the workers; keys still pending are dropped."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def add(self, key: K) -> None:
        """Ask for ``key`` to be handled (once, however often it is asked)."""
        if key in self._active:
            self._again.add(key)
            return
        if key in self._pending:
            return
        self._pending.add(key)
        self._idle.clear()
        self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Handle ``key`` after ``delay`` seconds; an earlier request for it wins."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        existing = self._timers.get(key)
        if existing is not None:
            if existing.when() <= when:
                return
            existing.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def forget(self, key: K) -> None:
        """Drop a delayed request for ``key`` (the key was deleted)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def busy(self, key: K) -> bool:
        """Whether the handler is running for ``key`` right now."""
        return key in self._active

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def __len__(self) -> int:
        return len(self._pending) + len(self._active)

    async def drain(self) -> None:
        """Wait until nothing is pending or active (timers excepted)."""
        while self._pending or self._active:
            self._idle.clear()
            await self._idle.wait()

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            self._active.add(key)
            try:
                await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # one key's failure never stops the queue
                log.exception("handler failed", key=str(key), error=str(err))
            finally:
                self._active.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.add(key)
                if not self._pending and not self._active:
                    self._idle.set()
