"""The in-memory cluster of controller_sim, running Rollouts too: plans applied as the runtime
will apply them, Services' injected selectors and traffic weights recorded, AnalysisRuns
created on request with a phase the test sets."""

from __future__ import annotations

import copy
from typing import Any

from controller_sim import Cluster, condition

from conveyor.targets.local.controllers.rollout import plan_rollout
from conveyor.targets.local.controllers.rollout_types import AnalysisRunInfo, RolloutPlan

Object = dict[str, Any]
HASH = "rollouts-pod-template-hash"


def canary_rollout(
    name: str = "web",
    *,
    replicas: int = 4,
    version: str = "v1",
    steps: list[dict[str, Any]] | None = None,
    **canary: Any,
) -> Object:
    strategy: dict[str, Any] = {"canary": {**canary}}
    if steps is not None:
        strategy["canary"]["steps"] = steps
    return rollout(name, strategy, replicas=replicas, version=version)


def blue_green_rollout(
    name: str = "web", *, replicas: int = 3, version: str = "v1", **blue_green: Any
) -> Object:
    strategy = {"blueGreen": {"activeService": f"{name}-active", **blue_green}}
    return rollout(name, strategy, replicas=replicas, version=version)


def rollout(name: str, strategy: dict[str, Any], *, replicas: int, version: str) -> Object:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"{name}:{version}"}]},
            },
            "strategy": strategy,
        },
    }


class RolloutCluster(Cluster):
    """A Cluster that also reconciles Rollouts."""

    def __init__(self) -> None:
        super().__init__()
        self.selectors: dict[str, str] = {}
        self.traffic: dict[str, dict[str, int]] = {}
        self.runs: dict[str, AnalysisRunInfo] = {}
        self.requests: dict[str, Any] = {}
        self.terminated: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.plans: list[RolloutPlan] = []

    def sync_rollout(self, name: str = "web") -> RolloutPlan:
        ro = self.get("Rollout", name)
        rss = self.children(ro, "ReplicaSet")
        pods = [p for rs in rss for p in self.children(rs, "Pod")]
        plan = plan_rollout(
            copy.deepcopy(ro),
            copy.deepcopy(rss),
            copy.deepcopy(pods),
            self.now,
            analysis_runs=list(self.runs.values()),
        )
        for rs in plan.create:
            self.add(rs)
        for rs_name, replicas in plan.scale.items():
            self.get("ReplicaSet", rs_name)["spec"]["replicas"] = replicas
            self.get("ReplicaSet", rs_name)["metadata"]["generation"] += 1
        for rs_name, added in plan.annotate.items():
            self.get("ReplicaSet", rs_name)["metadata"].setdefault("annotations", {}).update(added)
        for rs_name, keys in plan.unannotate.items():
            for key in keys:
                self.get("ReplicaSet", rs_name)["metadata"]["annotations"].pop(key, None)
        for rs_name in plan.delete:
            self.delete("ReplicaSet", rs_name)
        for pod_name in plan.delete_pods:
            self.delete("Pod", pod_name)
        ro["metadata"].setdefault("annotations", {}).update(plan.rollout_annotations)
        ro["status"] = plan.status
        self.selectors.update(plan.service_selectors)
        self.traffic.update(plan.traffic)
        for request in plan.analysis_create:
            self.requests[request.name] = request
            self.runs.setdefault(request.name, AnalysisRunInfo(request.name, "Running"))
        self.terminated.extend(plan.analysis_terminate)
        self.events.extend((e.reason, e.message) for e in plan.events)
        self.plans.append(plan)
        return plan

    def settle_rollout(self, name: str = "web", *, limit: int = 60) -> RolloutPlan:
        """Rollout, ReplicaSets and kubelet until nothing changes (the clock stands still)."""
        for _ in range(limit):
            before = repr((self.objects, self.selectors, self.traffic, self.runs))
            plan = self.sync_rollout(name)
            for rs in self.children(self.get("Rollout", name), "ReplicaSet"):
                self.sync_replicaset(rs["metadata"]["name"])
            self.kubelet()
            if repr((self.objects, self.selectors, self.traffic, self.runs)) == before:
                return plan
        raise AssertionError(f"rollout {name} did not settle in {limit} rounds")

    def set_run(self, name: str, phase: str, message: str = "") -> None:
        self.runs[name] = AnalysisRunInfo(name, phase, message)

    def run_of(self, run_type: str) -> str:
        """The name of the last AnalysisRun requested of that type."""
        names = [r.name for r in self.requests.values() if r.run_type == run_type]
        assert names, f"no {run_type} AnalysisRun was requested"
        return names[-1]

    def act(self, patch: Any, name: str = "web") -> None:
        """Apply an action's merge patches (conveyor.model.rollout_actions) as the API would."""
        ro = self.get("Rollout", name)
        for key, value in (patch.spec.get("spec") or {}).items():
            ro["spec"][key] = value
            ro["metadata"]["generation"] += 1
        self.patch_status(name, **(patch.status.get("status") or {}))

    def patch_status(self, name: str, **fields: Any) -> None:
        """What an action does: a merge patch of the Rollout's status."""
        status = self.get("Rollout", name).setdefault("status", {})
        for key, value in fields.items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = value

    # -- what a user sees ---------------------------------------------------------------------

    def status(self, name: str = "web") -> Object:
        return self.get("Rollout", name)["status"]

    def sizes(self, name: str = "web") -> dict[str, int]:
        """Pod template hash -> spec.replicas of each ReplicaSet."""
        rss = self.children(self.get("Rollout", name), "ReplicaSet")
        return {rs["metadata"]["labels"][HASH]: rs["spec"]["replicas"] for rs in rss}

    def running(self, name: str = "web") -> dict[str, int]:
        """Pod template hash -> Ready Pods not being deleted."""
        out: dict[str, int] = {}
        for rs in self.children(self.get("Rollout", name), "ReplicaSet"):
            out[rs["metadata"]["labels"][HASH]] = len(self.serving(rs))
        return out

    def progressing(self, name: str = "web") -> Any:
        return condition(self.get("Rollout", name), "Progressing")

    def set_version(self, version: str, name: str = "web") -> None:
        def mutate(spec: Object) -> None:
            spec["template"]["spec"]["containers"][0]["image"] = f"{name}:{version}"

        self.edit("Rollout", name, mutate)


def released_canary(obj: dict[str, Any]) -> tuple[RolloutCluster, str, str]:
    """A cluster where ``obj`` runs v1 (stable), just updated to v2: (cluster, v1, v2)."""
    cluster = RolloutCluster()
    cluster.add(obj)
    cluster.settle_rollout()
    v1 = cluster.status()["stableRS"]
    cluster.events.clear()
    cluster.set_version("v2")
    cluster.sync_rollout()  # the new template is noticed: the update starts from step 0
    v2 = cluster.status()["currentPodHash"]
    assert v1 != v2
    return cluster, v1, v2


def events_of(cluster: RolloutCluster, reason: str) -> list[str]:
    return [message for r, message in cluster.events if r == reason]
