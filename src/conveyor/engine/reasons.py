"""Why a workload is not running, said where people look.

A Deployment whose image is missing reports "Waiting for rollout to finish: 0 of 3 updated
replicas are available", true but no help: the reason is on its Pods (ImagePullBackOff because
the artifact store lacks the image, a crash loop, a failing readiness probe). ``explain`` adds
the reason the Pods under an unhealthy object give to that object's health message, so the
resource list, the app's health (the worst resource's message), a sync step's timeout and a
hook that does not finish all name it. A Pod whose health says only that it is not ready gets
its latest Warning event instead (``Readiness probe failed: ...``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conveyor.health import assess
from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.protocol import Event

Children = Callable[[Object], list[Object]]
"""The objects whose ownerReferences name an object (``LiveState.children``)."""
EventsOf = Callable[[ObjectKey], Awaitable[list[Event]]]
"""A target's events about one object (``Target.events``)."""

_UNWELL = frozenset({HealthStatus.PROGRESSING, HealthStatus.DEGRADED})
_DEPTH = 3  # Deployment -> ReplicaSet -> Pod, with one level to spare
_REASONS = 2  # distinct reasons named; more would bury the first
_VAGUE = ("Waiting for containers to become ready", "Waiting for the pod to become ready")


def _pods_under(obj: Object, children: Children) -> list[Object]:
    found: list[Object] = []
    level = [obj]
    for _ in range(_DEPTH):
        below = []
        for item in level:
            for child in children(item):
                if child.get("kind") == "Pod" and child.get("apiVersion") == "v1":
                    found.append(child)
                else:
                    below.append(child)
        level = below
    return found


def _waiting(pod: Object) -> list[str]:
    """What the Pod's containers wait for, in their own words (the kubelet's message)."""
    status = pod.get("status") or {}
    out = []
    for ctr in [*(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or [])]:  # fmt: skip
        waiting = (ctr.get("state") or {}).get("waiting") or {}
        if waiting.get("message"):
            out.append(f"{waiting.get('reason') or 'Waiting'}: {waiting['message']}")
    return out


async def _pod_reason(pod: Object, events: EventsOf | None) -> str:
    health = assess(pod)
    if health.status is HealthStatus.HEALTHY:
        return ""
    waiting = _waiting(pod)
    if waiting:
        return "; ".join(waiting)
    why = health.message
    if events is not None and (not why or why.startswith(_VAGUE)):
        warnings = [e for e in await events(ObjectKey.of(pod)) if e.type == "Warning"]
        if warnings:
            why = warnings[-1].message
    return why


async def pod_reasons(obj: Object, children: Children, events: EventsOf | None = None) -> list[str]:
    """What the Pods under ``obj`` (or ``obj`` itself, a Pod) say is wrong, one line per
    distinct reason: ``pod web-7d4-x2v (and 2 more): Back-off pulling image ...``."""
    pods = [obj] if obj.get("kind") == "Pod" else _pods_under(obj, children)
    by_reason: dict[str, list[str]] = {}
    for pod in pods:
        why = await _pod_reason(pod, events)
        if why:
            by_reason.setdefault(why, []).append(str(pod["metadata"].get("name", "")))
    out = []
    for why, names in list(by_reason.items())[:_REASONS]:
        more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
        out.append(f"pod {names[0]}{more}: {why}")
    return out


async def explain(
    obj: Object, health: Health, children: Children, events: EventsOf | None = None
) -> Health:
    """``health`` of ``obj``, its message followed by its Pods' reasons when it is unwell."""
    if health.status not in _UNWELL or obj.get("kind") == "Pod":
        return health
    reasons = await pod_reasons(obj, children, events)
    if not reasons:
        return health
    said = "; ".join(reasons)
    return Health(health.status, f"{health.message}: {said}" if health.message else said)
