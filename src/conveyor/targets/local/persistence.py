"""When the local runtime's state is written: behind, in the background, or now (a barrier).

The runtime records every change to its journal; writing each one would make it as slow as
the disk. So ``WriteBehind`` wraps the journal: records are buffered by the journal and
flushed ``interval`` seconds after a change, by a task this module owns. Two things the
journal alone cannot give are added here, above the StateJournal seam:

- a failing flush is not just a log line: ``failure`` says why (and since when) until a
  flush goes through again, and ``LocalTarget.conditions()`` shows it on every app, because
  what the runtime runs would not survive a restart. Retries back off up to ``retry_cap``.
- ``barrier()`` writes everything recorded so far before it returns, and raises if it
  cannot: a decision that must survive kill -9 (an abort, a promotion, a traffic weight)
  calls it (through ``LocalRuntime.persist_now``) before acting on the decision.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from conveyor.clock import Clock, SystemClock
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.model.objects import Object
from conveyor.targets.local.journal import RuntimeState, StateJournal

log = get_logger(component="runtime-journal")


@dataclass(frozen=True)
class JournalFailure:
    """Why the journal cannot be written, since when."""

    error: str
    since: datetime


class WriteBehind:
    """A StateJournal that flushes its inner journal behind the runtime, and on demand.

    The inner journal's ``flush`` must keep what it could not write buffered and raise
    (as ``store.RuntimeStateStore`` does): that is what makes a retry, and a barrier after a
    failed background flush, write everything.
    """

    def __init__(
        self,
        journal: StateJournal,
        *,
        interval: float = 0.2,
        retry_cap: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        if interval <= 0:
            raise ValidationError(f"flush interval must be positive, not {interval}")
        self.inner = journal
        self.interval = interval
        self.retry_cap = max(retry_cap, interval)
        self._clock = clock or SystemClock()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None
        """The background write in progress: never cancelled halfway (a write cut off inside
        its transaction would keep SQLite's write lock from every later one)."""
        self.failure: JournalFailure | None = None
        """Set while flushing fails; None once a flush goes through."""

    # -- StateJournal ----------------------------------------------------------------------

    async def load(self) -> RuntimeState:
        return await self.inner.load()

    def record_object(self, key: str, obj: Object | None) -> None:
        self.inner.record_object(key, obj)
        self._dirty.set()

    def record_port(self, owner: str, port: int | None) -> None:
        self.inner.record_port(owner, port)
        self._dirty.set()

    async def flush(self) -> None:
        """Write everything recorded so far (the same as ``barrier``)."""
        await self.barrier()

    async def close(self) -> None:
        """Stop flushing in the background, write what is left, close the inner journal."""
        await self.stop()
        await self.inner.close()

    # -- write-behind ----------------------------------------------------------------------

    async def barrier(self) -> None:
        """Return once everything recorded before the call is in the journal's store.

        Raises the journal's error when it cannot be written: the caller must not act on a
        decision that would not survive a crash.
        """
        try:
            await self.inner.flush()
        except Exception as err:
            self._failed(err)
            raise
        self._recovered()

    def start(self) -> None:
        """Flush ``interval`` seconds after each change, in a task owned here; idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="runtime-journal-writer"
            )

    async def stop(self) -> None:
        """Stop the background task and flush what is left (raising if that fails)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writing, self._writing = self._writing, None
        if writing is not None and not writing.done():
            with contextlib.suppress(Exception):  # the barrier below reports a failure
                await writing
        await self.barrier()

    async def _run(self) -> None:
        delay = self.interval
        while True:
            await self._dirty.wait()
            await asyncio.sleep(delay)
            self._dirty.clear()
            self._writing = asyncio.ensure_future(self.barrier())
            try:
                await asyncio.shield(self._writing)
            except asyncio.CancelledError:
                raise  # stop() waits for the write itself
            except Exception:  # reported by barrier(); try again, backing off
                self._dirty.set()
                delay = min(delay * 2, self.retry_cap)
            else:
                delay = self.interval

    def _failed(self, err: Exception) -> None:
        message = str(err) or type(err).__name__
        if self.failure is None:
            log.warning("runtime state cannot be written", error=message)
            self.failure = JournalFailure(message, self._clock.now())
        else:
            self.failure = JournalFailure(message, self.failure.since)

    def _recovered(self) -> None:
        if self.failure is not None:
            log.info("runtime state written again", after=self.failure.error)
            self.failure = None
