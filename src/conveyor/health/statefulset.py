"""Health of a StatefulSet, read the way ``kubectl rollout status`` and Argo CD read it.

A StatefulSet is progressing until its controller has seen the latest spec and every
desired replica is ready, then until the rolling update has moved the Pods it is allowed to
move (all of them, or those above the partition) to the new revision. With the OnDelete
strategy Pods change only when someone deletes them, so ready Pods are enough.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object


def assess(obj: Object) -> Health:
    """The health of one StatefulSet."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}

    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if observed == 0 or generation > observed:
        return Health(
            HealthStatus.PROGRESSING, "Waiting for statefulset spec update to be observed..."
        )

    desired = int(spec.get("replicas", 1))  # Kubernetes defaults spec.replicas to 1
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if ready < desired:
        return Health(
            HealthStatus.PROGRESSING, f"Waiting for {desired - ready} pods to be ready..."
        )

    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    update_revision = status.get("updateRevision", "")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and rolling is not None:
        # Kubernetes defaults the partition to 0: then every Pod is to be updated.
        partition = int(rolling.get("partition") or 0)
        to_update = desired - partition
        what = "partitioned roll out" if partition else "rolling update"
        if updated < to_update:
            return Health(
                HealthStatus.PROGRESSING,
                f"Waiting for {what} to finish: {updated} out of {to_update} "
                "new pods have been updated...",
            )
        return Health(
            HealthStatus.HEALTHY,
            f"{what.capitalize()} complete: {updated} pods at revision {update_revision}",
        )
    if strategy.get("type") == "OnDelete":
        return Health(
            HealthStatus.HEALTHY, f"StatefulSet has {ready} ready pods ({updated} updated)"
        )

    current_revision = status.get("currentRevision", "")
    if update_revision != current_revision:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for statefulset rolling update to complete: {updated} pods "
            f"at revision {update_revision}...",
        )
    current = int(status.get("currentReplicas") or 0)
    return Health(
        HealthStatus.HEALTHY,
        f"StatefulSet rolling update complete: {current} pods at revision {current_revision}",
    )
