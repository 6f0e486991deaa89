"""A pure, in-memory stand-in for the local runtime, to drive the controllers step by step.

``Cluster`` keeps objects as dicts, applies plans the way ``LocalRuntime`` does (create,
scale, annotate, delete with cascade, status) and plays a tiny kubelet: Pods start, become
Ready, finish, and terminating Pods go away, all on a clock the test advances. Observers run
after every applied plan, so a test can check an invariant at every moment a user could look.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.clock import rfc3339
from conveyor.targets.local import controllers

Object = dict[str, Any]
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def deployment(
    name: str = "web",
    *,
    replicas: int = 3,
    version: str = "v1",
    strategy: dict[str, Any] | None = None,
    **spec_extra: Any,
) -> Object:
    """A Deployment whose template differs per ``version`` (the image tag)."""
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": f"{name}:{version}"}]},
        },
        **spec_extra,
    }
    if strategy is not None:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def rolling(max_surge: int | str, max_unavailable: int | str) -> dict[str, Any]:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }


def job(name: str = "migrate", *, restart_policy: str | None = "Never", **spec: Any) -> Object:
    pod_spec: dict[str, Any] = {"containers": [{"name": "main", "image": "tools:v1"}]}
    if restart_policy is not None:
        pod_spec["restartPolicy"] = restart_policy
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"metadata": {"labels": {"task": name}}, "spec": pod_spec}, **spec},
    }


def condition(obj: Object, kind: str) -> Any:
    """The condition of that type in obj.status (a copy), None when there is none."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_terminating(obj: Object) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def is_ready(pod: Object) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond["status"] == "True"


