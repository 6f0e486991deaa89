"""Leadership of a server process: standby until the lease is had, the engine started under
its fence, the lease released after the engine stops, a lost lease stops the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from conveyor.api.ha import elected
from conveyor.settings import Settings
from conveyor.store import Database, open_database
from conveyor.store.leases import LOCAL_SHARD, Fence, LeaseStore
from conveyor.store.tables import LeaseRow


class Engine:
    """Stands for the runtime and the controller: when it runs, and under which fence."""

    def __init__(self, leases: LeaseStore | None = None) -> None:
        self.fence: Fence | None = None
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.lease_at_stop: str | None = None
        self._leases = leases

    @asynccontextmanager
    async def __call__(self, fence: Fence) -> AsyncIterator[None]:
        self.fence = fence
        self.started.set()
        try:
            yield
        finally:
            if self._leases is not None:
                lease = await self._leases.get(LOCAL_SHARD)
                self.lease_at_stop = lease.holder if lease is not None else None
            self.stopped.set()


def settings_with(tmp_path: Path, ttl: float) -> Settings:
    base = Settings.from_env(home=tmp_path)
    return Settings(home=tmp_path, database_url=base.database_url, ha="on", lease_ttl=ttl)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await open_database(settings_with(tmp_path, 30.0))
    yield db
    await db.close()


def server() -> Any:
    """What ``elected`` needs of the FastAPI app: its ``state``."""
    return SimpleNamespace(state=SimpleNamespace())


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_a_standby_leads_as_soon_as_the_holder_stops_gracefully(
    tmp_path: Path, database: Database
) -> None:
    settings = settings_with(tmp_path, 30.0)  # far longer than the test waits for anything
    leases = LeaseStore(database)
    first, second = Engine(leases), Engine()
    lost: list[str] = []
    async with AsyncExitStack() as b_stack:
        async with elected(
            server(), settings, database, "http://a", first, on_lost=lost.append
        ) as a:
            # The lease was free: the server is ready once its engine is, as without leases.
            assert a.leading and first.started.is_set()
            assert first.fence is not None and first.fence.token == 1
            b = await b_stack.enter_async_context(
                elected(server(), settings, database, "http://b", second, on_lost=lost.append)
            )
            await until(lambda: b.leader_url() == "http://a")
            assert not b.leading and not second.started.is_set()
        # a stopped its engine while still holding the lease, then released it
        assert first.lease_at_stop == first.fence.holder
        await asyncio.wait_for(second.started.wait(), 10)
        assert second.fence is not None and second.fence.token == 2
        await until(lambda: b.leading)
    assert second.stopped.is_set()
    assert lost == []


async def test_a_holder_whose_lease_is_taken_is_told_to_stop(
    tmp_path: Path, database: Database
) -> None:
    settings = settings_with(tmp_path, 0.6)  # renewed every 0.2 s
    engine = Engine()
    lost: list[str] = []
    async with elected(server(), settings, database, "http://a", engine, on_lost=lost.append):
        await asyncio.wait_for(engine.started.wait(), 10)
        async with database.engine.begin() as conn:  # another process took it over
            await conn.execute(
                update(LeaseRow)
                .where(LeaseRow.name == LOCAL_SHARD)
                .values(holder="thief", token=LeaseRow.token + 1)
            )
        await until(lambda: bool(lost))
    assert "lost lease 'local'" in lost[0] and "another process holds it" in lost[0]
    lease = await LeaseStore(database).get(LOCAL_SHARD)
    assert lease is not None and lease.holder == "thief"  # nothing released what it lost


async def test_an_engine_that_cannot_start_fails_the_server_and_frees_the_lease(
    tmp_path: Path, database: Database
) -> None:
    @asynccontextmanager
    async def broken(_fence: Fence) -> AsyncIterator[None]:
        raise OSError("port 30080 is in use")
        yield

    lost: list[str] = []
    with pytest.raises(OSError, match="port 30080"):
        async with elected(
            server(), settings_with(tmp_path, 30.0), database, "http://a", broken,
            on_lost=lost.append,
        ):  # fmt: skip
            pass
    assert lost == []  # a failure to start is the server's own error, not a lost lease
    taken = await LeaseStore(database).acquire(LOCAL_SHARD, "b", "http://b", 30.0)
    assert taken is not None  # released at once, not after the TTL
