"""Status transitions, pure: a reconcile's result, conditions over time, what changed."""

from __future__ import annotations

from typing import Any

from conveyor.diff import diff_app
from conveyor.engine.compare import Comparison
from conveyor.engine.events import HealthStatusChanged, SyncStatusChanged
from conveyor.engine.status import (
    reconciled,
    same_but_time,
    status_events,
    with_condition,
    with_history,
    with_operation,
    with_transitions,
)
from conveyor.model.health import Health, HealthStatus
from conveyor.model.status import (
    ApplicationStatus,
    Condition,
    ConditionType,
    HistoryEntry,
    OperationPhase,
    OperationState,
    ResourceStatus,
    SyncStatus,
)
from support.clock import ManualClock

SHA = "d" * 40
COMPARED_TO = {"source": {"repoURL": "https://example.com/r.git"}, "destination": {}}


def configmap(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "a"},
        "data": {"k": value},
    }


def comparison(live_value: str | None) -> Comparison:
    desired = [configmap("settings", "1")]
    live = [] if live_value is None else [configmap("settings", live_value)]
    result = Comparison(
        revision=SHA,
        desired=desired,
        diff=diff_app(desired, live, namespace="a"),
        source_type="Directory",
        live=live,
    )
    result.health = Health(HealthStatus.HEALTHY if live else HealthStatus.MISSING)
    result.resources = [
        ResourceStatus(kind="ConfigMap", namespace="a", name="settings", status=result.sync_status)
    ]
    return result


def warning(message: str) -> Condition:
    return Condition(type=ConditionType.UNKNOWN_FIELD, message=message)


def test_a_condition_keeps_its_time_while_it_stays_the_same() -> None:
    clock = ManualClock()
    first = with_transitions([], [warning("spec.x: unknown field")], clock.now())
    clock.advance(60)
    again = with_transitions(first, [warning("spec.x: unknown field"), warning("new")], clock.now())
    assert again[0].last_transition_time == first[0].last_transition_time
    assert again[1].last_transition_time == clock.now()


def test_a_reconcile_records_the_comparison_and_keeps_the_operation() -> None:
    clock = ManualClock()
    running = OperationState(phase=OperationPhase.RUNNING, started_at=clock.now(), retry_count=0)
    before = with_operation(ApplicationStatus(), running)
    after = reconciled(
        before, comparison=comparison(None), revision=SHA, compared_to=COMPARED_TO,
        conditions=[], now=clock.now(),
    )  # fmt: skip
    shown = after.to_dict()
    assert shown["sync"] == {"status": "OutOfSync", "revision": SHA, "comparedTo": COMPARED_TO}
    assert shown["health"] == {"status": "Missing"}
    assert shown["operationState"]["phase"] == "Running"
    assert shown["operationState"]["retryCount"] == 0
    assert "conditions" not in shown
    assert ApplicationStatus.from_dict(shown).to_dict() == shown


def test_a_failed_comparison_is_unknown_and_keeps_the_last_resources() -> None:
    clock = ManualClock()
    good = reconciled(
        ApplicationStatus(), comparison=comparison("1"), revision=SHA, compared_to=COMPARED_TO,
        conditions=[], now=clock.now(),
    )  # fmt: skip
    error = Condition(type=ConditionType.COMPARISON_ERROR, message="kustomize failed")
    failed = reconciled(
        good, comparison=None, revision=SHA, compared_to=COMPARED_TO, conditions=[error],
        now=clock.now(),
    )  # fmt: skip
    assert failed.sync.status is SyncStatus.UNKNOWN
    assert failed.health.status is HealthStatus.UNKNOWN
    assert failed.resources == good.resources
    assert [c.type for c in failed.conditions] == [ConditionType.COMPARISON_ERROR]


def test_only_the_reconcile_time_changing_is_no_change() -> None:
    clock = ManualClock()

    def status(live: str, *conditions: Condition) -> ApplicationStatus:
        return reconciled(
            ApplicationStatus(), comparison=comparison(live), revision=SHA,
            compared_to=COMPARED_TO, conditions=conditions, now=clock.now(),
        )  # fmt: skip

    first = status("1")
    clock.advance(30)
    assert same_but_time(status("1"), first)
    assert not same_but_time(status("2"), first)
    assert not same_but_time(status("1", warning("w")), first)


def test_sync_and_health_changes_become_events() -> None:
    clock = ManualClock()
    old = ApplicationStatus()
    new = reconciled(
        old, comparison=comparison("1"), revision=SHA, compared_to=COMPARED_TO, conditions=[],
        now=clock.now(),
    )  # fmt: skip
    events = status_events("web", old, new, clock.now())
    assert events == [
        SyncStatusChanged("web", "Unknown", "Synced", SHA, clock.now()),
        HealthStatusChanged("web", "Unknown", "Healthy", SHA, clock.now()),
    ]
    assert status_events("web", new, new, clock.now()) == []


def test_history_is_trimmed_to_its_limit_and_conditions_added_at_once() -> None:
    clock = ManualClock()
    status = ApplicationStatus()
    for n in range(1, 5):
        entry = HistoryEntry(id=n, revision=SHA, deployed_at=clock.now())
        status = with_history(status, entry, limit=2)
    assert [h.id for h in status.history] == [3, 4]
    failed = Condition(type=ConditionType.SYNC_ERROR, message="could not start")
    shown = with_condition(status, failed, clock.now())
    assert [(c.type, c.last_transition_time) for c in shown.conditions] == [
        (ConditionType.SYNC_ERROR, clock.now())
    ]
