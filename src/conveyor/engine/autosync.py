"""The automated sync policy as one pure decision: does this comparison start a sync?

``decide(state, comparison, now)`` answers from what the controller knows about one app (its
``syncPolicy.automated``, whether an operation runs, how the last one ended, the self-heal
counters) and the comparison just made; it reads no clock and changes nothing, so every rule
is tested without an event loop. The rules are Argo CD's (``autoSync`` in its app controller):

- only an OutOfSync app is synced, and only when automated sync is on and no operation runs;
- a sync that would delete every resource is refused unless ``allowEmpty`` is set;
- a revision whose last sync failed is not synced again automatically (the operation's own
  ``retry`` policy retries; a new commit is synced as usual);
- drift at a revision that was synced successfully is reverted only with ``selfHeal``, and
  then after a backoff that doubles with each drift in a row (reset once the app is Synced),
  so that Conveyor never fights another writer in a tight loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from conveyor.backoff import exponential_delay
from conveyor.engine.events import Initiator
from conveyor.model.status import OperationPhase, OperationState, SyncStatus
from conveyor.model.syncpolicy import Automated


class Compared(Protocol):
    """What ``decide`` reads from a comparison (``compare.Comparison`` has it)."""

    @property
    def revision(self) -> str: ...

    @property
    def sync_status(self) -> SyncStatus: ...

    @property
    def desired_count(self) -> int: ...


@dataclass(frozen=True)
class SelfHealBackoff:
    """How long self-heal waits before reverting drift again."""

    first: float = 2.0
    """Seconds before the first self-heal sync; doubles with each drift in a row."""
    cap: float = 180.0
    """The longest wait."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after self-heal sync number ``attempt`` (1-based)."""
        return exponential_delay(attempt - 1, self.first, self.cap)


@dataclass(frozen=True)
class AutoSyncState:
    """What ``decide`` needs to know about one app besides the comparison."""

    policy: Automated | None
    """``spec.syncPolicy.automated``; None when the app syncs only on request."""
    operation_running: bool = False
    last_operation: OperationState | None = None
    self_heal_attempts: int = 0
    """Self-heal syncs in a row since the app was last Synced."""
    next_self_heal: float = float("-inf")
    """Monotonic time before which no self-heal sync starts."""


class Verdict(StrEnum):
    SYNC = "sync"  # start a sync now
    WAIT = "wait"  # a self-heal sync is due after ``retry_after`` seconds
    SKIP = "skip"  # nothing to do


@dataclass(frozen=True)
class Decision:
    """The answer, and the self-heal counters the app keeps from now on."""

    verdict: Verdict
    reason: str
    self_heal_attempts: int
    next_self_heal: float
    initiator: Initiator | None = None
    """Set with SYNC: automated, or self-heal."""
    revision: str = ""
    """Set with SYNC: the commit to sync (the one compared)."""
    retry_after: float = 0.0
    """Set with WAIT: seconds until the self-heal sync may start."""
    sync_error: str = ""
    """Set with a SKIP that a person must see: Argo CD's SyncError condition message."""


def last_revision(operation: OperationState | None) -> str | None:
    """The revision the last operation synced (or was asked to sync)."""
    if operation is None:
        return None
    if operation.sync_result is not None and operation.sync_result.revision:
        return operation.sync_result.revision
    return operation.operation.sync.revision


def decide(
    state: AutoSyncState,
    comparison: Compared,
    now: float,
    *,
    backoff: SelfHealBackoff | None = None,
) -> Decision:
    """Whether to start an automated sync for ``comparison`` at monotonic time ``now``."""
    backoff = backoff or SelfHealBackoff()

    def skip(reason: str, attempts: int = state.self_heal_attempts) -> Decision:
        return Decision(Verdict.SKIP, reason, attempts, state.next_self_heal)

    policy = state.policy
    if comparison.sync_status is SyncStatus.SYNCED:
        return skip("the app is Synced", attempts=0)
    if policy is None:
        return skip("automated sync is off")
    if comparison.sync_status is not SyncStatus.OUT_OF_SYNC:
        return skip(f"the sync status is {comparison.sync_status}")
    if state.operation_running:
        return skip("an operation is running")
    if comparison.desired_count == 0 and not policy.allow_empty:
        refused = skip("Git holds no resources: syncing would delete them all (allowEmpty is off)")
        return replace(
            refused,
            sync_error=f"Skipping sync attempt to {comparison.revision}: auto-sync will wipe out "
            "all resources",
        )
    last = state.last_operation
    same_revision = last is not None and last_revision(last) == comparison.revision
    if (
        last is not None
        and same_revision
        and last.phase
        in (
            OperationPhase.FAILED,
            OperationPhase.ERROR,
        )
    ):
        return skip(f"the last sync of {comparison.revision} failed; it is not retried on its own")
    if last is not None and same_revision and last.phase is OperationPhase.SUCCEEDED:
        if not policy.self_heal:
            return skip(f"{comparison.revision} was synced already and selfHeal is off")
        if now < state.next_self_heal:
            return Decision(
                Verdict.WAIT,
                "self-heal backs off",
                state.self_heal_attempts,
                state.next_self_heal,
                retry_after=state.next_self_heal - now,
            )
        attempts = state.self_heal_attempts + 1
        return Decision(
            Verdict.SYNC,
            f"self-healing drift (attempt {attempts})",
            attempts,
            now + backoff.delay(attempts),
            initiator=Initiator.SELF_HEAL,
            revision=comparison.revision,
        )
    return Decision(
        Verdict.SYNC,
        f"automated sync to {comparison.revision}",
        state.self_heal_attempts,
        state.next_self_heal,
        initiator=Initiator.AUTOMATED,
        revision=comparison.revision,
    )
