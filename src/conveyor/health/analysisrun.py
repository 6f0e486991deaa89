"""Health of an Argo Rollouts AnalysisRun, as Argo CD's built-in check reads it.

The run's phase decides: Pending and Running are progressing, Successful is healthy, Failed
and Error are degraded, Inconclusive is unknown (a person has to judge it). The run's own
status message, when it has one, says why.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object

# phase -> (health, message when the run gives none)
_BY_PHASE = {
    "Pending": (HealthStatus.PROGRESSING, "Analysis run is running"),
    "Running": (HealthStatus.PROGRESSING, "Analysis run is running"),
    "Successful": (HealthStatus.HEALTHY, "Analysis run completed successfully"),
    "Failed": (HealthStatus.DEGRADED, "Analysis run failed"),
    "Error": (HealthStatus.DEGRADED, "Analysis run had an error"),
    "Inconclusive": (HealthStatus.UNKNOWN, "Analysis run was inconclusive"),
}
_WAITING = "Waiting for analysis run to finish: status has not been reconciled."


def assess(obj: Object) -> Health:
    """The health of one AnalysisRun."""
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase not in _BY_PHASE:
        return Health(HealthStatus.PROGRESSING, _WAITING)
    health, default = _BY_PHASE[phase]
    if phase in ("Pending", "Running"):
        return Health(health, default)
    return Health(health, str(status.get("message") or default))
