"""RolloutInfo from a Rollout and what it owns, Argo's metrics from live objects, and the CLI's
drawing of both strategies: pure functions, fed objects in Argo Rollouts' shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from conveyor.api.metrics_rollouts import RolloutMetrics
from conveyor.api.rollout_info import finished, info
from conveyor.cli import rollouts_view

Obj = dict[str, Any]


def rs(name: str, pod_hash: str, revision: int, replicas: int, available: int) -> Obj:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name, "uid": name,
            "labels": {"rollouts-pod-template-hash": pod_hash},
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
        },
        "spec": {"replicas": replicas,
                 "template": {"spec": {"containers": [{"name": "c", "image": f"app:{revision}"}]}}},
        "status": {"availableReplicas": available},
    }  # fmt: skip


POD = {
    "kind": "Pod",
    "metadata": {"name": "green-1-x"},
    "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 2}]},
}

BLUE_GREEN: Obj = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "bg", "namespace": "prod", "generation": 4},
    "spec": {
        "replicas": 2,
        "strategy": {"blueGreen": {"activeService": "a", "previewService": "p"}},
        "template": {"spec": {"containers": [{"name": "c", "image": "app:2"}]}},
    },
    "status": {
        "phase": "Paused",
        "message": "BlueGreenPause",
        "pauseConditions": [{"reason": "BlueGreenPause"}],
        "stableRS": "h1",
        "currentPodHash": "h2",
        "blueGreen": {"activeSelector": "h1", "previewSelector": "h2"},
    },
}


def children_of(tree: dict[str, Sequence[Obj]]) -> Any:
    return lambda obj: tree.get(obj["metadata"]["name"], [])


def test_blue_green_marks_active_and_preview() -> None:
    owned = {"bg": [rs("blue-1", "h1", 1, 2, 2), rs("green-1", "h2", 2, 2, 1)], "green-1": [POD]}
    shown = info(BLUE_GREEN, children_of(owned))
    assert (shown["status"], shown["strategy"], shown["step"], shown["setWeight"]) == (
        "Paused", "BlueGreen", "", "",
    )  # fmt: skip
    green, blue = shown["replicaSets"]
    assert (green["revision"], green["preview"], green["active"], green["canary"]) == (
        2, True, False, False,
    )  # fmt: skip
    assert (blue["stable"], blue["active"], green["status"]) == (True, True, "Progressing")
    assert green["pods"] == [
        {"objectMeta": {"name": "green-1-x"}, "status": "Running", "ready": "1/1", "restarts": 2}
    ]
    assert finished(shown) is None
    rows = rollouts_view.tree(shown)
    assert [r[0] for r in rows] == [
        "⟳ bg", "├──# revision:2", "│  └──⧉ green-1", "│     └──□ green-1-x",
        "└──# revision:1", "   └──⧉ blue-1",
    ]  # fmt: skip
    assert rows[2][3] == "preview" and rows[5][3] == "stable,active"
    assert rows[3][3] == "ready:1/1,restarts:2"


STEPS = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": 5}}]


def test_canary_weights_from_steps_when_status_has_none() -> None:
    canary: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "c"},
        "spec": {"strategy": {"canary": {"steps": STEPS}}},
        "status": {"phase": "Progressing", "currentStepIndex": 3},
    }  # fmt: skip
    shown = info(canary, children_of({}))
    assert (shown["step"], shown["setWeight"], shown["desired"]) == ("3/4", "40", 1)
    assert rollouts_view.steps(shown) == [
        "Steps:", "  ✔ 0: setWeight: 10", "  ✔ 1: pause (until promoted)",
        "  ✔ 2: setWeight: 40", "  ▶ 3: pause: 5",
    ]  # fmt: skip
    aborted = info({**canary, "status": {"abort": True, "currentStepIndex": 0}}, children_of({}))
    assert (aborted["status"], finished(aborted)) == ("Degraded", False)
    assert "RolloutAborted" in aborted["message"]
    done = info({**canary, "status": {"phase": "Healthy", "currentStepIndex": 4}}, children_of({}))
    assert (done["setWeight"], finished(done)) == ("100", True)


def test_metrics_use_argo_rollouts_names_and_labels() -> None:
    run: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "bg-2", "namespace": "prod"},
        "spec": {
            "metrics": [
                {"name": "success-rate", "provider": {"prometheus": {"query": "x"}}},
                {"name": "smoke", "provider": {"web": {"url": "http://x"}}},
            ],
            "dryRun": [{"metricName": "smoke"}],
        },
        "status": {"phase": "Running",
                   "metricResults": [{"name": "success-rate", "phase": "Failed"}]},
    }  # fmt: skip
    registry = CollectorRegistry()
    registry.register(RolloutMetrics(lambda: [BLUE_GREEN, run, {"kind": "Pod"}]))
    text = generate_latest(registry).decode()
    assert (
        'rollout_info{name="bg",namespace="prod",phase="Paused",strategy="blueGreen",'
        'traffic_router=""} 1.0' in text
    )
    assert (
        'rollout_phase{name="bg",namespace="prod",phase="Paused",strategy="blueGreen"} 1.0' in text
    )
    assert (
        'rollout_phase{name="bg",namespace="prod",phase="Healthy",strategy="blueGreen"} 0.0' in text
    )
    assert 'analysis_run_info{name="bg-2",namespace="prod",phase="Running"} 1.0' in text
    assert (
        'analysis_run_metric_phase{dry_run="false",metric="success-rate",name="bg-2",'
        'namespace="prod",phase="Failed",type="Prometheus"} 1.0' in text
    )
    assert (
        'analysis_run_metric_phase{dry_run="true",metric="smoke",name="bg-2",'
        'namespace="prod",phase="Pending",type="Web"} 1.0' in text
    )
