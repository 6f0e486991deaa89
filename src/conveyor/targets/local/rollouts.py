"""Carrying out a Rollout's plan in the local runtime, as Argo Rollouts acts in a cluster.

The runtime dispatches each ``argoproj.io/Rollout`` here whenever the Rollout, one of its
ReplicaSets, their Pods or its AnalysisRuns change, or when a plan's ``requeue_after`` runs
out. ``plan_rollout`` decides; this module acts, in the documented order: the status first,
then ``persist_now`` (a traffic change, an abort or a promotion is on disk before anything acts
on it), then the ReplicaSets, the Pods, the Rollout's annotations, the Services' injected
selectors, the exact traffic weights, the AnalysisRuns and the events. Weights live only in
memory, so after a restart ``restore_weights`` serves them again from each Rollout's status.

After a restart every Pod starts again, not Ready until its probes pass. Argo Rollouts sends
no traffic to a canary without an available Pod, so a plan made then would record weight 0 and
step back up minutes later: a change nobody asked for. Instead, for ``RESTART_GRACE`` seconds,
a Pod that was Ready when Conveyor stopped counts with its recorded status until it is Ready
again (the proxy still routes only to Ready Pods), and the Rollout resumes with its weights.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local import controllers, workloads
from conveyor.targets.local.controllers.instance import INSTANCE_ID_LABEL, handles
from conveyor.targets.local.controllers.rollout_runs import (
    AnalysisRunBuildError,
    build_analysis_run,
)
from conveyor.targets.local.controllers.rollout_types import (
    HASH_LABEL,
    AnalysisRunInfo,
    AnalysisRunRequest,
    RolloutPlan,
)
from conveyor.targets.protocol import WatchEvent, WatchEventType

if TYPE_CHECKING:
    from conveyor.targets.local.runtime import LocalRuntime

RESTART_GRACE = 120.0
"""Seconds a restored Pod keeps its recorded readiness for the Rollout controller."""
GROUP = "argoproj.io"
ROLLOUT = "Rollout"
SERVICE_FIELDS = ("canaryService", "stableService", "activeService", "previewService")
INSTANCE_ID = INSTANCE_ID_LABEL
"""Argo Rollouts' controller runs only the Rollouts of its instance id (``controllers.
instance``); the runtime's is ``runtime.instance_id`` (none by default)."""


def is_rollout(key: ObjectKey) -> bool:
    return key.group == GROUP and key.kind == ROLLOUT


def handled(runtime: LocalRuntime, rollout: Object) -> bool:
    """The runtime's controller (of its instance id) runs this Rollout."""
    return handles(rollout, runtime.instance_id)


def _rollouts(runtime: LocalRuntime, namespace: str | None = None) -> list[Object]:
    return [
        obj
        for obj in runtime.store.list(kind=ROLLOUT, namespace=namespace)
        if str(obj.get("apiVersion", "")).startswith(f"{GROUP}/") and handled(runtime, obj)
    ]


