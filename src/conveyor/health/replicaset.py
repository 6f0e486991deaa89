"""Health of a ReplicaSet, with Argo CD's meaning.

A ReplicaSet is healthy when its controller has seen the latest spec and all desired
replicas are available. When the controller could not create Pods (a quota, an admission
webhook), it sets the ReplicaFailure condition, and the set is degraded with that message.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object


def assess(obj: Object) -> Health:
    """The health of one ReplicaSet."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}

    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: the controller has not yet observed "
            f"generation {generation} (last observed {observed})",
        )

    for cond in status.get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            message = cond.get("message") or "The controller could not create replicas"
            return Health(HealthStatus.DEGRADED, str(message))

    desired = int(spec.get("replicas", 1))  # Kubernetes defaults spec.replicas to 1
    available = int(status.get("availableReplicas") or 0)
    if available < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {desired} new replicas "
            "are available...",
        )
    return Health(HealthStatus.HEALTHY)