class Cluster:
    """Objects, a clock and a toy kubelet; ``sync_*`` run one controller and apply its plan."""

    def __init__(self) -> None:
        self.now = START
        self.objects: dict[tuple[str, str], Object] = {}
        self.observers: list[Callable[[Cluster], None]] = []
        self._uids = itertools.count(1)
        self._names = itertools.count(1)

    # -- objects ------------------------------------------------------------------------------

    def add(self, obj: Object) -> Object:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta["uid"] = f"uid-{next(self._uids)}"
        meta["creationTimestamp"] = rfc3339(self.now)
        meta["generation"] = 1
        self.objects[(obj["kind"], meta["name"])] = obj
        return obj

    def get(self, kind: str, name: str) -> Object:
        return self.objects[(kind, name)]

    def of_kind(self, kind: str) -> list[Object]:
        return [o for (k, _), o in sorted(self.objects.items()) if k == kind]

    def children(self, owner: Object, kind: str) -> list[Object]:
        uid = owner["metadata"]["uid"]
        return [
            o
            for o in self.of_kind(kind)
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def edit(self, kind: str, name: str, mutate: Callable[[Object], None]) -> None:
        """A user's change to the spec: bumps metadata.generation as the API server does."""
        obj = self.get(kind, name)
        mutate(obj["spec"])
        obj["metadata"]["generation"] += 1

    def delete(self, kind: str, name: str) -> None:
        """Graceful for Pods (deletionTimestamp), immediate with cascade for the rest."""
        obj = self.objects.get((kind, name))
        if obj is None:
            return
        if kind == "Pod":
            obj["metadata"].setdefault("deletionTimestamp", rfc3339(self.now))
            return
        del self.objects[(kind, name)]
        for child_kind in ("ReplicaSet", "Pod"):
            for child in self.children(obj, child_kind):
                self.delete(child_kind, child["metadata"]["name"])

    def new_name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names):05d}"

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    # -- controllers --------------------------------------------------------------------------

    def sync_deployment(self, name: str) -> controllers.DeploymentPlan:
        d = self.get("Deployment", name)
        rss = self.children(d, "ReplicaSet")
        pods = [p for rs in rss for p in self.children(rs, "Pod")]
        plan = controllers.plan_deployment(
            copy.deepcopy(d), copy.deepcopy(rss), copy.deepcopy(pods), self.now
        )
        for rs in plan.create:
            self.add(rs)
        for rs_name, replicas in plan.scale.items():
            self.get("ReplicaSet", rs_name)["spec"]["replicas"] = replicas
            self.get("ReplicaSet", rs_name)["metadata"]["generation"] += 1
        for rs_name, added in plan.annotate.items():
            meta = self.get("ReplicaSet", rs_name)["metadata"]
            meta.setdefault("annotations", {}).update(added)
        for rs_name in plan.delete:
            self.delete("ReplicaSet", rs_name)
        d["status"] = plan.status
        self._observe()
        return plan

    def sync_replicaset(self, name: str) -> controllers.ReplicaSetPlan:
        rs = self.get("ReplicaSet", name)
        pods = self.children(rs, "Pod")
        plan = controllers.plan_replicaset(
            copy.deepcopy(rs), copy.deepcopy(pods), self.now, self.new_name
        )
        self._apply_pods(rs, plan.create, plan.delete, plan.status)
        return plan

    def sync_job(self, name: str) -> controllers.JobPlan:
        j = self.get("Job", name)
        pods = self.children(j, "Pod")
        plan = controllers.plan_job(copy.deepcopy(j), copy.deepcopy(pods), self.now, self.new_name)
        self._apply_pods(j, plan.create, plan.delete, plan.status)
        return plan

    def _apply_pods(
        self, owner: Object, create: tuple[Object, ...], delete: tuple[str, ...], status: Object
    ) -> None:
        for pod in create:
            self.add(pod)
        for pod_name in delete:
            self.delete("Pod", pod_name)
        owner["status"] = status
        self._observe()

    def settle(self, name: str, *, limit: int = 50) -> controllers.DeploymentPlan:
        """Run the Deployment and its ReplicaSets until none of them has more to do."""
        for _ in range(limit):
            plan = self.sync_deployment(name)
            busy = bool(plan.create or plan.scale or plan.annotate or plan.delete)
            for rs in self.children(self.get("Deployment", name), "ReplicaSet"):
                rs_plan = self.sync_replicaset(rs["metadata"]["name"])
                busy = busy or bool(rs_plan.create or rs_plan.delete)
            if not busy:
                return plan
        raise AssertionError(f"deployment {name} did not settle in {limit} rounds")

    def _observe(self) -> None:
        for observer in self.observers:
            observer(self)

    # -- the toy kubelet ----------------------------------------------------------------------

    def pods(self) -> list[Object]:
        return self.of_kind("Pod")

    def start_pod(self, pod: Object, *, ready: bool = True) -> None:
        stamp = rfc3339(self.now)
        status = pod.setdefault("status", {})
        status.update(phase="Running", startTime=status.get("startTime", stamp))
        ready_cond = condition(pod, "Ready")
        if ready_cond is None or (ready_cond["status"] == "True") != ready:
            ready_cond = {"type": "Ready", "status": str(ready), "lastTransitionTime": stamp}
        status["conditions"] = [ready_cond]
        status.setdefault(
            "containerStatuses", [{"name": "app", "restartCount": 0, "state": {"running": {}}}]
        )

    def finish_pod(self, pod: Object, *, succeeded: bool) -> None:
        stamp = rfc3339(self.now)
        pod["status"] = {
            "phase": "Succeeded" if succeeded else "Failed",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": stamp}],
            "containerStatuses": [
                {
                    "name": "main",
                    "restartCount": 0,
                    "state": {
                        "terminated": {"exitCode": 0 if succeeded else 1, "finishedAt": stamp}
                    },
                }
            ],
        }
        self._observe()

    def kubelet(self, *, ready: bool = True) -> None:
        """One kubelet pass: terminating Pods go away, new Pods run (Ready if ``ready``)."""
        for pod in self.pods():
            if is_terminating(pod):
                del self.objects[("Pod", pod["metadata"]["name"])]
            elif not pod.get("status"):
                self.start_pod(pod, ready=ready)
        self._observe()

    # -- what a user sees ---------------------------------------------------------------------

    def replicasets(self, name: str) -> list[Object]:
        """The Deployment's ReplicaSets, oldest revision first."""
        rss = self.children(self.get("Deployment", name), "ReplicaSet")
        return sorted(rss, key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))

    def serving(self, rs: Object) -> list[Object]:
        """Pods of ``rs`` that take traffic: Ready and not terminating."""
        return [p for p in self.children(rs, "Pod") if is_ready(p) and not is_terminating(p)]


REVISION = "deployment.kubernetes.io/revision"
