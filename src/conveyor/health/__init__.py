"""Health assessment: what state each live object is in, and so the application.

The engine asks one question of every live object an application owns: is it doing what it
should? ``assess`` answers with Argo CD's statuses and a message a person reads; each kind's
answer is a small pure function in its own module, found through a registry keyed by
(API group, kind) so that later kinds (Rollout, AnalysisRun…) plug in with ``@register``.
``aggregate`` folds those answers into the application's health: the worst of them.

Argo CD gives no health to kinds it has no check for; Conveyor calls an object of such a kind
Healthy once it exists, so a ConfigMap or a CRD's object never holds an application back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from conveyor.health import (
    analysisrun,
    daemonset,
    deployment,
    job,
    pod,
    pvc,
    replicaset,
    rollout,
    service,
    statefulset,
)
from conveyor.model.health import Health, HealthStatus, is_worse
from conveyor.model.objects import Object, group_of
from conveyor.model.synccommon import HOOK_FINALIZER

__all__ = [
    "HOOK_FINALIZER",
    "REGISTRY",
    "HealthCheck",
    "Registry",
    "aggregate",
    "assess",
    "register",
]

HealthCheck = Callable[[Object], Health]
"""A pure function from one live object of a kind to its health."""

_CheckT = TypeVar("_CheckT", bound=HealthCheck)

# HOOK_FINALIZER (from the sync vocabulary): Argo CD's finalizer on hook objects holds a
# finished hook while the sync reads its result, so such an object keeps its own health
# while it is being deleted.


class Registry:
    """Health checks by (API group, kind); the core group is ``""``."""

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str], HealthCheck] = {}

    def register(self, group: str, kind: str) -> Callable[[_CheckT], _CheckT]:
        """Decorator: make the decorated function the check for ``kind`` in ``group``.

        Raises ValueError when the kind already has a check, so that two modules cannot
        silently fight over one kind.
        """

        def decorate(check: _CheckT) -> _CheckT:
            if (group, kind) in self._checks:
                where = f"group {group!r}" if group else "the core group"
                raise ValueError(f"{kind} in {where} already has a health check")
            self._checks[(group, kind)] = check
            return check

        return decorate

    def lookup(self, group: str, kind: str) -> HealthCheck | None:
        """The check for ``kind`` in ``group``, or None when Conveyor has none."""
        return self._checks.get((group, kind))

    def kinds(self) -> list[tuple[str, str]]:
        """Every (group, kind) with a check, sorted."""
        return sorted(self._checks)


REGISTRY = Registry()
"""The registry ``assess`` consults."""

register = REGISTRY.register

# The kinds Kubernetes ships that Conveyor judges, as data.
_BUILT_IN: tuple[tuple[str, str, HealthCheck], ...] = (
    ("", "PersistentVolumeClaim", pvc.assess),
    ("", "Pod", pod.assess),
    ("", "Service", service.assess),
    ("apps", "DaemonSet", daemonset.assess),
    ("apps", "Deployment", deployment.assess),
    ("apps", "ReplicaSet", replicaset.assess),
    ("apps", "StatefulSet", statefulset.assess),
    ("batch", "Job", job.assess),
    # Argo Rollouts' kinds that Argo CD judges with a built-in check
    ("argoproj.io", "AnalysisRun", analysisrun.assess),
    ("argoproj.io", "Rollout", rollout.assess),
)
for _group, _kind, _check in _BUILT_IN:
    register(_group, _kind)(_check)


def assess(obj: Object | None) -> Health:
    """The health of one live object; ``None`` (not in the target) is Missing.

    Never raises: an object whose check fails on it (a malformed status) is Unknown, with
    the reason in the message.
    """
    if obj is None:
        return Health(HealthStatus.MISSING, "Resource does not exist in the target")
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") and HOOK_FINALIZER not in (meta.get("finalizers") or []):
        return Health(HealthStatus.PROGRESSING, "Pending deletion")

    kind = str(obj.get("kind") or "")
    check = REGISTRY.lookup(group_of(str(obj.get("apiVersion") or "")), kind)
    if check is None:
        return Health(HealthStatus.HEALTHY)
    try:
        return check(obj)
    except Exception as err:  # any check bug or odd field must not stop the reconcile loop
        name = meta.get("name", "")
        return Health(HealthStatus.UNKNOWN, f'Could not assess health of {kind} "{name}": {err}')


def aggregate(healths: Iterable[Health]) -> Health:
    """An application's health: the worst of its resources' in Argo CD's order.

    The result carries the message of the first resource found at that status, so that a
    Degraded application says why. An application without resources is Healthy.
    """
    worst = Health(HealthStatus.HEALTHY)
    for health in healths:
        if is_worse(health.status, worst.status):
            worst = health
    return worst
