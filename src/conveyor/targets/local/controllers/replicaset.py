"""The ReplicaSet controller as a pure plan: keep spec.replicas Pods of the template alive.

Kubernetes' ReplicaSet controller counts the active Pods it controls (not finished, not being
deleted), creates the missing ones from the template and, on scale-down, removes the Pods
that cost least to lose (ActivePodsWithRanks). It reports replicas, fullyLabeledReplicas,
readyReplicas and availableReplicas (Ready for longer than minReadySeconds). Here the same
rules produce a value the runtime carries out, so they can be tested without processes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common

BURST_REPLICAS = 500
"""At most this many Pods are created or deleted in one plan (Kubernetes' burstReplicas)."""


@dataclass(frozen=True)
class ReplicaSetPlan:
    """What one reconcile of a ReplicaSet should do."""

    create: tuple[Object, ...]
    """New Pods, complete objects (name from the caller's ``new_pod_name``)."""
    delete: tuple[str, ...]
    """Names of Pods to delete gracefully, the first to go first."""
    status: dict[str, Any]
    """The ReplicaSet's full new status."""
    requeue_after: float | None
    """Seconds until a Ready Pod becomes available (minReadySeconds), if any."""


def plan_replicaset(
    rs: Object,
    pods: list[Object],
    now: datetime,
    new_pod_name: Callable[[str], str],
) -> ReplicaSetPlan:
    """Plan one reconcile of ``rs`` given the Pods that exist (any owner; foreign ones ignored)."""
    spec = rs.get("spec") or {}
    meta = common.metadata(rs)
    rs_name = common.name_of(rs)
    desired = max(common.spec_int(spec, "replicas", 1), 0)
    min_ready = common.spec_int(spec, "minReadySeconds", 0)

    owned = [p for p in pods if common.is_controlled_by(p, common.uid_of(rs))]
    active = [p for p in owned if common.is_active(p)]

    create: list[Object] = []
    delete: list[str] = []
    diff = 0 if common.is_terminating(rs) else len(active) - desired
    if diff < 0:
        template = spec.get("template") or {}
        owner = common.controller_reference(rs, api_version="apps/v1", kind="ReplicaSet")
        for _ in range(min(-diff, BURST_REPLICAS)):
            create.append(
                common.pod_from_template(
                    template,
                    name=new_pod_name(rs_name),
                    generate_name=f"{rs_name}-",
                    namespace=meta.get("namespace"),
                    owner=owner,
                )
            )
    elif diff > 0:
        victims = sorted(active, key=common.deletion_rank)[: min(diff, BURST_REPLICAS)]
        delete = [common.name_of(p) for p in victims]

    remaining = [p for p in active if common.name_of(p) not in delete]
    status = _status(rs, remaining, min_ready, now)
    requeue = common.earliest(common.seconds_until_available(p, min_ready, now) for p in remaining)
    return ReplicaSetPlan(tuple(create), tuple(delete), status, requeue)


def _status(rs: Object, active: list[Object], min_ready: int, now: datetime) -> dict[str, Any]:
    """Kubernetes' calculateStatus over the Pods that remain active after this plan."""
    template_labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get(
        "labels"
    ) or {}
    fully_labeled = sum(
        1
        for p in active
        if all(
            (common.metadata(p).get("labels") or {}).get(k) == v for k, v in template_labels.items()
        )
    )
    status: dict[str, Any] = {
        "replicas": len(active),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": sum(1 for p in active if common.is_pod_ready(p)),
        "availableReplicas": sum(1 for p in active if common.is_pod_available(p, min_ready, now)),
        "observedGeneration": int(common.metadata(rs).get("generation") or 0),
    }
    conditions = (rs.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = copy.deepcopy(conditions)
    return status
