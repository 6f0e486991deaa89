"""The runtime's journal in the store: buffered records, one-transaction flushes, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, text

from conveyor.errors import ConflictError, ValidationError
from conveyor.model.objects import Object, ObjectKey
from conveyor.settings import Settings
from conveyor.store import (
    Database,
    RuntimeObject,
    RuntimeStateStore,
    dumps_json,
    open_database,
)
from conveyor.targets.local.journal import StateJournal
from conveyor.targets.local.persistence import WriteBehind


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def monotonic(self) -> float:
        return 0.0

    def now(self) -> datetime:
        return self.moment


def deployment(name: str, namespace: str = "default", replicas: int = 1) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": replicas},
    }


def key(obj: Object) -> str:
    return str(ObjectKey.of(obj))


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


async def reopened(settings: Settings) -> tuple[list[Object], dict[str, int]]:
    """What a new process would load from the same database."""
    async with await open_database(settings) as db:
        state = await RuntimeStateStore(db).load()
    return state.objects, state.ports


class StatementCounter:
    """Counts SQL statements and commits on an engine (SQLAlchemy's public event API)."""

    def __init__(self, database: Database) -> None:
        self.statements = 0
        self.commits = 0
        engine = database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


def test_it_is_a_state_journal(database: Database) -> None:
    journal: StateJournal = RuntimeStateStore(database)
    assert journal is not None


async def test_objects_and_ports_survive_reopening(settings: Settings) -> None:
    web, ns = (
        deployment("web"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
    )
    async with await open_database(settings) as db:
        store = RuntimeStateStore(db)
        await store.load()
        store.record_object(key(web), web)
        store.record_object(key(ns), ns)
        store.record_port("default/web/http", 30000)
        await store.close()  # flushes

    objects, ports = await reopened(settings)
    assert objects == [web, ns]  # sorted by key: Deployment.apps/... < Namespace/...
    assert ports == {"default/web/http": 30000}


async def test_deletes_are_persisted(settings: Settings) -> None:
    web, api = deployment("web"), deployment("api")
    async with await open_database(settings) as db:
        store = RuntimeStateStore(db)
        store.record_object(key(web), web)
        store.record_object(key(api), api)
        store.record_port("default/web/http", 30000)
        store.record_port("default/api/http", 30001)
        await store.flush()
        store.record_object(key(web), None)
        store.record_port("default/web/http", None)
        await store.close()

    objects, ports = await reopened(settings)
    assert objects == [api]
    assert ports == {"default/api/http": 30001}


async def test_the_latest_record_per_key_wins(settings: Settings) -> None:
    async with await open_database(settings) as db:
        store = RuntimeStateStore(db)
        for replicas in (1, 2, 3):
            store.record_object(key(deployment("web")), deployment("web", replicas=replicas))
        store.record_object(key(deployment("gone")), deployment("gone"))
        store.record_object(key(deployment("gone")), None)
        store.record_object(key(deployment("back")), None)
        store.record_object(key(deployment("back")), deployment("back"))
        store.record_port("default/web/http", 30000)
        store.record_port("default/web/http", 30005)
        assert store.pending == 4
        await store.close()

    objects, ports = await reopened(settings)
    assert objects == [deployment("back"), deployment("web", replicas=3)]
    assert ports == {"default/web/http": 30005}


async def test_a_flush_with_nothing_buffered_touches_nothing(database: Database) -> None:
    store = RuntimeStateStore(database)
    counter = StatementCounter(database)
    await store.flush()
    assert (counter.statements, counter.commits) == (0, 0)

    store.record_object(key(deployment("web")), deployment("web"))
    await store.flush()
    assert counter.commits == 1
    before = counter.statements
    await store.flush()
    assert counter.statements == before
    assert counter.commits == 1


async def test_five_thousand_objects_flush_in_one_transaction(settings: Settings) -> None:
    expected = [deployment(f"app-{i:04d}", namespace=f"ns-{i % 7}") for i in range(5000)]
    async with await open_database(settings) as db:
        store = RuntimeStateStore(db)
        for obj in expected:
            store.record_object(key(obj), obj)
        counter = StatementCounter(db)
        await store.flush()
        assert counter.commits == 1
        assert store.pending == 0
        # Half of them change, a tenth go away: still one transaction.
        for i, obj in enumerate(expected):
            if i % 10 == 0:
                store.record_object(key(obj), None)
            elif i % 2 == 0:
                store.record_object(
                    key(obj), deployment(obj["metadata"]["name"], obj["metadata"]["namespace"], 5)
                )
        await store.flush()
        assert counter.commits == 2

    objects, _ = await reopened(settings)
    want = {}
    for i, obj in enumerate(expected):
        if i % 10 == 0:
            continue
        meta = obj["metadata"]
        want[key(obj)] = deployment(meta["name"], meta["namespace"], 5) if i % 2 == 0 else obj
    assert len(objects) == 4500
    assert {key(o): o for o in objects} == want
    assert [key(o) for o in objects] == sorted(want)


async def test_rows_carry_identity_columns_canonical_json_and_the_clock_time(
    database: Database,
) -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    store = RuntimeStateStore(database, clock=FixedClock(moment))
    web = deployment("web")
    web["metadata"]["annotations"] = {"deployed": date(2024, 1, 2)}  # as YAML would give it
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    store.record_object(key(web), web)
    store.record_object(key(ns), ns)
    await store.flush()

    async with database.engine.connect() as conn:
        rows = (await conn.execute(select(RuntimeObject).order_by(RuntimeObject.key))).all()
        raw = (
            await conn.execute(
                text("SELECT CAST(body AS TEXT) FROM runtime_objects WHERE kind = 'Namespace'")
            )
        ).scalar_one()
    identity = [(r.key, r.api_version, r.kind, r.namespace, r.name) for r in rows]
    assert identity == [
        ("Deployment.apps/default/web", "apps/v1", "Deployment", "default", "web"),
        ("Namespace/prod", "v1", "Namespace", "", "prod"),
    ]
    assert rows[0].body["metadata"]["annotations"] == {"deployed": "2024-01-02"}
    assert (
        raw == dumps_json(ns) == '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}'
    )
    stamped = rows[0].updated_at
    assert (stamped if stamped.tzinfo else stamped.replace(tzinfo=UTC)) == moment


async def test_a_port_recorded_for_two_owners_is_refused_at_once(settings: Settings) -> None:
    async with await open_database(settings) as db:
        store = RuntimeStateStore(db)
        store.record_port("default/web/http", 30000)
        with pytest.raises(
            ConflictError, match="port 30000 is already allocated to default/web/http"
        ):
            store.record_port("default/api/http", 30000)
        with pytest.raises(ValidationError):
            store.record_port("default/api/http", 70000)
        await store.close()

    _, ports = await reopened(settings)
    assert ports == {"default/web/http": 30000}


async def test_ports_loaded_from_the_database_are_checked_too(settings: Settings) -> None:
    async with await open_database(settings) as db:
        first = RuntimeStateStore(db)
        first.record_port("default/web/http", 30000)
        await first.close()
    async with await open_database(settings) as db:
        second = RuntimeStateStore(db)
        await second.load()
        with pytest.raises(ConflictError, match="default/web/http"):
            second.record_port("default/api/http", 30000)
        second.record_port("default/web/http", None)
        second.record_port("default/api/http", 30000)  # released first: now fine
        await second.close()
    _, ports = await reopened(settings)
    assert ports == {"default/api/http": 30000}


async def test_ports_can_move_between_owners_in_one_flush(database: Database) -> None:
    store = RuntimeStateStore(database)
    store.record_port("a", 30000)
    store.record_port("b", 30001)
    await store.flush()
    store.record_port("b", None)
    store.record_port("a", 30001)
    store.record_port("b", 30000)
    await store.flush()
    assert (await RuntimeStateStore(database).load()).ports == {"a": 30001, "b": 30000}


async def test_a_port_another_writer_holds_is_a_conflict_at_flush(database: Database) -> None:
    first, second = RuntimeStateStore(database), RuntimeStateStore(database)
    first.record_port("default/web/http", 30000)
    await first.flush()
    # ``second`` never loaded, so only the database can tell.
    second.record_port("default/api/http", 30000)
    second.record_object(key(deployment("api")), deployment("api"))
    with pytest.raises(ConflictError, match=r"30000 \(held by default/web/http\)"):
        await second.flush()
    assert second.pending == 0
    state = await RuntimeStateStore(database).load()
    assert state.ports == {"default/web/http": 30000}
    assert state.objects == [deployment("api")]  # the rest of the batch was written


async def test_an_unserializable_object_is_dropped_and_the_rest_written(
    database: Database,
) -> None:
    store = RuntimeStateStore(database)
    bad = deployment("bad")
    bad["spec"]["weird"] = object()
    store.record_object(key(bad), bad)
    store.record_object(key(deployment("good")), deployment("good"))
    with pytest.raises(ValidationError, match=r"Deployment\.apps/default/bad"):
        await store.flush()
    assert store.pending == 1
    await store.flush()
    assert (await RuntimeStateStore(database).load()).objects == [deployment("good")]


async def test_concurrent_flushes_write_everything_once(database: Database) -> None:
    store = RuntimeStateStore(database)

    async def writer(prefix: str) -> None:
        for i in range(50):
            obj = deployment(f"{prefix}-{i}")
            store.record_object(key(obj), obj)
            if i % 10 == 0:
                await store.flush()
            await asyncio.sleep(0)

    await asyncio.gather(writer("a"), writer("b"), writer("c"), store.flush(), store.flush())
    await store.flush()
    objects = (await RuntimeStateStore(database).load()).objects
    assert sorted(o["metadata"]["name"] for o in objects) == sorted(
        f"{p}-{i}" for p in "abc" for i in range(50)
    )


async def test_the_background_flusher_writes_without_being_asked(database: Database) -> None:
    # The runtime's write-behind (targets.local.persistence) flushes this journal.
    store = WriteBehind(RuntimeStateStore(database), interval=0.01)
    store.start()
    store.record_object(key(deployment("web")), deployment("web"))
    store.record_port("default/web/http", 30000)
    reader = RuntimeStateStore(database)
    async with asyncio.timeout(10):
        while (await reader.load()).ports != {"default/web/http": 30000}:
            await asyncio.sleep(0.01)
    assert (await reader.load()).objects == [deployment("web")]

    store.record_object(key(deployment("web")), None)
    await store.close()  # stops the flusher and flushes what is left
    assert (await reader.load()).objects == []
    with pytest.raises(ValidationError):
        WriteBehind(RuntimeStateStore(database), interval=0)
