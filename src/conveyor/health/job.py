"""Health of a Job, with Argo CD's meaning: its terminal conditions decide.

A Job is progressing until the Job controller marks it Complete (healthy) or Failed
(degraded, with the controller's reason such as "Job has reached the specified backoff
limit"). A suspended Job runs no Pods on purpose and is suspended. Sync hooks are Jobs, so
this is also what decides whether a PreSync or PostSync hook passed.

One deliberate difference from Argo CD: Argo counts any Suspended condition as terminal, so
a Job resumed after a suspension (condition status False) reads as Healthy while it still
runs. Here a resumed Job is progressing until it completes or fails.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object


def assess(obj: Object) -> Health:
    """The health of one Job."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    conditions = {
        cond.get("type"): cond
        for cond in status.get("conditions") or []
        if cond.get("status") == "True"
    }

    if "Failed" in conditions:
        message = conditions["Failed"].get("message") or "Job failed"
        return Health(HealthStatus.DEGRADED, str(message))
    if "Complete" in conditions:
        return Health(HealthStatus.HEALTHY, str(conditions["Complete"].get("message") or ""))
    if "Suspended" in conditions or spec.get("suspend"):
        message = (conditions.get("Suspended") or {}).get("message") or "Job is suspended"
        return Health(HealthStatus.SUSPENDED, str(message))

    active = int(status.get("active") or 0)
    succeeded = int(status.get("succeeded") or 0)
    failed = int(status.get("failed") or 0)
    return Health(
        HealthStatus.PROGRESSING,
        f"Waiting for the job to finish: {active} pods running, {succeeded} succeeded, "
        f"{failed} failed",
    )
