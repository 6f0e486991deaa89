"""The runtime's journal: a failing flush is a condition until it recovers; a barrier writes
everything before it returns (a fresh store object reads it back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.errors import TemporaryError
from conveyor.model.objects import Object, ObjectKey
from conveyor.settings import Settings
from conveyor.store import RuntimeStateStore, open_database
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.journal import MemoryJournal, StateJournal
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import RUNTIME_STATE_NOT_PERSISTED, LocalTarget
from conveyor.targets.protocol import TargetCondition


def configmap(name: str, value: str) -> Object:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
            "namespace": "default"}, "data": {"weight": value}}  # fmt: skip


class BrokenDatabaseJournal(MemoryJournal):
    """A StateJournal whose writes fail while ``broken``, keeping records buffered as the
    protocol asks (the store's journal does the same on a database error)."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer: dict[str, Object | None] = {}
        self.broken = False
        self.failures = 0

    def record_object(self, key: str, obj: Object | None) -> None:
        self.buffer[key] = obj

    async def flush(self) -> None:
        if self.broken:
            self.failures += 1
            raise TemporaryError("writing runtime state failed: disk I/O error", obj="db")
        buffered, self.buffer = self.buffer, {}
        for key, obj in buffered.items():
            super().record_object(key, obj)

    def names(self) -> set[str]:
        return {o["metadata"]["name"] for o in self.state.objects if o["kind"] == "ConfigMap"}


def runtime_on(journal: StateJournal, tmp_path: Path, flush_interval: float) -> LocalRuntime:
    return LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=journal,
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
        flush_interval=flush_interval,
    )


async def until_conditions(target: LocalTarget, has: bool) -> list[TargetCondition]:
    async with asyncio.timeout(10):
        while bool(target.conditions()) != has:
            await asyncio.sleep(0.01)
    return target.conditions()


@pytest.fixture
async def broken(tmp_path: Path) -> AsyncIterator[tuple[BrokenDatabaseJournal, LocalRuntime]]:
    journal = BrokenDatabaseJournal()
    runtime = runtime_on(journal, tmp_path, flush_interval=0.01)
    await runtime.start()
    yield journal, runtime
    journal.broken = False
    await runtime.stop()


async def test_a_failing_flush_is_a_condition_until_one_goes_through(
    broken: tuple[BrokenDatabaseJournal, LocalRuntime],
) -> None:
    journal, runtime = broken
    target = LocalTarget(runtime)
    await target.apply(configmap("before", "1"))
    await runtime.persist_now()
    assert target.conditions() == [] and "before" in journal.names()

    journal.broken = True
    await target.apply(configmap("weights", "20"))
    [condition] = await until_conditions(target, has=True)
    assert condition.type == RUNTIME_STATE_NOT_PERSISTED == "RuntimeStateNotPersisted"
    assert "disk I/O error" in condition.message and "restart" in condition.message
    retried = journal.failures
    async with asyncio.timeout(10):  # it keeps trying in the background
        while journal.failures == retried:
            await asyncio.sleep(0.01)
    with pytest.raises(TemporaryError, match="disk I/O error"):
        await runtime.persist_now()  # a decision must not be acted on: it would be lost
    assert "weights" not in journal.names()

    journal.broken = False
    assert await until_conditions(target, has=False) == []
    assert "weights" in journal.names()  # nothing recorded while it failed was lost


async def test_after_the_barrier_the_state_is_in_the_store(tmp_path: Path) -> None:
    settings = Settings.from_env(home=tmp_path / "home")
    database = await open_database(settings)
    runtime = runtime_on(RuntimeStateStore(database), tmp_path, flush_interval=3600)
    try:
        await runtime.start()
        await runtime.persist_now()
        await LocalTarget(runtime).apply(configmap("canary-weight", "40"))
        key = str(ObjectKey("", "ConfigMap", "default", "canary-weight"))

        async def stored() -> list[Object]:
            async with await open_database(settings) as fresh:
                objects = (await RuntimeStateStore(fresh).load()).objects
            return [o for o in objects if str(ObjectKey.of(o)) == key]

        assert await stored() == []  # write-behind: not yet (the next flush is an hour away)
        await runtime.persist_now()
        [obj] = await stored()
        assert obj["data"] == {"weight": "40"}
    finally:
        await runtime.stop()
        await database.close()
