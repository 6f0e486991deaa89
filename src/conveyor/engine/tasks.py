"""Background tasks the controller starts, each owned until it ends.

A task that nobody holds can be garbage-collected mid-flight, and its exception is lost
("Task exception was never retrieved"). Every task the controller starts for an app (a sync
operation) goes through ``TaskOwner.start``: the owner keeps it until it is done, and a task
that fails reports its error to ``on_failure``, which shows it as a condition on the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from conveyor.logging import get_logger

log = get_logger(component="tasks")

T = TypeVar("T")

OnFailure = Callable[[str, BaseException], None]
"""Called with (app name, error) when an app's task raised."""


class TaskOwner:
    """Holds every running background task; reports the failures."""

    def __init__(self, on_failure: OnFailure) -> None:
        self._on_failure = on_failure
        self._tasks: dict[asyncio.Task[Any], str] = {}

    def start(self, app: str, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``work`` for ``app`` as a task held until it ends."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks[task] = app
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, task: asyncio.Task[Any]) -> None:
        app = self._tasks.pop(task, "")
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task failed", app=app, task=task.get_name(), error=repr(error))
            self._on_failure(app, error)

    async def cancel_all(self) -> None:
        """Cancel every task and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
