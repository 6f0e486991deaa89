"""The keyed work queue shared by the engine and the local runtime."""

from __future__ import annotations

import asyncio
from collections import Counter

from conveyor.workqueue import WorkQueue


async def test_requests_for_a_pending_key_fold_into_one() -> None:
    seen: Counter[str] = Counter()

    async def handle(key: str) -> None:
        seen[key] += 1

    queue: WorkQueue[str] = WorkQueue(handle, workers=2)
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    queue.start()
    async with asyncio.timeout(5):
        await queue.drain()
    await queue.stop()
    assert seen == {"a": 1, "b": 1}


async def test_a_key_asked_for_while_running_runs_again_after_never_alongside() -> None:
    running: set[str] = set()
    overlaps = 0
    runs = 0
    release = asyncio.Event()
    first_started = asyncio.Event()

    async def handle(key: str) -> None:
        nonlocal overlaps, runs
        overlaps += key in running
        running.add(key)
        runs += 1
        first_started.set()
        await release.wait()
        running.discard(key)

    queue: WorkQueue[str] = WorkQueue(handle, workers=4)
    queue.start()
    queue.add("app")
    async with asyncio.timeout(5):
        await first_started.wait()
        queue.add("app")
        queue.add("app")
        release.set()
        await queue.drain()
    await queue.stop()
    assert (runs, overlaps) == (2, 0)


async def test_a_slow_key_does_not_block_another_and_a_failure_does_not_stop_the_queue() -> None:
    fast_done = asyncio.Event()
    slow_release = asyncio.Event()

    async def handle(key: str) -> None:
        if key == "slow":
            await slow_release.wait()
        elif key == "broken":
            raise RuntimeError("boom")
        else:
            fast_done.set()

    queue: WorkQueue[str] = WorkQueue(handle, workers=2)
    queue.start()
    queue.add("slow")
    queue.add("broken")
    queue.add("fast")
    async with asyncio.timeout(5):
        await fast_done.wait()
        slow_release.set()
        await queue.drain()
    await queue.stop()


async def test_the_earliest_delayed_request_wins_and_forget_drops_it() -> None:
    handled: list[str] = []
    events = {key: asyncio.Event() for key in ("soon", "late-then-soon", "marker")}

    async def handle(key: str) -> None:
        handled.append(key)
        events[key].set()

    queue: WorkQueue[str] = WorkQueue(handle)
    queue.start()
    queue.add_after("late-then-soon", 3600)
    queue.add_after("late-then-soon", 0.01)  # the earlier request replaces the later
    queue.add_after("soon", 0.01)
    queue.add_after("soon", 3600)  # a later request does not postpone an earlier one
    queue.add_after("forgotten", 0.01)
    queue.forget("forgotten")
    queue.add_after("marker", 0.2)  # fires after every 0.01 s timer would have
    async with asyncio.timeout(5):
        for event in events.values():
            await event.wait()
    await queue.stop()
    assert sorted(handled) == ["late-then-soon", "marker", "soon"]
