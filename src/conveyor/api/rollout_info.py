"""A Rollout as Argo Rollouts' dashboard and ``kubectl argo rollouts get`` show it.

``info`` turns a live Rollout and its children (ReplicaSets with their Pods, AnalysisRuns)
into Argo Rollouts' ``RolloutInfo`` shape: status and message, strategy, step, set and
actual weight, replica counts, images, canary steps, and per ReplicaSet and AnalysisRun
what a person reads. Pure: the routes and the CLI's watch draw from the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conveyor.model.objects import Object
from conveyor.model.rollout_edits import POD_TEMPLATE_HASH, revision_of

Children = Callable[[Object], Sequence[Object]]

ROLLOUTS_GROUP = "argoproj.io"


def _status(obj: Object) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _meta(obj: Object) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _kind(obj: Object, kind: str) -> bool:
    return obj.get("kind") == kind


def strategy(rollout: Object) -> str:
    chosen = (rollout.get("spec") or {}).get("strategy") or {}
    return "BlueGreen" if "blueGreen" in chosen else "Canary"


def steps(rollout: Object) -> list[dict[str, Any]]:
    canary = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary") or {}
    found = canary.get("steps") or []
    return [s for s in found if isinstance(s, dict)]


def phase(rollout: Object) -> tuple[str, str]:
    """(status, message) as Argo's info reports them."""
    status = _status(rollout)
    message = str(status.get("message") or "")
    if status.get("abort"):
        return "Degraded", message or "RolloutAborted: Rollout aborted update"
    if (rollout.get("spec") or {}).get("paused") or status.get("pauseConditions"):
        reasons = [str(c.get("reason")) for c in status.get("pauseConditions") or []]
        return "Paused", message or ", ".join(r for r in reasons if r) or "manually paused"
    return str(status.get("phase") or "Progressing"), message


def _weights(rollout: Object) -> tuple[str, str]:
    status = _status(rollout)
    weights = (status.get("canary") or {}).get("weights") or {}
    if weights:
        canary = str((weights.get("canary") or {}).get("weight", 0))
        return canary, canary
    plan = steps(rollout)
    index = status.get("currentStepIndex")
    if strategy(rollout) == "BlueGreen" or not isinstance(index, int):
        return "", ""
    weight = 100
    if index < len(plan):
        weight = 0
        for step in plan[: index + 1]:
            if "setWeight" in step:
                weight = int(step["setWeight"])
    return str(weight), str(weight)


def _images(pod_template: dict[str, Any]) -> list[dict[str, str]]:
    spec = pod_template.get("spec") or {}
    return [
        {"name": str(c.get("name", "")), "image": str(c.get("image", ""))}
        for c in spec.get("containers") or []
        if isinstance(c, dict)
    ]


def _pod(pod: Object) -> dict[str, Any]:
    status = _status(pod)
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    return {
        "objectMeta": {"name": _meta(pod).get("name", "")},
        "status": str(status.get("phase") or "Pending"),
        "ready": f"{ready}/{len(statuses)}",
        "restarts": restarts,
    }


def _replicaset(rs: Object, rollout: Object, children: Children) -> dict[str, Any]:
    status, meta = _status(rollout), _meta(rs)
    hash_ = (meta.get("labels") or {}).get(POD_TEMPLATE_HASH, "")
    blue_green = (status.get("blueGreen") or {}) if strategy(rollout) == "BlueGreen" else {}
    stable = hash_ != "" and hash_ == status.get("stableRS")
    current = hash_ != "" and hash_ == status.get("currentPodHash")
    replicas = int((rs.get("spec") or {}).get("replicas") or 0)
    available = int(_status(rs).get("availableReplicas") or 0)
    state = "ScaledDown" if replicas == 0 else "Healthy" if available >= replicas else "Progressing"
    template = (rs.get("spec") or {}).get("template") or {}
    return {
        "objectMeta": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
        "status": state,
        "revision": revision_of(rs) or 0,
        "stable": stable,
        "canary": current and not stable and not blue_green,
        "active": bool(blue_green) and hash_ == blue_green.get("activeSelector"),
        "preview": bool(blue_green) and hash_ == blue_green.get("previewSelector"),
        "replicas": replicas,
        "available": available,
        "template": hash_,
        "scaleDownDeadline": (meta.get("annotations") or {}).get("scale-down-deadline", ""),
        "images": [c["image"] for c in _images(template)],
        "pods": [_pod(p) for p in children(rs) if _kind(p, "Pod")],
    }


def _analysis_run(run: Object) -> dict[str, Any]:
    status, meta = _status(run), _meta(run)
    counts = {"successful": 0, "failed": 0, "inconclusive": 0, "error": 0}
    measurements: list[dict[str, Any]] = []
    for metric in status.get("metricResults") or []:
        for field in counts:
            counts[field] += int(metric.get(field) or 0)
        for m in metric.get("measurements") or []:
            measurements.append(
                {
                    "value": str(m.get("value", "")),
                    "status": str(m.get("phase", "")),
                    "startedAt": m.get("startedAt"),
                }
            )
    revision = (meta.get("annotations") or {}).get("rollout.argoproj.io/revision", "0")
    return {
        "objectMeta": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
        "revision": int(revision) if str(revision).isdigit() else 0,
        "status": str(status.get("phase") or "Pending"),
        **counts,
        "nonJobInfo": measurements,
    }


def info(rollout: Object, children: Children) -> dict[str, Any]:
    """Argo Rollouts' RolloutInfo of ``rollout``; ``children(obj)`` lists what obj owns."""
    meta, spec, status = _meta(rollout), rollout.get("spec") or {}, _status(rollout)
    state, message = phase(rollout)
    set_weight, actual_weight = _weights(rollout)
    plan = steps(rollout)
    index = status.get("currentStepIndex")
    owned = children(rollout)
    replicasets = sorted(
        (_replicaset(rs, rollout, children) for rs in owned if _kind(rs, "ReplicaSet")),
        key=lambda r: -int(r["revision"]),
    )
    runs = sorted(
        (_analysis_run(r) for r in owned if _kind(r, "AnalysisRun")),
        key=lambda r: (-int(r["revision"]), r["objectMeta"]["name"]),
    )
    return {
        "objectMeta": {
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "creationTimestamp": meta.get("creationTimestamp"),
            "labels": meta.get("labels") or {},
        },
        "status": state,
        "message": message,
        "strategy": strategy(rollout),
        "step": f"{index}/{len(plan)}" if plan and isinstance(index, int) else "",
        "setWeight": set_weight,
        "actualWeight": actual_weight,
        "ready": int(status.get("readyReplicas") or 0),
        "current": int(status.get("replicas") or 0),
        "desired": int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
        "updated": int(status.get("updatedReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
        "restartedAt": str(status.get("restartedAt") or ""),
        "generation": str(meta.get("generation", "")),
        "replicaSets": replicasets,
        "experiments": [],
        "analysisRuns": runs,
        "containers": _images(spec.get("template") or {}),
        "steps": plan,
        "currentStepIndex": index if isinstance(index, int) else None,
        "stableRS": status.get("stableRS"),
        "currentPodHash": status.get("currentPodHash"),
        "abort": bool(status.get("abort")),
    }


def finished(rollout_info: dict[str, Any]) -> bool | None:
    """True once completed (Healthy), False once aborted or Degraded, None while it runs."""
    if rollout_info["status"] == "Healthy":
        return True
    if rollout_info["status"] == "Degraded":
        return False
    return None
