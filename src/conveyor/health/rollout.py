"""Health of an Argo Rollouts Rollout, read the way Argo CD's built-in Rollout check reads it.

Argo Rollouts 1.0 and later records a phase and a message in the Rollout's status, and Argo
CD surfaces them as they are (a Paused Rollout is Suspended). Until the controller has seen
the latest spec the Rollout is Progressing; a Rollout without a phase (written by an older
controller) is judged from its conditions, pause state, replica counts and, per strategy,
whether the current pod template is what serves.
"""

from __future__ import annotations

from typing import Any

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object

WORKLOAD_GENERATION = "rollout.argoproj.io/workload-generation"
"""The generation of a workloadRef's Deployment that the controller last saw."""

_NOT_OBSERVED = "Waiting for rollout spec update to be observed"


def assess(obj: Object) -> Health:
    """The health of one Rollout."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status")
    if not isinstance(status, dict) or status.get("observedGeneration") is None:
        return Health(HealthStatus.PROGRESSING, _NOT_OBSERVED)
    if not _generation_observed(meta, status) or not _workload_observed(meta, spec, status):
        return Health(HealthStatus.PROGRESSING, _NOT_OBSERVED)

    phase = status.get("phase")
    if phase:
        kind = HealthStatus.SUSPENDED if phase == "Paused" else _status_of(str(phase))
        return Health(kind, str(status.get("message") or ""))
    return _legacy(spec, status)


def _status_of(phase: str) -> HealthStatus:
    try:
        return HealthStatus(phase)
    except ValueError:
        return HealthStatus.UNKNOWN


def _generation_observed(meta: dict[str, Any], status: dict[str, Any]) -> bool:
    """A numeric observedGeneration must equal metadata.generation (v0.9 used a hash)."""
    observed = _number(status.get("observedGeneration"))
    generation = _number(meta.get("generation")) or 0
    if observed is None or observed > generation:
        return True
    return observed == generation


def _workload_observed(meta: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> bool:
    annotations = meta.get("annotations")
    if spec.get("workloadRef") is None or not isinstance(annotations, dict):
        return True
    wanted = _number(annotations.get(WORKLOAD_GENERATION))
    return wanted == _number(status.get("workloadObservedGeneration"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _legacy(spec: dict[str, Any], status: dict[str, Any]) -> Health:
    """A Rollout whose controller predates status.phase."""
    for cond in status.get("conditions") or []:
        if not isinstance(cond, dict):
            continue
        message = str(cond.get("message") or "")
        if cond.get("type") == "InvalidSpec":
            return Health(HealthStatus.DEGRADED, message)
        if cond.get("type") == "Progressing" and cond.get("reason") in (
            "RolloutAborted",
            "ProgressDeadlineExceeded",
        ):
            return Health(HealthStatus.DEGRADED, message)
    if status.get("pauseConditions") or spec.get("paused"):
        return Health(HealthStatus.SUSPENDED, "Rollout is paused")
    current = status.get("currentPodHash")
    if current is None:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: status has not been reconciled.",
        )
    desired = _count(spec.get("replicas"), 1)
    replicas = _count(status.get("replicas"), 0)
    updated = _count(status.get("updatedReplicas"), 0)
    available = _count(status.get("availableReplicas"), 0)
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for roll out to finish: More replicas need to be updated",
        )
    if available < updated:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for roll out to finish: updated replicas are still becoming available",
        )
    stable = status.get("stableRS")
    if stable is None:
        stable = (status.get("canary") or {}).get("stableRS") or ""
    strategy = spec.get("strategy") or {}
    if strategy.get("blueGreen") is not None:
        if (status.get("blueGreen") or {}).get("activeSelector") != current:
            return Health(HealthStatus.PROGRESSING, "active service cutover pending")
        if stable and stable != current:
            return Health(HealthStatus.PROGRESSING, "waiting for analysis to complete")
    elif strategy.get("canary") is not None:
        if replicas > updated:
            return Health(
                HealthStatus.PROGRESSING,
                "Waiting for roll out to finish: old replicas are pending termination",
            )
        if not stable or stable != current:
            return Health(HealthStatus.PROGRESSING, "Waiting for rollout to finish steps")
    return Health(HealthStatus.HEALTHY)


def _count(value: Any, default: int) -> int:
    number = _number(value)
    return default if number is None else int(number)