def services_of(rollout: Object) -> set[str]:
    """The Services a Rollout's strategy names (their selectors are the controller's)."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    out: set[str] = set()
    for section in strategy.values():
        if isinstance(section, dict):
            out.update(str(section[f]) for f in SERVICE_FIELDS if section.get(f))
    return out


def rollouts_naming(runtime: LocalRuntime, key: ObjectKey) -> list[ObjectKey]:
    """The Rollouts that name ``key``: a Service of their strategy (to inject its selector
    again) or the Deployment of their ``workloadRef`` (its template is theirs)."""
    out = []
    for obj in _rollouts(runtime, key.namespace):
        if key.kind == "Service" and key.name in services_of(obj):
            out.append(ObjectKey.of(obj))
        ref = (obj.get("spec") or {}).get("workloadRef") or {}
        if key.kind == ref.get("kind", "Deployment") and key.name == ref.get("name"):
            out.append(ObjectKey.of(obj))
    return out


class RestoredPods:
    """The recorded status of the Pods that were Ready when the last Conveyor stopped."""

    def __init__(self, objects: Iterable[Object], started: datetime) -> None:
        self.started = started
        self._status: dict[ObjectKey, dict[str, Any]] = {
            ObjectKey.of(obj): copy.deepcopy(obj["status"])
            for obj in objects
            if obj.get("kind") == "Pod" and _ready(obj)
        }

    def view(self, pods: list[Object], now: datetime) -> tuple[list[Object], float | None]:
        """``pods`` as the planner should see them, and the seconds the grace has left."""
        left = RESTART_GRACE - (now - self.started).total_seconds()
        if not self._status or left <= 0:
            self._status.clear()
            return pods, None
        out, held = [], False
        for pod in pods:
            key = ObjectKey.of(pod)
            recorded = self._status.get(key)
            if recorded is None or _ready(pod) or pod["metadata"].get("deletionTimestamp"):
                self._status.pop(key, None)
                out.append(pod)
                continue
            out.append({**pod, "status": recorded})
            held = True
        return out, left if held else None


def _ready(pod: Object) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def restore_weights(runtime: LocalRuntime) -> None:
    """Serve each Rollout's recorded weights again (they are in memory only)."""
    for obj in _rollouts(runtime):
        weights = ((obj.get("status") or {}).get("canary") or {}).get("weights") or {}
        stable, canary = weights.get("stable") or {}, weights.get("canary") or {}
        service = stable.get("serviceName")
        if not service or not stable.get("podTemplateHash"):
            continue
        split = {str(stable["podTemplateHash"]): int(stable.get("weight") or 0)}
        if canary.get("podTemplateHash"):
            split[str(canary["podTemplateHash"])] = split.get(
                str(canary["podTemplateHash"]), 0
            ) + int(canary.get("weight") or 0)
        runtime.set_weights(obj["metadata"].get("namespace", "default"), str(service), split)


def on_change(runtime: LocalRuntime, event: WatchEvent) -> None:
    """A Service or Deployment a Rollout names changed (its injected selector, its
    ``workloadRef``): plan the Rollout again. A Rollout was deleted: ``forget`` it."""
    key = ObjectKey.of(event.object)
    if is_rollout(key):
        if event.type == WatchEventType.DELETED:
            forget(runtime, event.object)
        return
    for rollout in rollouts_naming(runtime, key):
        runtime.enqueue(rollout)


def forget(runtime: LocalRuntime, rollout: Object) -> None:
    """A deleted Rollout's traffic weights leave the Services' proxies (every Pod alike again),
    unless another Rollout of this controller routes that Service."""
    if not handled(runtime, rollout):
        return
    namespace = rollout["metadata"].get("namespace", "default")
    weights = ((rollout.get("status") or {}).get("canary") or {}).get("weights") or {}
    weighted = {
        str(side["serviceName"])
        for side in (weights.get("stable"), weights.get("canary"))
        if isinstance(side, dict) and side.get("serviceName")
    }
    uid = rollout["metadata"].get("uid")
    others = set().union(
        *(services_of(o) for o in _rollouts(runtime, namespace) if o["metadata"].get("uid") != uid)
    )
    for service in (weighted | services_of(rollout)) - others:
        if runtime.services.weights(namespace, service) is not None:
            runtime.set_weights(namespace, service, None)


async def reconcile(runtime: LocalRuntime, key: ObjectKey, rollout: Object) -> None:
    """Plan the Rollout and carry the plan out (unless another instance's)."""
    if not handled(runtime, rollout):
        return
    store = runtime.store
    children = store.children(rollout["metadata"]["uid"])
    replicasets = [o for o in children if o["kind"] == "ReplicaSet"]
    pods = [
        p for rs in replicasets for p in store.children(rs["metadata"]["uid"]) if p["kind"] == "Pod"
    ]
    pods, grace = runtime.restored.view(pods, runtime.clock.now())
    if grace is not None:
        runtime.enqueue_after(key, grace)
    runs = [_run_info(o) for o in children if o["kind"] == "AnalysisRun"]
    plan = controllers.plan_rollout(
        rollout,
        replicasets,
        pods,
        runtime.clock.now(),
        analysis_runs=runs,
        workload_template=_workload_template(runtime, key, rollout),
    )
    store.update_status(key, plan.status)
    await runtime.persist_now()  # raises when it cannot write: then nothing below acts
    _apply_replicasets(runtime, key, plan)
    if plan.rollout_annotations:
        store.update(key, workloads.set_annotations(plan.rollout_annotations, ()))
    for service, value in plan.service_selectors.items():
        _inject_selector(runtime, ObjectKey("", "Service", key.namespace, service), value)
    for service, split in plan.traffic.items():
        if runtime.services.weights(key.namespace, service) != split:
            runtime.set_weights(key.namespace, service, split)
    for request in plan.analysis_create:
        _create_run(runtime, key, request)
    for name in plan.analysis_terminate:
        run_key = ObjectKey(GROUP, "AnalysisRun", key.namespace, name)
        if store.get(run_key) is not None:
            store.update(run_key, _terminate)
    for event in plan.events:
        runtime.events.record(key, event.reason, event.message, event.type)
    if plan.requeue_after is not None:
        runtime.enqueue_after(key, plan.requeue_after)


