"""The audit trail and health events on both backends; the activity recorder writing them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.events import (
    Destination,
    HealthStatusChanged,
    Initiator,
    OperationFinished,
)
from conveyor.engine.records import AuditEntry, AuditQuery, HealthEvent, Retention
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, open_database
from support.clock import ManualClock

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DEST = Destination("https://kubernetes.default.svc", "", "web")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[EngineStore]:
    db: Database = await open_database(settings)
    yield EngineStore(db)
    await db.close()


def entry(minute: int, actor: str = "alice", app: str = "web") -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=minute), actor=actor, action="applications.sync",
        target_kind="Application", target=app, app=app, outcome="200", source="127.0.0.1",
    )  # fmt: skip


async def test_entries_are_appended_filtered_and_pruned(store: EngineStore) -> None:
    await store.record_audit([entry(m, actor="bob" if m % 2 else "alice") for m in range(10)])
    everything = await store.audit(AuditQuery())
    assert [e.at for e in everything] == [T0 + timedelta(minutes=m) for m in range(10)]
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    bobs = await store.audit(AuditQuery(actor="bob", since=T0 + timedelta(minutes=4)))
    assert [e.at.minute for e in bobs] == [5, 7, 9]
    window = AuditQuery(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    assert [e.at.minute for e in await store.audit(window)] == [2, 3]
    assert [e.at.minute for e in await store.audit(AuditQuery(limit=2))] == [8, 9]

    # older than 5 minutes at 09:12 goes (minutes 0..6), then only the newest 2 stay
    gone = await store.prune_audit(
        Retention(timedelta(minutes=5), None), T0 + timedelta(minutes=12)
    )
    assert gone == 7
    assert await store.prune_audit(Retention(None, 2), T0) == 1
    assert [e.at.minute for e in await store.audit(AuditQuery())] == [8, 9]


async def test_health_events_are_kept_per_app(store: EngineStore) -> None:
    await store.record_health(HealthEvent("web", "Degraded", "a" * 40, T0))
    await store.record_health(HealthEvent("api", "Degraded", "b" * 40, T0 + timedelta(hours=1)))
    assert await store.health_events(app="web") == [HealthEvent("web", "Degraded", "a" * 40, T0)]
    assert [e.app for e in await store.health_events(since=T0 + timedelta(minutes=1))] == ["api"]


def finished(op: int, revision: str, initiator: Initiator, message: str = "ok") -> (
    OperationFinished
):  # fmt: skip
    return OperationFinished(
        app="web", project="team", destination=DEST, operation_id=op, phase="Succeeded",
        message=message, revision=revision, initiator=initiator,
        username="alice" if initiator is Initiator.USER else "", dry_run=False,
        started_at=T0 + timedelta(minutes=op), finished_at=T0 + timedelta(minutes=op, seconds=9),
    )  # fmt: skip


async def test_the_recorder_writes_operations_and_degraded_moments(store: EngineStore) -> None:
    clock = ManualClock(T0)
    recorder = ActivityRecorder(store, retention=Retention(timedelta(days=1), None), clock=clock)
    recorder.start()
    try:
        recorder(finished(1, "a" * 40, Initiator.USER))
        leaky = "failed: https://bob:pa55@git.example/x.git unreachable"
        recorder(finished(2, "b" * 40, Initiator.AUTOMATED, message=leaky))
        recorder(HealthStatusChanged(app="web", old="Healthy", new="Progressing",
                                     revision="b" * 40, at=T0))  # fmt: skip
        recorder(HealthStatusChanged(app="web", old="Progressing", new="Degraded",
                                     revision="b" * 40, at=T0 + timedelta(minutes=3)))  # fmt: skip
        await recorder.flush()
    finally:
        await recorder.close()
    first, second = await store.audit(AuditQuery(app="web"))
    assert (first.actor, first.action, first.revision_before, first.revision_after) == (
        "alice", "operation.sync", "", "a" * 40,
    )  # fmt: skip
    assert (second.actor, second.action, second.revision_before) == (
        "system:controller", "operation.auto-sync", "a" * 40,
    )  # fmt: skip
    assert "pa55" not in second.detail
    assert await store.health_events() == [
        HealthEvent("web", "Degraded", "b" * 40, T0 + timedelta(minutes=3))
    ]
