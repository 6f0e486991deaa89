"""Store calls that arrive together share a transaction, and one caller's error stays its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, open_database
from conveyor.store.groupcommit import GroupCommit
from conveyor.store.tables import ApplicationRow

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


def manifest(name: str) -> dict[str, object]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name}}


async def test_calls_made_together_share_transactions_and_each_is_answered(
    database: Database,
) -> None:
    store = EngineStore(database)
    before = store.transactions
    names = [f"app-{n}" for n in range(50)]
    saved = await asyncio.gather(*(store.save_app(n, manifest(n)) for n in names))
    assert [a.name for a in saved] == [f"app-{n}" for n in range(50)]
    assert store.transactions - before < 50
    ops = await asyncio.gather(*(store.create_operation(n, {"sync": {}}, T0) for n in names))
    assert len({op.id for op in ops}) == 50
    assert [a.name for a in await store.list_apps()] == sorted(f"app-{n}" for n in range(50))


async def test_a_failing_unit_fails_its_caller_alone(database: Database) -> None:
    commit = GroupCommit(database)
    store = EngineStore(database)
    for name in ("first", "failing", "last"):
        await store.save_app(name, manifest(name))

    def status(name: str, value: str) -> Callable[[AsyncSession], Awaitable[str]]:
        async def work(session: AsyncSession) -> str:
            await session.execute(
                update(ApplicationRow)
                .where(ApplicationRow.name == name)
                .values(status={"sync": {"status": value}})
            )
            if name == "failing":
                raise RuntimeError("this unit fails")
            return name

        return work

    results = await asyncio.gather(
        commit.run(status("first", "Synced")),
        commit.run(status("failing", "Synced")),
        commit.run(status("last", "Synced")),
        return_exceptions=True,
    )
    assert results[0] == "first" and results[2] == "last"
    assert isinstance(results[1], RuntimeError)
    apps = {a.name: a.status for a in await store.list_apps()}
    assert apps == {"first": {"sync": {"status": "Synced"}}, "failing": {},
                    "last": {"sync": {"status": "Synced"}}}  # fmt: skip


async def test_statuses_of_many_apps_in_one_call_skip_apps_that_are_gone(
    database: Database,
) -> None:
    store = EngineStore(database)
    for name in ("a", "b"):
        await store.save_app(name, manifest(name))
    await store.save_statuses(
        {"a": {"sync": {"status": "Synced"}}, "b": {"sync": {"status": "OutOfSync"}}, "gone": {}}
    )
    apps = {a.name: a for a in await store.list_apps()}
    assert apps["a"].status == {"sync": {"status": "Synced"}}
    assert apps["b"].status == {"sync": {"status": "OutOfSync"}}
    assert "gone" not in apps
