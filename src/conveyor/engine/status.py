"""An application's status, moved from one value to the next: pure transitions.

The controller never edits a status in place: each step here takes the previous
``ApplicationStatus`` (frozen) and returns the next one, built from the model's types and
enums; ``ApplicationStatus.to_dict()`` writes Argo CD's JSON at the edge (API, store). A
condition keeps its ``lastTransitionTime`` while it stays the same (type and message), so a
person sees since when something has been wrong. ``status_events`` tells what changed
between two statuses as engine events (sync status, health).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from conveyor.engine.compare import Comparison
from conveyor.engine.events import HealthStatusChanged, SyncStatusChanged
from conveyor.model.health import Health, HealthStatus
from conveyor.model.status import (
    ApplicationStatus,
    Condition,
    HistoryEntry,
    OperationState,
    SyncState,
    SyncStatus,
)


def with_transitions(
    previous: Sequence[Condition], current: Iterable[Condition], now: datetime
) -> list[Condition]:
    """``current`` conditions stamped: the time of an equal previous one, else ``now``."""
    since = {(str(c.type), c.message): c.last_transition_time for c in previous}
    out = []
    for condition in current:
        when = since.get((str(condition.type), condition.message)) or now
        out.append(
            Condition(type=condition.type, message=condition.message, last_transition_time=when)
        )
    return out


def reconciled(
    previous: ApplicationStatus,
    *,
    comparison: Comparison | None,
    revision: str | None,
    compared_to: dict[str, Any],
    conditions: Iterable[Condition],
    now: datetime,
) -> ApplicationStatus:
    """The status after a reconcile: the comparison's result (or Unknown when it failed, with
    the last known resources kept), the conditions, and the operation and history as they
    were."""
    stamped = with_transitions(previous.conditions, conditions, now)
    fields: dict[str, Any] = {
        "sync": SyncState(
            status=comparison.sync_status if comparison else SyncStatus.UNKNOWN,
            revision=comparison.revision if comparison else (revision or ""),
            compared_to=compared_to,
        ),
        "health": comparison.health if comparison else Health(HealthStatus.UNKNOWN),
        "resources": comparison.resources if comparison else previous.resources,
        "summary": comparison.summary if comparison else previous.summary,
        "source_type": comparison.source_type if comparison else previous.source_type,
        "reconciled_at": now,
    }
    if stamped:
        fields["conditions"] = stamped
    kept = previous.model_fields_set
    if "operation_state" in kept and previous.operation_state is not None:
        fields["operation_state"] = previous.operation_state
    if "history" in kept:
        fields["history"] = previous.history
    return ApplicationStatus(**fields)


def same_but_time(a: ApplicationStatus, b: ApplicationStatus) -> bool:
    """Equal apart from ``reconciledAt`` (then there is nothing to save or tell)."""
    if a.model_fields_set != b.model_fields_set:
        return False
    return a.model_copy(update={"reconciled_at": b.reconciled_at}) == b


def with_operation(status: ApplicationStatus, operation: OperationState) -> ApplicationStatus:
    """``status`` with ``operationState`` replaced."""
    return status.model_copy(update={"operation_state": operation})


def with_history(status: ApplicationStatus, entry: HistoryEntry, limit: int) -> ApplicationStatus:
    """``status`` with ``entry`` appended to its history, trimmed to ``limit`` (at least 1),
    as the store trims it."""
    kept = [h for h in status.history if h.id != entry.id]
    kept.append(entry)
    return status.model_copy(update={"history": kept[-max(limit, 1) :]})


def with_condition(
    status: ApplicationStatus, condition: Condition, now: datetime
) -> ApplicationStatus:
    """``status`` with one more condition (shown at once, before the next reconcile)."""
    key = (str(condition.type), condition.message)
    others = [c for c in status.conditions if (str(c.type), c.message) != key]
    stamped = with_transitions(status.conditions, [condition], now)
    return status.model_copy(update={"conditions": [*others, *stamped]})


def status_events(
    app: str, old: ApplicationStatus, new: ApplicationStatus, now: datetime
) -> list[SyncStatusChanged | HealthStatusChanged]:
    """What changed from ``old`` to ``new`` that listeners are told about."""
    events: list[SyncStatusChanged | HealthStatusChanged] = []
    revision = new.sync.revision
    if old.sync.status is not new.sync.status:
        events.append(
            SyncStatusChanged(app, str(old.sync.status), str(new.sync.status), revision, now)
        )
    if old.health.status is not new.health.status:
        events.append(
            HealthStatusChanged(app, str(old.health.status), str(new.health.status), revision, now)
        )
    return events
