"""Health of a PersistentVolumeClaim, with Argo CD's meaning: its phase says it all.

Bound is healthy; Pending waits for a volume (provisioning, or the first consumer when the
StorageClass binds on first use); Lost means the bound volume is gone, which only a person
can repair.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object

_BY_PHASE = {
    "Bound": Health(HealthStatus.HEALTHY),
    "Pending": Health(HealthStatus.PROGRESSING, "Waiting for the claim to be bound to a volume"),
    "Lost": Health(HealthStatus.DEGRADED, "The volume bound to this claim no longer exists"),
}


def assess(obj: Object) -> Health:
    """The health of one PersistentVolumeClaim."""
    phase = (obj.get("status") or {}).get("phase")
    found = _BY_PHASE.get(str(phase))
    if found is not None:
        return found
    return Health(HealthStatus.UNKNOWN, f"The claim reports an unknown phase: {phase!r}")
