"""The deployment record on both backends: kept for good, written once, served once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conveyor.engine.events import Destination, Initiator
from conveyor.engine.repository import DeploymentInput, HistoryInput
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, open_database

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DEST = Destination("https://kubernetes.default.svc", "", "web")
MANIFEST = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {}}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[EngineStore]:
    db: Database = await open_database(settings)
    yield EngineStore(db)
    await db.close()


def start(op: int, app: str = "web", minute: int = 0, revision: str = "") -> DeploymentInput:
    return DeploymentInput(
        operation_id=op, app=app, project="default", destination=DEST, revision=revision,
        initiator=Initiator.USER, username="alice", started_at=T0 + timedelta(minutes=minute),
    )  # fmt: skip


def end(
    op: int, revision: str, app: str = "web", minute: int = 0, phase: str = "Succeeded"
) -> DeploymentInput:
    return DeploymentInput(
        operation_id=op, app=app, project="default", destination=DEST, revision=revision,
        initiator=Initiator.USER, username="alice", started_at=T0 + timedelta(minutes=minute),
        phase=phase, message="done", finished_at=T0 + timedelta(minutes=minute, seconds=30),
    )  # fmt: skip


async def test_a_deployment_is_recorded_from_start_to_end_once(store: EngineStore) -> None:
    started = await store.record_deployment(start(7))
    assert (started.phase, started.finished_at, started.served_at) == ("Running", None, None)
    again = await store.record_deployment(start(7))  # a resumed operation announces again
    finished = await store.record_deployment(end(7, "a" * 40))
    await store.record_deployment(end(7, "a" * 40))  # the same end twice
    [record] = await store.deployments()
    assert again.id == started.id == finished.id == record.id
    assert record.phase == "Succeeded" and record.revision == "a" * 40
    assert record.finished_at == T0 + timedelta(seconds=30)
    assert record.destination == DEST and record.initiator is Initiator.USER
    assert record.username == "alice" and record.app_commit is None


async def test_an_end_whose_start_was_missed_is_recorded_whole(store: EngineStore) -> None:
    await store.record_deployment(end(3, "b" * 40, phase="Failed"))
    [record] = await store.deployments()
    assert (record.operation_id, record.phase, record.started_at) == (3, "Failed", T0)


async def test_records_outlive_history_trimming_and_the_app(store: EngineStore) -> None:
    await store.save_app("web", MANIFEST)
    for i in range(3):
        op = await store.create_operation("web", {"sync": {}}, T0 + timedelta(minutes=i))
        await store.record_deployment(start(op.id, minute=i))
        history = HistoryInput(
            revision=f"{i}" * 40, deploy_started_at=T0, deployed_at=T0,
            initiated_by={"username": "alice"}, source={},
        )  # fmt: skip
        await store.finish_operation(
            op.id, phase="Succeeded", message="", state={}, finished_at=T0, history=history,
            history_limit=1,
        )  # fmt: skip
        await store.record_deployment(end(op.id, f"{i}" * 40, minute=i))
    assert len(await store.history("web")) == 1
    assert await store.delete_app("web") is True
    records = await store.deployments(app="web")
    assert [r.revision for r in records] == ["0" * 40, "1" * 40, "2" * 40]


async def test_served_is_set_once_and_only_on_the_latest_success(store: EngineStore) -> None:
    await store.record_deployment(end(1, "a" * 40, minute=0))
    await store.record_deployment(end(2, "b" * 40, minute=1))
    at = T0 + timedelta(minutes=2)
    assert await store.mark_deployment_served("web", "a" * 40, at) is None  # superseded
    served = await store.mark_deployment_served("web", "b" * 40, at)
    assert served is not None and served.served_at == at and served.operation_id == 2
    assert await store.mark_deployment_served("web", "b" * 40, at + timedelta(hours=1)) is None
    await store.record_deployment(end(3, "c" * 40, minute=3, phase="Failed"))
    assert await store.mark_deployment_served("web", "c" * 40, at) is None  # failed: not served
    [first, second, _] = await store.deployments(app="web")
    assert first.served_at is None and second.served_at == at


async def test_filters_by_app_since_and_limit(store: EngineStore) -> None:
    for i, app in enumerate(["web", "api", "web", "web"]):
        await store.record_deployment(start(i + 1, app=app, minute=i * 10))
    assert [r.operation_id for r in await store.deployments(app="web")] == [1, 3, 4]
    since = (T0 + timedelta(minutes=10)).astimezone(timezone(timedelta(hours=2)))
    assert [r.operation_id for r in await store.deployments(since=since)] == [2, 3, 4]
    assert [r.operation_id for r in await store.deployments(limit=2)] == [3, 4]
    assert await store.deployments(app="nope") == []
