"""Application changes fanned out to the server's streams.

The controller's engine events (``conveyor.engine.events``) arrive here: each status change
(``AppUpdated``) and each deletion (``AppDeleted``) goes to every open
``/stream/applications`` connection through its own bounded queue, with the Application as
the controller shows it. A subscriber too slow to keep up is dropped (its stream ends, the
client reconnects) rather than letting memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from conveyor.engine.events import AppDeleted, AppUpdated, EngineEvent

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
    """Fan-out of application changes."""

    def __init__(self, lookup: Callable[[str], dict[str, Any] | None]) -> None:
        self._lookup = lookup
        self._subscribers: set[asyncio.Queue[AppEvent]] = set()

    def on_event(self, event: EngineEvent) -> None:
        """The controller's event listener: status changes and deletions go to the streams."""
        if not self._subscribers or not isinstance(event, AppUpdated | AppDeleted):
            return
        application = self._lookup(event.app)  # AppDeleted comes while the app is readable
        if application is not None:
            kind = "MODIFIED" if isinstance(event, AppUpdated) else "DELETED"
            self._publish(AppEvent(kind, application))

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
