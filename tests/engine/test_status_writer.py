"""Statuses written behind: the latest value per app, every changed app in one write."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from conveyor.engine.statuswriter import StatusWriter


@dataclass
class App:
    name: str
    status: dict[str, Any] = field(default_factory=dict)

    def status_dict(self) -> dict[str, Any]:
        return dict(self.status)


@dataclass
class Store:
    batches: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    failures: int = 0
    written: asyncio.Event = field(default_factory=asyncio.Event)

    async def save(self, statuses: Mapping[str, dict[str, Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.batches.append(dict(statuses))
        self.written.set()


async def test_changes_of_many_apps_become_one_write_of_their_latest_statuses() -> None:
    store = Store()
    writer = StatusWriter(store.save, interval=0.01)
    a, b = App("a"), App("b")
    a.status = {"sync": "OutOfSync"}
    writer.put(a)
    writer.put(b)
    a.status = {"sync": "Synced"}
    writer.put(a)
    writer.start()
    await asyncio.wait_for(store.written.wait(), 10)
    await writer.stop()
    assert store.batches == [{"a": {"sync": "Synced"}, "b": {}}]


async def test_flush_is_a_barrier_and_a_failed_write_keeps_the_statuses() -> None:
    store = Store(failures=1)
    writer = StatusWriter(store.save)
    app = App("a", {"sync": "Synced"})
    writer.put(app)
    with pytest.raises(OSError):
        await writer.flush()
    assert writer.pending == 1 and store.batches == []
    await writer.flush()
    assert store.batches == [{"a": {"sync": "Synced"}}] and writer.pending == 0
    writer.put(app)
    writer.drop("a")  # deleted meanwhile: nothing to write
    await writer.flush()
    assert len(store.batches) == 1