def _run_info(run: Object) -> AnalysisRunInfo:
    status = run.get("status") or {}
    return AnalysisRunInfo(
        run["metadata"]["name"], str(status.get("phase") or ""), str(status.get("message") or "")
    )


def _workload_template(runtime: LocalRuntime, key: ObjectKey, rollout: Object) -> Any:
    ref = (rollout.get("spec") or {}).get("workloadRef") or {}
    if not ref.get("name"):
        return None
    group = str(ref.get("apiVersion") or "apps/v1").rpartition("/")[0]
    kind = str(ref.get("kind") or "Deployment")
    workload = runtime.store.get(ObjectKey(group, kind, key.namespace, str(ref["name"])))
    return None if workload is None else (workload.get("spec") or {}).get("template")


def _apply_replicasets(runtime: LocalRuntime, key: ObjectKey, plan: RolloutPlan) -> None:
    workloads.apply_replicasets(
        runtime,
        key.namespace,
        create=plan.create,
        scale=plan.scale,
        annotate=plan.annotate,
        unannotate=plan.unannotate,
        delete=plan.delete,
    )
    for name in plan.delete_pods:
        runtime.delete(ObjectKey("", "Pod", key.namespace, name))


def _inject_selector(runtime: LocalRuntime, service: ObjectKey, value: str) -> None:
    """Argo's selector injection: the Service selects one ReplicaSet's Pods."""
    svc = runtime.store.get(service)
    if svc is None:
        return  # Argo waits for the Service; the plan is made again when it appears
    if ((svc.get("spec") or {}).get("selector") or {}).get(HASH_LABEL) == value:
        return

    def mutate(obj: Object) -> None:
        obj.setdefault("spec", {}).setdefault("selector", {})[HASH_LABEL] = value

    runtime.store.update(service, mutate)


def _create_run(runtime: LocalRuntime, key: ObjectKey, request: AnalysisRunRequest) -> None:
    namespace = request.namespace or key.namespace
    if runtime.store.get(ObjectKey(GROUP, "AnalysisRun", namespace, request.name)) is not None:
        return  # created before (a replayed plan): a no-op, as Argo's create-or-get

    def lookup(name: str, cluster: bool) -> Object | None:
        if cluster:
            return runtime.store.get(ObjectKey(GROUP, "ClusterAnalysisTemplate", "", name))
        return runtime.store.get(ObjectKey(GROUP, "AnalysisTemplate", namespace, name))

    try:
        run = build_analysis_run(request, lookup)
    except AnalysisRunBuildError as err:
        # The planner waits for this run by name: an Errored run aborts the Rollout with
        # the reason, instead of a run that never starts.
        run = build_failed_run(request, namespace, str(err))
        runtime.events.record(key, "AnalysisRunError", str(err), "Warning")
        runtime.store.create(run)
        return
    run["metadata"]["namespace"] = namespace
    runtime.store.create(run)


def build_failed_run(request: AnalysisRunRequest, namespace: str, message: str) -> Object:
    """An AnalysisRun that could not be built from its templates, in phase Error."""
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": request.name,
            "namespace": namespace,
            "labels": dict(request.labels),
            "annotations": dict(request.annotations),
            "ownerReferences": [dict(request.owner_reference)],
        },
        "spec": {"metrics": []},
        "status": {"phase": "Error", "message": message},
    }


def _terminate(obj: Object) -> None:
    obj.setdefault("spec", {})["terminate"] = True
