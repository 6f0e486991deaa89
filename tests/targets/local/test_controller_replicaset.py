"""The ReplicaSet controller's plans: which Pods it makes, which it removes, what it reports."""

from __future__ import annotations

from typing import Any

import pytest
from controller_sim import Cluster, is_terminating

from conveyor.clock import rfc3339
from conveyor.targets.local.controllers import plan_replicaset


def replicaset(replicas: int = 3, **spec_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-abc12", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"note": "hi"}},
                "spec": {"containers": [{"name": "app", "image": "web:v1"}]},
            },
            **spec_extra,
        },
    }


def scaled(cluster: Cluster, replicas: int) -> None:
    cluster.edit("ReplicaSet", "web-abc12", lambda s: s.__setitem__("replicas", replicas))


def with_pods(replicas: int = 3, **spec_extra: Any) -> Cluster:
    """A ReplicaSet whose Pods exist (not started yet)."""
    cluster = Cluster()
    cluster.add(replicaset(replicas, **spec_extra))
    cluster.sync_replicaset("web-abc12")
    return cluster


def test_missing_pods_are_created_from_the_template() -> None:
    cluster = Cluster()
    rs = cluster.add(replicaset(2))

    plan = cluster.sync_replicaset("web-abc12")

    assert [p["metadata"]["name"] for p in plan.create] == ["web-abc12-00001", "web-abc12-00002"]
    pod = plan.create[0]
    assert pod["metadata"]["generateName"] == "web-abc12-"
    assert pod["metadata"]["namespace"] == "default"
    assert pod["metadata"]["labels"] == {"app": "web"}
    assert pod["metadata"]["annotations"] == {"note": "hi"}
    assert pod["spec"] == rs["spec"]["template"]["spec"]
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-abc12",
            "uid": rs["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert plan.delete == ()
    assert plan.status["observedGeneration"] == 1


def test_enough_pods_means_nothing_to_do() -> None:
    cluster = with_pods(3)

    plan = cluster.sync_replicaset("web-abc12")

    assert (plan.create, plan.delete) == ((), ())
    assert plan.status["replicas"] == 3


def test_scale_down_removes_unready_pods_first() -> None:
    cluster = with_pods(3)
    first, second, third = cluster.pods()
    cluster.start_pod(first)
    cluster.start_pod(second, ready=False)
    cluster.start_pod(third)
    scaled(cluster, 2)

    plan = cluster.sync_replicaset("web-abc12")

    assert plan.delete == (second["metadata"]["name"],)


@pytest.mark.parametrize(
    ("setup", "victim"),
    [
        ("pending", 1),  # a Pod that is not running yet goes first
        ("unscheduled", 2),  # then one without a node, among running Pods
        ("newest-ready", 0),  # all ready: the one Ready most recently
        ("deletion-cost", 2),  # a lower pod-deletion-cost wins over readiness time
        ("restarts", 1),  # equal readiness time: more restarts first
    ],
    ids=lambda v: str(v),
)
def test_scale_down_ranks_pods_as_kubernetes_does(setup: str, victim: int) -> None:
    cluster = with_pods(3)
    pods = cluster.pods()
    for i, pod in enumerate(pods):
        cluster.start_pod(pod)
        pod["spec"]["nodeName"] = "local"
        ready = pod["status"]["conditions"][0]
        ready["lastTransitionTime"] = rfc3339(cluster.now.replace(minute=59 - i))  # pod 0 newest
    if setup == "pending":
        pods[1]["status"] = {"phase": "Pending"}
    elif setup == "unscheduled":
        del pods[2]["spec"]["nodeName"]
    elif setup == "deletion-cost":
        pods[0]["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "100"}
        pods[1]["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "50"}
    elif setup == "restarts":
        for pod in pods:
            pod["status"]["conditions"][0]["lastTransitionTime"] = rfc3339(cluster.now)
        pods[1]["status"]["containerStatuses"][0]["restartCount"] = 4
    scaled(cluster, 2)

    plan = cluster.sync_replicaset("web-abc12")

    assert plan.delete == (pods[victim]["metadata"]["name"],)


def test_terminating_pods_are_neither_active_nor_deleted_again() -> None:
    cluster = with_pods(3)
    going = cluster.pods()[0]
    cluster.delete("Pod", going["metadata"]["name"])

    plan = cluster.sync_replicaset("web-abc12")  # two active, three wanted: one more

    assert len(plan.create) == 1 and plan.delete == ()
    assert plan.status["replicas"] == 2  # Pods that exist; the new one is counted once it does
    scaled(cluster, 1)
    plan = cluster.sync_replicaset("web-abc12")
    assert len(plan.delete) == 2 and going["metadata"]["name"] not in plan.delete


def test_finished_pods_are_replaced() -> None:
    cluster = with_pods(2)
    done = cluster.pods()[0]
    cluster.finish_pod(done, succeeded=False)

    plan = cluster.sync_replicaset("web-abc12")

    assert len(plan.create) == 1 and plan.delete == ()


def test_pods_of_other_owners_are_ignored() -> None:
    cluster = with_pods(2)
    rs = cluster.get("ReplicaSet", "web-abc12")
    stranger = dict(cluster.pods()[0])
    stranger["metadata"] = {**stranger["metadata"], "name": "stranger", "ownerReferences": []}

    plan = plan_replicaset(rs, [*cluster.pods(), stranger], cluster.now, cluster.new_name)

    assert (plan.create, plan.delete) == ((), ())
    assert plan.status["replicas"] == 2


def test_status_counts_ready_and_available_pods() -> None:
    cluster = with_pods(3, minReadySeconds=10)
    first, second, third = cluster.pods()
    cluster.start_pod(first)
    cluster.start_pod(second)
    first["metadata"]["labels"] = {}  # no longer carries the template's labels
    cluster.advance(4)
    cluster.start_pod(third)

    plan = cluster.sync_replicaset("web-abc12")

    assert plan.status == {
        "replicas": 3,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 3,
        "availableReplicas": 0,
        "observedGeneration": 1,
    }
    assert plan.requeue_after == pytest.approx(7.0)
    cluster.advance(7)
    plan = cluster.sync_replicaset("web-abc12")
    assert plan.status["availableReplicas"] == 2
    assert plan.requeue_after == pytest.approx(4.0)  # the third: ready 7s ago, needs > 10s


def test_status_reports_the_pods_that_remain_after_the_plan() -> None:
    cluster = with_pods(3)
    for pod in cluster.pods():
        cluster.start_pod(pod)
    scaled(cluster, 1)

    plan = cluster.sync_replicaset("web-abc12")

    assert len(plan.delete) == 2
    assert plan.status["replicas"] == plan.status["readyReplicas"] == 1
    assert plan.status["observedGeneration"] == 2


def test_a_terminating_replicaset_creates_nothing() -> None:
    cluster = Cluster()
    rs = cluster.add(replicaset(2))
    rs["metadata"]["deletionTimestamp"] = rfc3339(cluster.now)

    plan = cluster.sync_replicaset("web-abc12")

    assert plan.create == ()


def test_scale_to_zero_deletes_every_pod() -> None:
    cluster = with_pods(3)
    scaled(cluster, 0)

    plan = cluster.sync_replicaset("web-abc12")

    assert sorted(plan.delete) == sorted(p["metadata"]["name"] for p in cluster.pods())
    assert all(is_terminating(p) for p in cluster.pods())
    assert plan.status["replicas"] == 0
