"""Health of a Deployment, read the way ``kubectl rollout status`` and Argo CD read it.

A Deployment is healthy once its controller has seen the latest spec and every desired
replica runs the new template and is available. Until then it is progressing, unless the
controller itself gave up (the progress deadline passed), which is degraded; a paused
Deployment is suspended on purpose.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object

# The reason the Deployment controller writes on its Progressing condition when
# spec.progressDeadlineSeconds passes without progress.
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def assess(obj: Object) -> Health:
    """The health of one Deployment."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = meta.get("name", "")

    if spec.get("paused"):
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")

    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return Health(
            HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: the controller has not yet observed "
            f"generation {generation} (last observed {observed})",
        )

    progressing = _condition(status, "Progressing")
    if progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return Health(HealthStatus.DEGRADED, f'Deployment "{name}" exceeded its progress deadline')

    desired = int(spec.get("replicas", 1))  # Kubernetes defaults spec.replicas to 1
    replicas = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {desired} new replicas "
            "have been updated...",
        )
    if replicas > updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {replicas - updated} old replicas "
            "are pending termination...",
        )
    if available < updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas "
            "are available...",
        )
    return Health(HealthStatus.HEALTHY)


def _condition(status: Object, kind: str) -> Object:
    """The status condition of type ``kind``, or an empty dict."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}
