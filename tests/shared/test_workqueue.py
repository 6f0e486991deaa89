"""The keyed work queue: one pending entry per key, never one key twice at once, delays.

Tested through its public API only (add, add_after, forget, drain, len, start, stop). Every
"did not happen" is shown by an event that would have come after it: a later key handled by
the same single worker, or the queue drained.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from conveyor.workqueue import WorkQueue

TIMEOUT = 10.0


@dataclass
class Recorder:
    """A handler that records keys, can be held on a key, and tracks concurrency per key."""

    handled: list[str] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)
    most_at_once: dict[str, int] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    started: dict[str, asyncio.Event] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    fail: set[str] = field(default_factory=set)

    async def __call__(self, key: str) -> None:
        self.running[key] = self.running.get(key, 0) + 1
        self.most_at_once[key] = max(self.most_at_once.get(key, 0), self.running[key])
        self.started.setdefault(key, asyncio.Event()).set()
        try:
            gate = self.gates.get(key)
            if gate is not None:
                await gate.wait()
            if key in self.fail:
                raise RuntimeError(f"handler failed on {key}")
        finally:
            self.running[key] -= 1
            self.handled.append(key)
            self.changed.set()

    def hold(self, key: str) -> asyncio.Event:
        self.gates[key] = asyncio.Event()
        return self.gates[key]

    async def until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    async def has_started(self, key: str) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.started.setdefault(key, asyncio.Event()).wait()


Make = Callable[[int], Awaitable[tuple["WorkQueue[str]", Recorder]]]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    queues: list[WorkQueue[str]] = []

    async def build(workers: int) -> tuple[WorkQueue[str], Recorder]:
        recorder = Recorder()
        queue: WorkQueue[str] = WorkQueue(recorder, workers=workers)
        queue.start()
        queues.append(queue)
        return queue, recorder

    yield build
    for queue in queues:
        await queue.stop()


async def test_a_key_asked_for_many_times_is_handled_once(make: Make) -> None:
    queue, recorder = await make(1)
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    async with asyncio.timeout(TIMEOUT):
        await queue.drain()
    assert recorder.handled == ["a", "b"]
    assert len(queue) == 0


async def test_a_key_asked_for_while_handled_runs_once_more_after_never_twice_at_once(
    make: Make,
) -> None:
    queue, recorder = await make(4)
    gate = recorder.hold("a")
    queue.add("a")
    await recorder.has_started("a")
    for _ in range(3):
        queue.add("a")  # folded into one more run, after this one
    assert len(queue) == 1
    gate.set()
    async with asyncio.timeout(TIMEOUT):
        await queue.drain()
    assert recorder.handled == ["a", "a"]
    assert recorder.most_at_once == {"a": 1}


async def test_a_slow_key_does_not_block_the_others(make: Make) -> None:
    queue, recorder = await make(2)
    gate = recorder.hold("slow")
    queue.add("slow")
    await recorder.has_started("slow")
    queue.add("fast")
    await recorder.until(lambda: "fast" in recorder.handled)
    assert recorder.handled == ["fast"]
    gate.set()
    async with asyncio.timeout(TIMEOUT):
        await queue.drain()
    assert recorder.handled == ["fast", "slow"]


async def test_a_failing_handler_does_not_stop_the_queue(make: Make) -> None:
    queue, recorder = await make(1)
    recorder.fail.add("bad")
    queue.add("bad")
    queue.add("good")
    async with asyncio.timeout(TIMEOUT):
        await queue.drain()
    assert recorder.handled == ["bad", "good"]
    queue.add("bad")  # the failed key can be asked for again
    await recorder.until(lambda: recorder.handled.count("bad") == 2)


async def test_the_earlier_of_two_delayed_requests_wins(make: Make) -> None:
    queue, recorder = await make(1)
    queue.add_after("a", 3600.0)
    queue.add_after("a", 0.01)  # sooner: replaces the hour
    await recorder.until(lambda: "a" in recorder.handled)
    queue.add_after("b", 0.01)
    queue.add_after("b", 3600.0)  # later: the sooner one stands
    await recorder.until(lambda: "b" in recorder.handled)
    assert recorder.handled == ["a", "b"]


async def test_a_forgotten_key_is_not_handled_when_its_delay_ends(make: Make) -> None:
    queue, recorder = await make(1)
    queue.add_after("deleted", 0.01)
    queue.forget("deleted")
    queue.add_after("witness", 0.05)  # fires after the forgotten one would have
    await recorder.until(lambda: "witness" in recorder.handled)
    assert recorder.handled == ["witness"]


async def test_a_delay_of_zero_is_an_add(make: Make) -> None:
    queue, recorder = await make(1)
    queue.add_after("now", 0)
    assert len(queue) == 1
    async with asyncio.timeout(TIMEOUT):
        await queue.drain()
    assert recorder.handled == ["now"]


async def test_drain_waits_for_work_that_is_running(make: Make) -> None:
    queue, recorder = await make(2)
    gate = recorder.hold("a")
    queue.add("a")
    await recorder.has_started("a")

    async def drain() -> None:
        await queue.drain()
        recorder.handled.append("drained")

    drained = asyncio.create_task(drain())
    queue.add("b")
    await recorder.until(lambda: "b" in recorder.handled)  # drain has been waiting meanwhile
    assert "drained" not in recorder.handled
    gate.set()
    async with asyncio.timeout(TIMEOUT):
        await drained
    assert recorder.handled == ["b", "a", "drained"]


async def test_stop_cancels_running_work_and_drops_what_is_pending(make: Make) -> None:
    queue, recorder = await make(1)
    recorder.hold("a")
    queue.add("a")
    await recorder.has_started("a")
    queue.add("b")
    await queue.stop()
    assert recorder.handled == ["a"]  # cancelled while running
    assert recorder.running == {"a": 0}
    assert "b" not in recorder.started
