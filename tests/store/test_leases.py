"""Leases on both backends, with a clock the test moves: who may act, and who may write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from conveyor.errors import TemporaryError
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, RuntimeStateStore, open_database
from conveyor.store.leadership import LeaseKeeper, LeaseOptions
from conveyor.store.leases import LOCAL_SHARD, Fence, LeaseLostError, LeaseStore
from conveyor.store.tables import ApplicationRow
from support.clock import ManualClock

T0 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
TTL = 10.0


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def leases(database: Database, clock: ManualClock) -> LeaseStore:
    return LeaseStore(database, clock=clock)


def configmap(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


async def test_a_held_lease_is_refused_to_others_until_it_expires(
    leases: LeaseStore, clock: ManualClock
) -> None:
    first = await leases.acquire(LOCAL_SHARD, "a", "http://a", TTL)
    assert first is not None and (first.holder, first.token) == ("a", 1)
    clock.advance(TTL - 0.5)
    assert await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL) is None
    clock.advance(1.0)  # a stopped renewing: its lease ran out
    taken = await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL)
    assert taken is not None and (taken.holder, taken.holder_url, taken.token) == (
        "b",
        "http://b",
        2,
    )
    stored = await leases.get(LOCAL_SHARD)
    assert stored == taken


async def test_renewal_keeps_the_lease_and_fails_once_another_holds_it(
    leases: LeaseStore, clock: ManualClock
) -> None:
    held = await leases.acquire(LOCAL_SHARD, "a", "http://a", TTL)
    assert held is not None
    for _ in range(5):  # 40 s of renewals every 8 s: never free for b
        clock.advance(8.0)
        assert await leases.renew("a", {LOCAL_SHARD: held.token}, TTL) == {LOCAL_SHARD}
        assert await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL) is None
    clock.advance(TTL + 1)
    assert await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL) is not None
    assert await leases.renew("a", {LOCAL_SHARD: held.token}, TTL) == set()


async def test_leases_are_renewed_together_and_each_is_checked_on_its_token(
    leases: LeaseStore, clock: ManualClock
) -> None:
    one = await leases.acquire("one", "a", "http://a", TTL)
    two = await leases.acquire("two", "a", "http://a", TTL)
    assert one is not None and two is not None
    assert await leases.renew("a", {"one": one.token, "two": two.token}, TTL) == {"one", "two"}
    assert await leases.renew("a", {"one": one.token, "two": two.token + 1}, TTL) == {"one"}


async def test_a_released_lease_is_taken_at_once(leases: LeaseStore) -> None:
    held = await leases.acquire(LOCAL_SHARD, "a", "http://a", TTL)
    assert held is not None
    await leases.release("a", {LOCAL_SHARD: held.token})
    taken = await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL)
    assert taken is not None and taken.token == held.token + 1


async def test_only_one_of_two_simultaneous_takers_gets_the_lease(leases: LeaseStore) -> None:
    got = await asyncio.gather(
        *(leases.acquire(LOCAL_SHARD, name, f"http://{name}", TTL) for name in "abcd")
    )
    winners = [lease for lease in got if lease is not None]
    assert len(winners) == 1
    assert await leases.get(LOCAL_SHARD) == winners[0]


async def test_a_stale_holder_cannot_write_after_a_takeover(
    database: Database, leases: LeaseStore, clock: ManualClock
) -> None:
    keeper_a = LeaseKeeper(leases, "a", "http://a", on_lost=lambda *_: None, clock=clock)
    fence_a = await keeper_a.try_acquire(LOCAL_SHARD)
    assert fence_a is not None
    store_a = EngineStore(database, fence=fence_a)
    journal_a = RuntimeStateStore(database, fence=fence_a)
    await store_a.save_app("web", {"kind": "Application", "metadata": {"name": "web"}})
    op = await store_a.create_operation("web", {"sync": {}}, T0)
    journal_a.record_object("v1/ConfigMap/demo/one", configmap("one"))
    await journal_a.flush()

    clock.advance(TTL + 1)  # a hung; its lease expired; b takes over
    keeper_b = LeaseKeeper(leases, "b", "http://b", on_lost=lambda *_: None, clock=clock)
    fence_b = await keeper_b.try_acquire(LOCAL_SHARD)
    assert fence_b is not None and fence_b.token > fence_a.token

    with pytest.raises(LeaseLostError, match="no longer holds"):
        await store_a.finish_operation(
            op.id, phase="Failed", message="stale", state={}, finished_at=T0,
            history=None, history_limit=10,
        )  # fmt: skip
    with pytest.raises(LeaseLostError):
        await store_a.save_statuses({"web": {"sync": {"status": "Unknown"}}})
    journal_a.record_object("v1/ConfigMap/demo/two", configmap("two"))
    with pytest.raises(LeaseLostError):
        await journal_a.flush()

    store_b = EngineStore(database, fence=fence_b)
    [running] = await store_b.running_operations()
    assert running.id == op.id and running.phase == "Running"  # a's end was not written
    await store_b.finish_operation(
        op.id, phase="Succeeded", message="done", state={}, finished_at=T0,
        history=None, history_limit=10,
    )  # fmt: skip
    assert await store_b.running_operations() == []
    state = await RuntimeStateStore(database, fence=fence_b).load()
    assert [o["metadata"]["name"] for o in state.objects] == ["one"]


class _Unreachable(LeaseStore):
    """A lease store whose database stops answering renewals (our own seam)."""

    down = False

    async def renew(self, holder: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        if self.down:
            raise TemporaryError("connection refused")
        return await super().renew(holder, tokens, ttl)


async def test_the_keeper_reports_a_lease_taken_by_another(
    leases: LeaseStore, clock: ManualClock
) -> None:
    lost: list[tuple[str, str]] = []
    keeper = LeaseKeeper(
        leases, "a", "http://a", on_lost=lambda *args: lost.append(args), clock=clock,
        options=LeaseOptions(ttl=TTL),
    )  # fmt: skip
    assert await keeper.try_acquire(LOCAL_SHARD) is not None
    await keeper.renew_once()
    assert lost == [] and keeper.held
    clock.advance(TTL + 1)
    assert await leases.acquire(LOCAL_SHARD, "b", "http://b", TTL) is not None
    await keeper.renew_once()
    assert [name for name, _ in lost] == [LOCAL_SHARD]
    assert "another process" in lost[0][1]
    assert keeper.held == {}


async def test_the_keeper_gives_up_before_its_lease_can_expire_unrenewed(
    database: Database, clock: ManualClock
) -> None:
    store = _Unreachable(database, clock=clock)
    lost: list[str] = []
    keeper = LeaseKeeper(
        store, "a", "http://a", on_lost=lambda name, _why: lost.append(name), clock=clock,
        options=LeaseOptions(ttl=TTL),
    )  # fmt: skip
    assert await keeper.try_acquire(LOCAL_SHARD) is not None
    store.down = True
    clock.advance(keeper.options.renew_every)
    await keeper.renew_once()  # one failed renewal: the lease is still safe
    assert lost == []
    clock.advance(keeper.options.renew_every)
    await keeper.renew_once()  # over half the TTL without renewal: stop acting
    assert lost == [LOCAL_SHARD]
    assert keeper.held == {}


async def test_a_standby_knows_the_live_holder_and_forgets_an_expired_one(
    leases: LeaseStore, clock: ManualClock
) -> None:
    assert await leases.acquire(LOCAL_SHARD, "a", "http://a:1", TTL) is not None
    standby = LeaseKeeper(leases, "b", "http://b", on_lost=lambda *_: None, clock=clock)
    assert await standby.try_acquire(LOCAL_SHARD) is None
    leader = standby.leader(LOCAL_SHARD)
    assert leader is not None and leader.holder_url == "http://a:1"
    clock.advance(TTL + 1)
    assert standby.leader(LOCAL_SHARD) is None  # expired: nobody to forward to


async def test_a_takeover_waits_for_a_fenced_write_in_flight_to_commit(
    database: Database, leases: LeaseStore, clock: ManualClock
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite's BEGIN IMMEDIATE runs one writer")
    held = await leases.acquire(LOCAL_SHARD, "a", "http://a", TTL)
    assert held is not None
    fence = Fence(LOCAL_SHARD, "a", held.token)
    clock.advance(TTL + 1)  # a's lease ran out while its write is in flight
    async with database.sessions() as session, session.begin():
        await fence.check(session)
        takeover = asyncio.create_task(leases.acquire(LOCAL_SHARD, "b", "http://b", TTL))
        await _until_a_backend_waits_on_a_lock(database)
        assert not takeover.done()
        session.add(
            ApplicationRow(name="web", manifest={}, status={}, created_at=T0, updated_at=T0)
        )
    taken = await asyncio.wait_for(takeover, 10)
    assert taken is not None and taken.token == held.token + 1
    assert await EngineStore(database).get_app("web") is not None  # committed before it
    with pytest.raises(LeaseLostError):  # and nothing of a's after it
        await EngineStore(database, fence=fence).save_status("web", {})


async def _until_a_backend_waits_on_a_lock(database: Database) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )

    async def poll() -> None:
        while True:
            async with database.engine.connect() as conn:
                if await conn.scalar(query):
                    return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 10)
