"""Health of a DaemonSet, read the way ``kubectl rollout status`` and Argo CD read it.

A DaemonSet is healthy once its controller has seen the latest spec and every node that
should run its Pod runs the new template, available. With the OnDelete strategy Pods change
only when someone deletes them, so it is healthy as soon as the spec is observed.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object


def assess(obj: Object) -> Health:
    """The health of one DaemonSet."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = meta.get("name", "")

    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: the controller has not yet observed "
            f"generation {generation} (last observed {observed})",
        )

    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(
            HealthStatus.HEALTHY, f"DaemonSet has {updated} out of {desired} pods updated"
        )
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
            "new pods have been updated...",
        )
    if available < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
            "updated pods are available...",
        )
    return Health(HealthStatus.HEALTHY)
