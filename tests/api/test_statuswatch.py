"""Policy findings and aborted Rollouts reach the audit trail once per change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.api.statuswatch import StatusWatch
from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.events import AppDeleted, AppUpdated
from conveyor.engine.records import AuditEntry, AuditQuery, HealthEvent, Retention

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class MemoryRecords:
    """``RecordRepository`` in memory (the engine's own seam)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record_audit(self, entries: list[AuditEntry]) -> None:
        self.entries += entries

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return list(self.entries)

    async def prune_audit(self, retention: Retention, now: datetime) -> int:
        return 0

    async def record_health(self, event: HealthEvent) -> None: ...

    async def health_events(
        self, *, app: str | None = None, since: datetime | None = None
    ) -> list[HealthEvent]:
        return []


def app_with(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"spec": {"project": "shop"}, "status": {"conditions": list(conditions)}}


def rollout(abort: bool) -> dict[str, Any]:
    status = {"abort": True, "message": "RolloutAborted: metric success-rate failed"}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "prod"}, "status": status if abort else {},
    }  # fmt: skip


async def test_changes_are_written_once() -> None:
    records = MemoryRecords()
    activity = ActivityRecorder(records)
    activity.start()
    apps: dict[str, dict[str, Any]] = {"web": app_with()}
    live: dict[str, list[dict[str, Any]]] = {"web": [rollout(False)]}
    watch = StatusWatch(apps.get, lambda name: live.get(name, []), activity)

    def update(minute: int) -> None:
        watch(AppUpdated("web", T0 + timedelta(minutes=minute)))

    warn = {"type": "PolicyWarning", "message": "policy k8s: web has no readiness probe"}
    refuse = {
        "type": "ComparisonError",
        "message": "policy k8s: web runs as root; policy k8s: web has no limits",
    }
    update(0)  # nothing found
    apps["web"] = app_with(warn)
    update(1)
    update(2)  # the same finding again: nothing new
    apps["web"] = app_with(refuse)
    live["web"] = [rollout(True)]
    update(3)
    update(4)  # still aborted: nothing new
    watch(AppDeleted("web", "shop", T0 + timedelta(minutes=5)))
    await activity.close()

    assert [(e.action, e.outcome, e.at.minute, e.actor) for e in records.entries] == [
        ("policy.violation", "warned", 1, "system:controller"),
        ("policy.violation", "refused", 3, "system:controller"),
        ("rollout.aborted", "Degraded", 3, "system:controller"),
    ]
    assert records.entries[1].detail == (
        "policy k8s: web has no limits; policy k8s: web runs as root"
    )
    assert records.entries[2].detail == (
        "Rollout prod/web: RolloutAborted: metric success-rate failed"
    )
    assert {e.project for e in records.entries} == {"shop"}


def rollout_with(abort: bool, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "prod"},
        "status": {"abort": abort, "message": message},
    }  # fmt: skip


async def test_only_the_controllers_own_aborts_are_written() -> None:
    records = MemoryRecords()
    activity = ActivityRecorder(records)
    activity.start()
    apps: dict[str, dict[str, Any]] = {"web": app_with()}
    live: dict[str, list[dict[str, Any]]] = {"web": []}
    watch = StatusWatch(apps.get, lambda name: live.get(name, []), activity)
    timeline = [
        (True, "CanaryPauseStep"),  # a person's abort patch, before the controller saw it
        (True, "RolloutAborted: Rollout aborted update to revision 2"),  # a person's abort
        (True, "RolloutAborted: Rollout aborted update to revision 2"),
        (False, "more replicas need to be updated"),  # retried
        (True, 'RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" '
               "assessed Failed due to failed (1) > failureLimit (0)"),  # analysis failed
        (False, "more replicas need to be updated"),  # retried
        (True, 'RolloutAborted: Rollout aborted update to revision 3: ReplicaSet "web-7d9" '
               "has timed out progressing."),  # progressDeadlineAbort
    ]  # fmt: skip
    for minute, (abort, message) in enumerate(timeline):
        live["web"] = [rollout_with(abort, message)]
        watch(AppUpdated("web", T0 + timedelta(minutes=minute)))
    await activity.close()

    assert [(e.action, e.at.minute, e.actor) for e in records.entries] == [
        ("rollout.aborted", 4, "system:controller"),
        ("rollout.aborted", 6, "system:controller"),
    ]
    assert "assessed Failed" in records.entries[0].detail
    assert "timed out progressing" in records.entries[1].detail
