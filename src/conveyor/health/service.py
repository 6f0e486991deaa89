"""Health of a Service, with Argo CD's meaning.

A Service exists as soon as the API server accepts it, except that a LoadBalancer Service
is not reachable until the cloud (or MetalLB…) assigns it an address: until
``status.loadBalancer.ingress`` lists one, it is progressing.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object


def assess(obj: Object) -> Health:
    """The health of one Service."""
    spec = obj.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return Health(HealthStatus.HEALTHY)
    status = obj.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return Health(
            HealthStatus.PROGRESSING, "Waiting for the load balancer to be given an address"
        )
    return Health(HealthStatus.HEALTHY)
