"""The deployment recorder, fed engine events directly, writing to a real store (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.engine.deployments import DeploymentRecorder
from conveyor.engine.events import (
    AppDeleted,
    Destination,
    HealthStatusChanged,
    Initiator,
    OperationFinished,
    OperationStarted,
    SyncStatusChanged,
)
from conveyor.engine.repository import DeploymentInput, DeploymentRecord
from conveyor.errors import TemporaryError
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DEST = Destination("https://kubernetes.default.svc", "", "web")
R1, R2 = "1" * 40, "2" * 40


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(op: int, *, dry_run: bool = False, initiator: Initiator = Initiator.USER) -> (
    OperationStarted
):  # fmt: skip
    return OperationStarted(
        app="web", project="team", destination=DEST, operation_id=op, revision="",
        initiator=initiator, username="alice" if initiator is Initiator.USER else "",
        dry_run=dry_run, at=at(op * 100),
    )  # fmt: skip


def finished(
    op: int, revision: str, *, phase: str = "Succeeded", dry_run: bool = False,
    initiator: Initiator = Initiator.USER,
) -> OperationFinished:  # fmt: skip
    return OperationFinished(
        app="web", project="team", destination=DEST, operation_id=op, phase=phase,
        message="successfully synced", revision=revision, initiator=initiator,
        username="alice" if initiator is Initiator.USER else "", dry_run=dry_run,
        started_at=at(op * 100), finished_at=at(op * 100 + 10),
    )  # fmt: skip


def sync(old: str, new: str, revision: str, seconds: float) -> SyncStatusChanged:
    return SyncStatusChanged(app="web", old=old, new=new, revision=revision, at=at(seconds))


def health(old: str, new: str, revision: str, seconds: float) -> HealthStatusChanged:
    return HealthStatusChanged(app="web", old=old, new=new, revision=revision, at=at(seconds))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EngineStore]:
    database = await open_database(Settings.from_env(home=tmp_path))
    yield EngineStore(database)
    await database.close()


@pytest.fixture
async def recorder(store: EngineStore) -> AsyncIterator[DeploymentRecorder]:
    recorder = DeploymentRecorder(store)
    recorder.start()
    yield recorder
    await recorder.close()


async def test_a_sync_is_recorded_and_served_when_healthy_and_synced_after_it(
    recorder: DeploymentRecorder, store: EngineStore
) -> None:
    for event in (
        sync("", "Synced", R1, 1),
        health("", "Healthy", R1, 1),
        sync("Synced", "OutOfSync", R2, 50),
        started(1),
        health("Healthy", "Progressing", R2, 104),
        sync("OutOfSync", "Synced", R2, 105),
        finished(1, R2),
        health("Progressing", "Healthy", R2, 130),
        health("Healthy", "Degraded", R2, 140),
        health("Degraded", "Healthy", R2, 150),  # not a new first moment
    ):
        recorder(event)
    await recorder.flush()
    [record] = await store.deployments()
    assert (record.app, record.project, record.destination) == ("web", "team", DEST)
    assert (record.revision, record.phase) == (R2, "Succeeded")
    assert record.message == "successfully synced"
    assert (record.initiator, record.username) == (Initiator.USER, "alice")
    assert (record.started_at, record.finished_at) == (at(100), at(110))
    assert record.served_at == at(130)
    assert record.app_commit is None  # filled by CI write-back, later


async def test_already_serving_when_the_operation_ends_means_served_at_its_end(
    recorder: DeploymentRecorder, store: EngineStore
) -> None:
    for event in (
        sync("", "OutOfSync", R1, 1),
        health("", "Healthy", "", 1),
        started(1, initiator=Initiator.AUTOMATED),
        sync("OutOfSync", "Synced", R1, 105),
        finished(1, R1, initiator=Initiator.AUTOMATED),
    ):
        recorder(event)
    await recorder.flush()
    [record] = await store.deployments()
    assert record.served_at == at(110)
    assert (record.initiator, record.username) == (Initiator.AUTOMATED, "")


async def test_dry_runs_are_not_deployments_and_failures_never_serve(
    recorder: DeploymentRecorder, store: EngineStore
) -> None:
    for event in (
        started(1, dry_run=True),
        finished(1, R1, dry_run=True),
        started(2, initiator=Initiator.SELF_HEAL),
        finished(2, R2, phase="Failed", initiator=Initiator.SELF_HEAL),
        sync("", "Synced", R2, 300),
        health("", "Healthy", R2, 300),
    ):
        recorder(event)
    await recorder.flush()
    [record] = await store.deployments()
    assert (record.operation_id, record.phase, record.served_at) == (2, "Failed", None)


async def test_a_deleted_app_keeps_its_records_and_is_forgotten_by_the_recorder(
    recorder: DeploymentRecorder, store: EngineStore
) -> None:
    for event in (
        sync("", "Synced", R1, 1),
        health("", "Healthy", R1, 1),
        started(1, initiator=Initiator.ROLLBACK),
        finished(1, R1, initiator=Initiator.ROLLBACK),
        AppDeleted(app="web", project="team", at=at(200)),
        started(3),
        finished(3, R1),  # the same name again: its status is not known yet
    ):
        recorder(event)
    await recorder.flush()
    first, again = await store.deployments(app="web")
    assert first.served_at == at(110) and first.initiator is Initiator.ROLLBACK
    assert again.served_at is None


class FlakyStore:
    """The repository seam, failing its first writes as an unreachable database would."""

    def __init__(self, store: EngineStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.failed = asyncio.Event()

    async def record_deployment(self, deployment: DeploymentInput) -> DeploymentRecord:
        if self.failures > 0:
            self.failures -= 1
            self.failed.set()
            raise TemporaryError("database is locked")
        return await self.store.record_deployment(deployment)

    async def mark_deployment_served(
        self, app: str, revision: str, at: datetime
    ) -> DeploymentRecord | None:
        return await self.store.mark_deployment_served(app, revision, at)

    async def deployments(
        self, *, app: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[DeploymentRecord]:
        return await self.store.deployments(app=app, since=since, limit=limit)


async def test_a_failed_write_is_retried_in_order_and_never_lost(store: EngineStore) -> None:
    flaky = FlakyStore(store, failures=3)
    recorder = DeploymentRecorder(flaky, retry_delay=0.01)
    recorder.start()
    try:
        for event in (
            sync("", "Synced", R1, 1),
            health("", "Healthy", R1, 1),
            started(1),
            finished(1, R1),
        ):
            recorder(event)
        async with asyncio.timeout(10):
            await flaky.failed.wait()
        assert recorder.failing is not None and "database is locked" in recorder.failing
        async with asyncio.timeout(30):
            await recorder.flush()
    finally:
        await recorder.close()
    assert recorder.failing is None
    [record] = await store.deployments()
    assert (record.phase, record.served_at) == ("Succeeded", at(110))


async def test_flush_before_start_is_an_error_not_a_hang(store: EngineStore) -> None:
    with pytest.raises(RuntimeError, match="start"):
        await DeploymentRecorder(store).flush()
