"""Group commit: the store's transactions that arrive together share one commit.

A sync writes its operation when it starts, after each step and when it ends, and hundreds of
syncs run at once when many apps change. SQLite has one writer, and each transaction costs
a connection checkout, ``BEGIN IMMEDIATE``, ``COMMIT`` and a rollback-on-return, each a hop to
the driver's thread: a thousand apps made ten thousand of them, queued one after another.

Here every unit of work (a function of a session) waits in one queue; a single writer task
runs all the units waiting, in arrival order, in one transaction, then answers each caller.
Nobody hears "done" before their unit is committed, so what must survive a crash still does.
When a unit fails, the batch is rolled back and each of its units runs again alone in its own
transaction, so one caller's error (or constraint) never fails or loses another's write.
With a ``Fence`` (several servers share the database), every transaction first checks that
this process still holds its lease: a process that lost it writes nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.store.db import Database
from conveyor.store.leases import Fence

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]

MAX_BATCH = 256
"""Units in one transaction at most (a long transaction would delay the first caller)."""


@dataclass
class _Unit:
    work: Work[Any]
    future: asyncio.Future[Any]


class GroupCommit:
    """Runs units of work in shared transactions, one transaction at a time, in order."""

    def __init__(self, database: Database, *, fence: Fence | None = None) -> None:
        self._db = database
        self._fence = fence
        self._pending: list[_Unit] = []
        self._writer: asyncio.Task[None] | None = None
        self.transactions = 0
        """Transactions committed or rolled back so far (tests, benchmarks)."""

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction (shared with whatever else waits); its result once
        committed. Its exception when it raised, after the others were committed without it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append(_Unit(work, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="store-group-commit")
        return await future

    async def _write(self) -> None:
        while self._pending:
            batch = [u for u in self._pending[:MAX_BATCH] if not u.future.done()]
            del self._pending[:MAX_BATCH]  # a cancelled caller's unit is not run
            if not batch:
                continue
            try:
                results = await self._transaction(batch)
            except asyncio.CancelledError:
                for unit in batch:
                    unit.future.cancel()
                raise
            except Exception:
                await self._one_by_one(batch)
                continue
            for unit, result in zip(batch, results, strict=True):
                if not unit.future.done():
                    unit.future.set_result(result)

    async def _transaction(self, batch: list[_Unit]) -> list[Any]:
        self.transactions += 1
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            if self._fence is not None:
                await self._fence.check(session)
            return [await unit.work(session) for unit in batch]

    async def _one_by_one(self, batch: list[_Unit]) -> None:
        """After a failed batch: each unit alone, so that only the failing one fails."""
        for unit in batch:
            if unit.future.done():
                continue
            try:
                (result,) = await self._transaction([unit])
            except asyncio.CancelledError:
                for other in batch:
                    other.future.cancel()
                raise
            except Exception as err:
                with contextlib.suppress(asyncio.InvalidStateError):
                    unit.future.set_exception(err)
            else:
                with contextlib.suppress(asyncio.InvalidStateError):
                    unit.future.set_result(result)
