"""The small Kubernetes rules that the Deployment, ReplicaSet and Job controllers share.

Pod readiness and availability, owner references, label selectors, int-or-percent values,
condition bookkeeping and the scale-down ranking of Pods are each decided once here, so the
three controllers (and the Deployment's view of its ReplicaSets' Pods) always agree on them.
Everything is pure: time comes in as ``now``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from conveyor.clock import rfc3339
from conveyor.model.objects import Object

# -- well-known keys ----------------------------------------------------------------------------

ANN_REVISION = "deployment.kubernetes.io/revision"
"""The rollout revision a ReplicaSet stands for (max of the old ones + 1)."""
ANN_REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
"""Earlier revisions of a ReplicaSet whose template came back (rollbacks)."""
ANN_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
"""spec.replicas of the Deployment when it last scaled this ReplicaSet."""
ANN_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
"""replicas + maxSurge of the Deployment when it last scaled this ReplicaSet."""
ANN_POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
"""Pods with a lower cost are removed first on scale-down."""
LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
"""Ties a ReplicaSet and its Pods to one pod template of a Deployment."""

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet

# -- reading objects ----------------------------------------------------------------------------


def metadata(obj: Object) -> dict[str, Any]:
    """``obj.metadata`` (empty when missing)."""
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def name_of(obj: Object) -> str:
    return str(metadata(obj).get("name") or "")


def uid_of(obj: Object) -> str:
    return str(metadata(obj).get("uid") or "")


def spec_int(spec: dict[str, Any], key: str, default: int) -> int:
    """An integer field of a spec, ``default`` when absent or not a number."""
    value = spec.get(key)
    if isinstance(value, bool) or value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def creation_time(obj: Object) -> datetime | None:
    return parse_time(metadata(obj).get("creationTimestamp"))


def earliest(delays: Iterable[float | None]) -> float | None:
    """The smallest of the given delays, ignoring None; None when there is none."""
    present = [d for d in delays if d is not None]
    return min(present) if present else None


# -- owner references ---------------------------------------------------------------------------


def controller_ref(obj: Object) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in metadata(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Object, owner_uid: str) -> bool:
    """True when ``obj``'s controller ownerReference names ``owner_uid``."""
    ref = controller_ref(obj)
    return bool(owner_uid) and ref is not None and ref.get("uid") == owner_uid


def controller_reference(owner: Object, *, api_version: str, kind: str) -> dict[str, Any]:
    """The ownerReference a controller puts on the objects it creates."""
    meta = metadata(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


# -- label selectors ----------------------------------------------------------------------------


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a label set.

    An empty or missing selector matches everything; callers that must refuse to select
    everything (as the Deployment controller does) check ``selector_is_empty`` first.
    """
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: dict[str, Any] | None) -> bool:
    return not selector or not (selector.get("matchLabels") or selector.get("matchExpressions"))


# -- int or percent -----------------------------------------------------------------------------


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """Kubernetes' GetScaledValueFromIntOrPercent: ``3`` is 3, ``"25%"`` is 25% of ``total``.

    Raises ValueError for anything else (a string without ``%``, a negative number).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid int-or-percent value {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid int-or-percent value {value!r}")
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    raise ValueError(f"invalid int-or-percent value {value!r}: a number or a percentage")


# -- pods ---------------------------------------------------------------------------------------


def pod_phase(pod: Object) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(obj: Object) -> bool:
    """True once deletion has begun (metadata.deletionTimestamp is set)."""
    return bool(metadata(obj).get("deletionTimestamp"))


def is_terminal(pod: Object) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Object) -> bool:
    """Kubernetes' IsPodActive: not finished and not being deleted."""
    return not is_terminal(pod) and not is_terminating(pod)


def pod_condition(pod: Object, kind: str) -> dict[str, Any] | None:
    return find_condition((pod.get("status") or {}).get("conditions"), kind)


def is_pod_ready(pod: Object) -> bool:
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Object) -> datetime | None:
    """When a Ready pod last became Ready (its Ready condition's lastTransitionTime)."""
    cond = pod_condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime"))


def is_pod_available(pod: Object, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for more than ``min_ready_seconds`` (Kubernetes' IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and (now - since).total_seconds() > min_ready_seconds


def seconds_until_available(pod: Object, min_ready_seconds: int, now: datetime) -> float | None:
    """For a Ready pod that is not yet available: when to look again; otherwise None.

    Timestamps have second precision and availability needs *more* than minReadySeconds,
    so the answer lands one second past the boundary, where the pod is certainly available.
    """
    if (
        min_ready_seconds <= 0
        or not is_pod_ready(pod)
        or is_pod_available(pod, min_ready_seconds, now)
    ):
        return None
    since = ready_since(pod)
    if since is None:
        return None
    return max((since - now).total_seconds() + min_ready_seconds, 0.0) + 1.0


def max_restarts(pod: Object) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Object) -> int:
    try:
        return int((metadata(pod).get("annotations") or {}).get(ANN_POD_DELETION_COST, 0))
    except (TypeError, ValueError):
        return 0


def _newest_first(moment: datetime | None) -> tuple[int, float]:
    # Kubernetes' afterOrZero: a missing time sorts first, then the latest.
    return (0, 0.0) if moment is None else (1, -moment.timestamp())


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Object) -> tuple[Any, ...]:
    """Sort key for scale-down: Pods that sort first are removed first (ActivePodsWithRanks).

    Unscheduled before scheduled, Pending before Unknown before Running, not ready before
    ready, lower pod-deletion-cost first, the most recently Ready first, more restarts first,
    newer before older; the name settles ties so that plans are deterministic.
    """
    ready = is_pod_ready(pod)
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        _PHASE_ORDINAL.get(pod_phase(pod), 0),
        1 if ready else 0,
        _deletion_cost(pod),
        _newest_first(ready_since(pod)) if ready else (0, 0.0),
        -max_restarts(pod),
        _newest_first(creation_time(pod)),
        name_of(pod),
    )


def pod_from_template(
    template: dict[str, Any],
    *,
    name: str,
    generate_name: str,
    namespace: str | None,
    owner: dict[str, Any],
    extra_labels: dict[str, str] | None = None,
) -> Object:
    """A Pod object built from a pod template, owned by ``owner`` (GetPodFromTemplate)."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "name": name,
        "generateName": generate_name,
        "labels": {**copy.deepcopy(tmeta.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [copy.deepcopy(owner)],
    }
    if namespace:
        meta["namespace"] = namespace
    if tmeta.get("annotations"):
        meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = copy.deepcopy(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


# -- conditions ---------------------------------------------------------------------------------


def find_condition(conditions: Any, kind: str) -> dict[str, Any] | None:
    for cond in conditions or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def new_condition(
    kind: str, status: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    """A Deployment-style condition stamped with ``now``."""
    stamp = rfc3339(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(conditions: list[dict[str, Any]], cond: dict[str, Any]) -> list[dict[str, Any]]:
    """Kubernetes' SetDeploymentCondition.

    Same status and reason: nothing changes (not even lastUpdateTime). Same status, other
    reason: replaced, keeping lastTransitionTime. The changed condition moves to the end.
    """
    current = find_condition(conditions, cond["type"])
    if current is not None and current.get("status") == cond["status"]:
        if current.get("reason") == cond["reason"]:
            return conditions
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    return [*remove_condition(conditions, cond["type"]), cond]


def remove_condition(conditions: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in conditions if c.get("type") != kind]


# -- hashing ------------------------------------------------------------------------------------


def fnv1a_32(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Kubernetes' rand.SafeEncodeString: no vowels, no look-alike characters."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)
