"""The automated sync policy, decided without an event loop: ``autosync.decide``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conveyor.engine.autosync import (
    AutoSyncState,
    Decision,
    SelfHealBackoff,
    Verdict,
    decide,
)
from conveyor.engine.events import Initiator
from conveyor.engine.operations import retry_delay, retry_limit
from conveyor.model.loading import application_from_dict
from conveyor.model.status import (
    Operation,
    OperationPhase,
    OperationState,
    SyncOperation,
    SyncResult,
    SyncStatus,
)
from conveyor.model.syncpolicy import Automated
from support.clock import ManualClock

SHA = "a" * 40
NEW_SHA = "b" * 40
SHA256 = "c" * 64


@dataclass(frozen=True)
class Compared:
    revision: str = SHA
    sync_status: SyncStatus = SyncStatus.OUT_OF_SYNC
    desired_count: int = 3


def last(phase: OperationPhase, revision: str = SHA) -> OperationState:
    clock = ManualClock()
    return OperationState(
        operation=Operation(sync=SyncOperation(revision=revision)),
        phase=phase,
        started_at=clock.now(),
        sync_result=SyncResult(revision=revision),
    )


def automated(**policy: bool) -> Automated:
    """``syncPolicy.automated`` as a manifest gives it (camelCase keys)."""
    return Automated.model_validate(policy)


def state(**changes: object) -> AutoSyncState:
    base: dict[str, object] = {"policy": automated(prune=True)}
    base.update(changes)
    return AutoSyncState(**base)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_out_of_sync_with_automated_sync_starts_a_sync(clock: ManualClock) -> None:
    decision = decide(state(), Compared(), clock.monotonic())
    assert decision.verdict is Verdict.SYNC
    assert decision.initiator is Initiator.AUTOMATED
    assert decision.revision == SHA


@pytest.mark.parametrize(
    ("app_state", "compared", "reason"),
    [
        (state(policy=None), Compared(), "automated sync is off"),
        (state(), Compared(sync_status=SyncStatus.SYNCED), "Synced"),
        (state(), Compared(sync_status=SyncStatus.UNKNOWN), "Unknown"),
        (state(operation_running=True), Compared(), "operation is running"),
    ],
    ids=["manual", "synced", "unknown", "operation-running"],
)
def test_nothing_to_do(
    clock: ManualClock, app_state: AutoSyncState, compared: Compared, reason: str
) -> None:
    decision = decide(app_state, compared, clock.monotonic())
    assert decision.verdict is Verdict.SKIP
    assert reason in decision.reason


def test_an_empty_render_is_not_synced_unless_allow_empty(clock: ManualClock) -> None:
    empty = Compared(desired_count=0)
    refused = decide(state(), empty, clock.monotonic())
    assert refused.verdict is Verdict.SKIP and "allowEmpty" in refused.reason
    assert refused.sync_error.endswith("auto-sync will wipe out all resources")  # Argo CD's words
    allowed = decide(state(policy=automated(allowEmpty=True)), empty, clock.monotonic())
    assert allowed.verdict is Verdict.SYNC and not allowed.sync_error


def test_a_failed_revision_is_not_retried_but_a_new_one_is(clock: ManualClock) -> None:
    for phase in (OperationPhase.FAILED, OperationPhase.ERROR):
        failed = state(last_operation=last(phase))
        assert decide(failed, Compared(), clock.monotonic()).verdict is Verdict.SKIP
        assert decide(failed, Compared(revision=NEW_SHA), clock.monotonic()).verdict is (
            Verdict.SYNC
        )


def test_drift_after_a_successful_sync_needs_self_heal(clock: ManualClock) -> None:
    synced = last(OperationPhase.SUCCEEDED)
    without = decide(state(last_operation=synced), Compared(), clock.monotonic())
    assert without.verdict is Verdict.SKIP and "selfHeal is off" in without.reason
    healing = state(policy=automated(selfHeal=True), last_operation=synced)
    decision = decide(healing, Compared(), clock.monotonic())
    assert decision.verdict is Verdict.SYNC
    assert decision.initiator is Initiator.SELF_HEAL


def test_self_heal_backs_off_doubling_and_resets_once_synced(clock: ManualClock) -> None:
    backoff = SelfHealBackoff(first=2.0, cap=5.0)
    app = state(policy=automated(selfHeal=True), last_operation=last(OperationPhase.SUCCEEDED))

    def step(current: AutoSyncState, compared: Compared = Compared()) -> Decision:
        return decide(current, compared, clock.monotonic(), backoff=backoff)

    def carry(current: AutoSyncState, decision: Decision) -> AutoSyncState:
        return AutoSyncState(
            policy=current.policy,
            last_operation=current.last_operation,
            self_heal_attempts=decision.self_heal_attempts,
            next_self_heal=decision.next_self_heal,
        )

    first = step(app)
    assert (first.verdict, first.self_heal_attempts) == (Verdict.SYNC, 1)
    app = carry(app, first)
    clock.advance(1.5)
    waiting = step(app)
    assert waiting.verdict is Verdict.WAIT
    assert waiting.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    second = step(app)
    assert (second.verdict, second.self_heal_attempts) == (Verdict.SYNC, 2)
    assert second.next_self_heal - clock.monotonic() == pytest.approx(4.0)
    app = carry(app, second)
    clock.advance(4.0)
    third = step(app)
    assert third.next_self_heal - clock.monotonic() == pytest.approx(5.0)  # capped
    synced = step(carry(app, third), Compared(sync_status=SyncStatus.SYNCED))
    assert synced.self_heal_attempts == 0


def test_a_sha256_revision_is_compared_like_any_other(clock: ManualClock) -> None:
    failed = state(last_operation=last(OperationPhase.FAILED, SHA256))
    assert decide(failed, Compared(revision=SHA256), clock.monotonic()).verdict is Verdict.SKIP


def test_retries_follow_the_apps_backoff() -> None:
    app = application_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "source": {"repoURL": "https://example.com/r.git"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "a"},
                "syncPolicy": {
                    "retry": {
                        "limit": 3,
                        "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3s"},
                    }
                },
            },
        }
    ).value
    assert retry_limit(app) == 3
    assert [retry_delay(app, n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
