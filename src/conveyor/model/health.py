"""Health statuses with Argo CD's meanings, and their worst-of order.

- Healthy: the object is doing what it should.
- Progressing: not healthy yet, but still expected to get there.
- Degraded: failed, or could not reach health in time.
- Suspended: paused on purpose (a paused Deployment, a suspended Job).
- Missing: the object does not exist in the target.
- Unknown: its health could not be assessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthStatus(StrEnum):
    """One object's (or one application's) health."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


# Argo CD aggregates an application's health as the worst of its resources, in this order.
_WORST_ORDER = [
    HealthStatus.HEALTHY,
    HealthStatus.SUSPENDED,
    HealthStatus.PROGRESSING,
    HealthStatus.MISSING,
    HealthStatus.DEGRADED,
    HealthStatus.UNKNOWN,
]


def is_worse(a: HealthStatus, b: HealthStatus) -> bool:
    """True when ``a`` is worse than ``b`` in Argo CD's aggregation order."""
    return _WORST_ORDER.index(a) > _WORST_ORDER.index(b)


@dataclass(frozen=True)
class Health:
    """A status with a message written for a person."""

    status: HealthStatus
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        """Argo CD's ``status.health`` shape."""
        out = {"status": self.status.value}
        if self.message:
            out["message"] = self.message
        return out
