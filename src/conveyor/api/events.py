"""Application changes fanned out to the server's streams, and waits for a reconcile.

The controller calls one listener per status change; this module hands each change to every
open ``/stream/applications`` connection through its own bounded queue. A subscriber too
slow to keep up is dropped (its stream ends, the client reconnects) rather than letting
memory grow. ``wait_reconciled`` lets ``GET ?refresh=`` answer after the refresh it asked
for has run, whether or not the status changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 1000


@dataclass(frozen=True)
class AppEvent:
    """Argo CD's ApplicationWatchEvent: ADDED, MODIFIED or DELETED, with the Application."""

    type: str
    application: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"result": {"type": self.type, "application": self.application}}


CLOSED = AppEvent("CLOSED", {})
"""Put on a subscriber's queue when it is dropped or the server stops."""


class AppEvents:
    """Fan-out of application changes; reconcile notices for refreshes."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[AppEvent]] = set()
        self._waiters: dict[str, list[tuple[float, asyncio.Future[None]]]] = {}

    # -- changes ----------------------------------------------------------------------------

    def changed(self, name: str, application: dict[str, Any]) -> None:
        """The controller's listener: ``name``'s status changed."""
        del name
        self._publish(AppEvent("MODIFIED", application))

    def deleted(self, application: dict[str, Any]) -> None:
        self._publish(AppEvent("DELETED", application))

    def _publish(self, event: AppEvent) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[AppEvent]) -> None:
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(CLOSED)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[AppEvent]]:
        """A queue of the changes from now on, until the block ends."""
        queue: asyncio.Queue[AppEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for queue in list(self._subscribers):
            self._drop(queue)

    # -- reconciles -------------------------------------------------------------------------

    def reconciled(self, name: str, duration: float) -> None:
        """A reconcile of ``name`` that took ``duration`` seconds has just ended."""
        started = time.monotonic() - duration
        waiting = self._waiters.get(name, [])
        keep = []
        for since, future in waiting:
            if future.done():
                continue
            if started >= since:
                future.set_result(None)
            else:
                keep.append((since, future))
        if keep:
            self._waiters[name] = keep
        else:
            self._waiters.pop(name, None)

    def expect_reconcile(self, name: str) -> asyncio.Future[None]:
        """A future done when a reconcile of ``name`` that starts from now on has ended."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append((time.monotonic(), future))
        return future

    async def wait(self, future: asyncio.Future[None], timeout: float) -> bool:
        """Wait for ``future`` up to ``timeout`` seconds; False on timeout."""
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            future.cancel()
            return False
        return True
