"""The Deployment controller's plans, driven through whole rollouts on a simulated clock."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from controller_sim import REVISION, Cluster, condition, deployment, is_terminating, rolling

from conveyor.targets.local.controllers import plan_deployment, pod_template_hash

DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"


def set_version(version: str) -> Any:
    def mutate(spec: dict[str, Any]) -> None:
        spec["template"]["spec"]["containers"][0]["image"] = f"web:{version}"

    return mutate


def rollout_done(cluster: Cluster, name: str = "web") -> bool:
    d = cluster.get("Deployment", name)
    want = d["spec"]["replicas"]
    status = d.get("status") or {}
    rss = cluster.replicasets(name)
    return (
        status.get("observedGeneration") == d["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("replicas") == want
        and status.get("availableReplicas") == want
        and all(rs["spec"]["replicas"] == 0 for rs in rss[:-1])
        and not any(is_terminating(p) for p in cluster.pods())
    )


def roll_out(cluster: Cluster, name: str = "web", *, rounds: int = 60) -> int:
    """Reconcile, run the kubelet and tick the clock until the rollout is done; the rounds."""
    for step in range(rounds):
        cluster.settle(name)
        if rollout_done(cluster, name):
            return step
        cluster.kubelet()
        cluster.advance(1)
    raise AssertionError(f"rollout of {name} not done after {rounds} rounds")


def running(obj: dict[str, Any]) -> Cluster:
    """A cluster where ``obj`` has been rolled out completely."""
    cluster = Cluster()
    cluster.add(obj)
    roll_out(cluster, obj["metadata"]["name"])
    return cluster


# -- the new ReplicaSet -------------------------------------------------------------------------


def test_first_reconcile_creates_a_complete_replicaset() -> None:
    cluster = Cluster()
    d = cluster.add(deployment(replicas=3, minReadySeconds=5))

    plan = plan_deployment(d, [], [], cluster.now)

    (rs,) = plan.create
    pod_hash = pod_template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["namespace"] == "default"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["replicas"] == 3
    assert rs["spec"]["minReadySeconds"] == 5
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": d["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # maxSurge 25% of 3 rounds up to 1
    assert rs["metadata"]["annotations"] == {REVISION: "1", DESIRED: "3", MAX: "4"}
    assert plan.scale == {} and plan.annotate == {} and plan.delete == ()
    assert plan.status["observedGeneration"] == 1
    progressing, available = plan.status["conditions"]
    assert (progressing["type"], progressing["status"], progressing["reason"]) == (
        "Progressing",
        "True",
        "NewReplicaSetCreated",
    )
    assert progressing["message"] == f'Created new replica set "web-{pod_hash}"'
    assert (available["type"], available["status"], available["reason"]) == (
        "Available",
        "False",
        "MinimumReplicasUnavailable",
    )


def test_planning_leaves_its_inputs_alone() -> None:
    cluster = running(deployment(replicas=2))
    cluster.edit("Deployment", "web", set_version("v2"))
    d = cluster.get("Deployment", "web")
    rss = cluster.children(d, "ReplicaSet")
    pods = cluster.pods()
    before = repr((d, rss, pods))

    plan_deployment(d, rss, pods, cluster.now)

    assert repr((d, rss, pods)) == before


def test_pod_template_hash_ignores_its_own_label_and_follows_the_template() -> None:
    template = deployment()["spec"]["template"]
    labelled = {**template, "metadata": {"labels": {"app": "web", "pod-template-hash": "x"}}}
    other = deployment(version="v2")["spec"]["template"]

    assert pod_template_hash(template) == pod_template_hash(labelled)
    assert pod_template_hash(template) != pod_template_hash(other)
    assert pod_template_hash(template) != pod_template_hash(template, collision_count=1)
    assert set(pod_template_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_empty_selector_is_refused() -> None:
    cluster = Cluster()
    d = cluster.add(deployment())
    d["spec"]["selector"] = {}

    plan = plan_deployment(d, [], [], cluster.now)

    assert (plan.create, plan.scale, plan.delete) == ((), {}, ())
    assert plan.status["observedGeneration"] == 1


def test_a_new_deployment_becomes_available() -> None:
    cluster = running(deployment(replicas=3))

    status = cluster.get("Deployment", "web")["status"]
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["updatedReplicas"] == 3 and status["unavailableReplicas"] == 0
    assert condition(cluster.get("Deployment", "web"), "Available")["reason"] == (
        "MinimumReplicasAvailable"
    )
    assert condition(cluster.get("Deployment", "web"), "Progressing")["reason"] == (
        "NewReplicaSetAvailable"
    )


# -- rolling updates ----------------------------------------------------------------------------


def test_rolling_update_with_max_unavailable_zero_keeps_full_capacity() -> None:
    cluster = running(deployment(replicas=4, strategy=rolling(1, 0)))
    serving: list[int] = []
    pods: list[int] = []

    def watch(cl: Cluster) -> None:
        rss = cl.children(cl.get("Deployment", "web"), "ReplicaSet")
        serving.append(sum(len(cl.serving(rs)) for rs in rss))
        pods.append(sum(1 for p in cl.pods() if not is_terminating(p)))

    cluster.observers.append(watch)
    cluster.edit("Deployment", "web", set_version("v2"))
    roll_out(cluster)

    assert min(serving) == 4
    assert max(pods) == 5  # maxSurge 1
    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v2"
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert all(
        p["metadata"]["labels"]["pod-template-hash"] in new["metadata"]["name"]
        for p in cluster.pods()
    )
    d = cluster.get("Deployment", "web")
    assert d["status"]["updatedReplicas"] == d["status"]["availableReplicas"] == 4
    progressing = condition(d, "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert (
        progressing["message"]
        == f'ReplicaSet "{new["metadata"]["name"]}" has successfully progressed.'
    )


def test_rolling_update_status_counts_old_and_new_pods() -> None:
    cluster = running(deployment(replicas=2, strategy=rolling(1, 0)))
    cluster.edit("Deployment", "web", set_version("v2"))

    cluster.settle("web")  # the new ReplicaSet gets one Pod, not yet running
    status = cluster.get("Deployment", "web")["status"]

    assert status["observedGeneration"] == 2
    assert status["replicas"] == 3 and status["updatedReplicas"] == 1
    assert status["readyReplicas"] == status["availableReplicas"] == 2
    assert status["unavailableReplicas"] == 1
    assert condition(cluster.get("Deployment", "web"), "Progressing")["reason"] == (
        "ReplicaSetUpdated"
    )


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "new_size", "old_size"),
    [
        (10, "25%", "25%", 3, 8),  # surge rounds up (2.5 -> 3), unavailable down (2.5 -> 2)
        (4, "50%", "50%", 2, 2),
        (3, "10%", "10%", 1, 3),  # 0.3 -> surge 1, unavailable 0: wait for the new Pod
        (3, 0, 0, 0, 2),  # both zero: one may be unavailable
        (5, "0%", "0%", 0, 4),
        (10, 2, "35%", 2, 7),
        (10, "100%", 0, 10, 10),
    ],
    ids=["25pct", "50pct", "10pct", "zero-ints", "zero-pcts", "mixed", "blue-green-like"],
)
def test_first_step_of_a_rollout_honours_surge_and_unavailable(
    replicas: int, surge: int | str, unavailable: int | str, new_size: int, old_size: int
) -> None:
    cluster = running(deployment(replicas=replicas, strategy=rolling(surge, unavailable)))
    (old,) = cluster.replicasets("web")
    cluster.edit("Deployment", "web", set_version("v2"))

    plan = cluster.sync_deployment("web")

    (new,) = plan.create
    assert new["spec"]["replicas"] == new_size
    assert plan.scale.get(old["metadata"]["name"], replicas) == old_size


def test_rolling_update_with_percentages_stays_within_bounds() -> None:
    cluster = running(deployment(replicas=10, strategy=rolling("30%", "30%")))
    serving: list[int] = []
    pods: list[int] = []

    def watch(cl: Cluster) -> None:
        rss = cl.children(cl.get("Deployment", "web"), "ReplicaSet")
        serving.append(sum(len(cl.serving(rs)) for rs in rss))
        pods.append(sum(1 for p in cl.pods() if not is_terminating(p)))

    cluster.observers.append(watch)
    cluster.edit("Deployment", "web", set_version("v2"))
    roll_out(cluster)

    assert min(serving) >= 7 and max(pods) <= 13
    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 10)


def test_unready_new_pods_stall_the_rollout_without_losing_capacity() -> None:
    cluster = running(deployment(replicas=3, strategy=rolling(1, 0)))
    cluster.edit("Deployment", "web", set_version("broken"))
    for _ in range(5):
        cluster.settle("web")
        cluster.kubelet(ready=False)
        cluster.advance(1)

    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (3, 1)
    assert len(cluster.serving(old)) == 3


def random_step(cluster: Cluster, rng: random.Random) -> None:
    """One thing happens, in any order a busy runtime could produce."""
    rss = cluster.children(cluster.get("Deployment", "web"), "ReplicaSet")
    pending = [p for p in cluster.pods() if not p.get("status") and not is_terminating(p)]
    going = [p for p in cluster.pods() if is_terminating(p)]
    choice = rng.randrange(5)
    if choice == 0:
        cluster.sync_deployment("web")
    elif choice == 1 and rss:
        cluster.sync_replicaset(rng.choice(rss)["metadata"]["name"])
    elif choice == 2 and pending:
        cluster.start_pod(rng.choice(pending))
    elif choice == 3 and going:
        del cluster.objects[("Pod", rng.choice(going)["metadata"]["name"])]
    else:
        cluster.advance(1)


def available(cluster: Cluster, rs: dict[str, Any], min_ready: int) -> int:
    """Serving Pods that have been Ready for longer than ``min_ready`` seconds."""
    return sum(
        1
        for p in cluster.serving(rs)
        if (cluster.now - ready_since(p)).total_seconds() > min_ready or min_ready == 0
    )


def ready_since(pod: dict[str, Any]) -> datetime:
    stamp = condition(pod, "Ready")["lastTransitionTime"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    ("strategy", "min_ready", "most_replicas", "fewest_available"),
    [
        (rolling(1, 0), 0, 6, 5),
        (rolling(0, 1), 0, 5, 4),
        (rolling("50%", "25%"), 0, 8, 4),  # surge ceil(2.5) = 3, unavailable floor(1.25) = 1
        (rolling(2, 2), 0, 7, 3),
        (rolling(1, 0), 3, 6, 5),
    ],
    ids=["surge1-unavail0", "surge0-unavail1", "percentages", "surge2-unavail2", "min-ready"],
)
def test_any_interleaving_keeps_the_rollout_within_its_bounds(
    seed: int,
    strategy: dict[str, Any],
    min_ready: int,
    most_replicas: int,
    fewest_available: int,
) -> None:
    rng = random.Random(seed)
    cluster = Cluster()
    cluster.add(deployment(replicas=5, strategy=strategy, minReadySeconds=min_ready))
    roll_out(cluster)
    cluster.advance(min_ready + 1)
    cluster.edit("Deployment", "web", set_version("v2"))

    for _ in range(3000):
        random_step(cluster, rng)
        rss = cluster.children(cluster.get("Deployment", "web"), "ReplicaSet")
        # Pods may briefly outnumber this until a scaled-down ReplicaSet acts, as in Kubernetes
        assert sum(rs["spec"]["replicas"] for rs in rss) <= most_replicas
        assert sum(available(cluster, rs, min_ready) for rs in rss) >= fewest_available
        if rollout_done(cluster):
            break
    else:
        raise AssertionError("the rollout did not finish")
    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 5)


# -- Recreate -----------------------------------------------------------------------------------


def test_recreate_never_runs_old_and_new_pods_together() -> None:
    cluster = running(deployment(replicas=3, strategy={"type": "Recreate"}))
    (old,) = cluster.replicasets("web")
    overlaps: list[tuple[int, int]] = []

    def watch(cl: Cluster) -> None:
        rss = cl.children(cl.get("Deployment", "web"), "ReplicaSet")
        counts = [len(cl.children(rs, "Pod")) for rs in rss]  # terminating ones included
        if sum(1 for n in counts if n) > 1:
            overlaps.append((counts[0], counts[-1]))

    cluster.observers.append(watch)
    cluster.edit("Deployment", "web", set_version("v2"))
    roll_out(cluster)

    assert overlaps == []
    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    assert len(cluster.serving(new)) == 3


@pytest.mark.parametrize("seed", range(12))
def test_recreate_in_any_interleaving_never_overlaps(seed: int) -> None:
    rng = random.Random(seed)
    cluster = running(deployment(replicas=3, strategy={"type": "Recreate"}))
    cluster.edit("Deployment", "web", set_version("v2"))

    for _ in range(3000):
        random_step(cluster, rng)
        rss = cluster.children(cluster.get("Deployment", "web"), "ReplicaSet")
        assert sum(1 for rs in rss if cluster.children(rs, "Pod")) <= 1
        if rollout_done(cluster):
            break
    else:
        raise AssertionError("the rollout did not finish")


def test_recreate_waits_for_terminating_pods_before_creating_the_new_replicaset() -> None:
    cluster = running(deployment(replicas=2, strategy={"type": "Recreate"}))
    cluster.edit("Deployment", "web", set_version("v2"))

    first = cluster.sync_deployment("web")
    (old,) = cluster.replicasets("web")
    cluster.sync_replicaset(old["metadata"]["name"])  # marks both Pods for deletion
    second = cluster.sync_deployment("web")

    assert first.create == () and first.scale == {old["metadata"]["name"]: 0}
    assert all(is_terminating(p) for p in cluster.pods())
    assert second.create == ()
    cluster.kubelet()  # the old Pods are gone
    third = cluster.sync_deployment("web")
    (new,) = third.create
    assert new["spec"]["replicas"] == 2
    assert new["metadata"]["annotations"][MAX] == "2"  # no surge with Recreate


# -- minReadySeconds and the progress deadline --------------------------------------------------


def test_min_ready_seconds_delays_availability_and_asks_to_look_again() -> None:
    cluster = Cluster()
    cluster.add(deployment(replicas=1, minReadySeconds=10))
    cluster.settle("web")
    cluster.kubelet()  # Ready now

    cluster.advance(4)
    plan = cluster.settle("web")

    assert plan.status["readyReplicas"] == 1 and plan.status["availableReplicas"] == 0
    assert plan.requeue_after == pytest.approx(7.0)  # one second past the boundary
    cluster.advance(plan.requeue_after or 0)
    plan = cluster.settle("web")
    assert plan.status["availableReplicas"] == 1
    assert plan.requeue_after is None


def test_min_ready_seconds_holds_old_pods_until_new_ones_are_available() -> None:
    cluster = running(deployment(replicas=2, strategy=rolling(1, 0), minReadySeconds=30))
    cluster.edit("Deployment", "web", set_version("v2"))
    cluster.settle("web")
    cluster.kubelet()  # the new Pod is Ready but not yet available
    cluster.advance(10)
    cluster.settle("web")

    old, new = cluster.replicasets("web")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (2, 1)
    cluster.advance(21)
    cluster.settle("web")
    old, new = cluster.replicasets("web")
    assert old["spec"]["replicas"] == 1


def test_progress_deadline_exceeded_when_new_pods_never_become_ready() -> None:
    cluster = running(deployment(replicas=2, strategy=rolling(1, 0), progressDeadlineSeconds=30))
    cluster.edit("Deployment", "web", set_version("broken"))
    plan = cluster.settle("web")
    cluster.kubelet(ready=False)

    assert plan.requeue_after == pytest.approx(31.0)
    cluster.advance(20)
    plan = cluster.settle("web")
    assert condition(cluster.get("Deployment", "web"), "Progressing")["status"] == "True"
    assert plan.requeue_after == pytest.approx(11.0)

    cluster.advance(plan.requeue_after or 0)
    plan = cluster.settle("web")

    progressing = condition(cluster.get("Deployment", "web"), "Progressing")
    (_, new) = cluster.replicasets("web")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert (
        progressing["message"]
        == f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'
    )
    assert plan.requeue_after is None
    # still available on the old Pods
    assert condition(cluster.get("Deployment", "web"), "Available")["status"] == "True"

    cluster.advance(60)
    cluster.settle("web")
    assert condition(cluster.get("Deployment", "web"), "Progressing")["reason"] == (
        "ProgressDeadlineExceeded"
    )


def test_progress_resets_the_deadline_and_a_fixed_rollout_recovers() -> None:
    cluster = running(deployment(replicas=2, strategy=rolling(1, 0), progressDeadlineSeconds=30))
    cluster.edit("Deployment", "web", set_version("broken"))
    cluster.settle("web")
    cluster.kubelet(ready=False)
    cluster.advance(40)
    cluster.settle("web")
    assert condition(cluster.get("Deployment", "web"), "Progressing")["status"] == "False"

    cluster.edit("Deployment", "web", set_version("v3"))
    roll_out(cluster)

    progressing = condition(cluster.get("Deployment", "web"), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")


def test_no_progress_deadline_means_no_progressing_condition() -> None:
    cluster = running(deployment(replicas=1, progressDeadlineSeconds=2**31 - 1))
    cluster.edit("Deployment", "web", set_version("v2"))
    plan = cluster.settle("web")

    assert condition(cluster.get("Deployment", "web"), "Progressing") is None
    assert plan.requeue_after is None


# -- paused, scaling ----------------------------------------------------------------------------


def test_paused_deployment_does_not_roll_out() -> None:
    cluster = running(deployment(replicas=2, progressDeadlineSeconds=30))
    cluster.edit("Deployment", "web", lambda s: s.__setitem__("paused", True))
    cluster.edit("Deployment", "web", set_version("v2"))

    plan = cluster.settle("web")

    assert plan.create == () and len(cluster.replicasets("web")) == 1
    progressing = condition(cluster.get("Deployment", "web"), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    cluster.advance(3600)
    cluster.settle("web")
    assert condition(cluster.get("Deployment", "web"), "Progressing")["reason"] == (
        "DeploymentPaused"
    )

    cluster.edit("Deployment", "web", lambda s: s.__setitem__("paused", False))
    cluster.sync_deployment("web")
    progressing = condition(cluster.get("Deployment", "web"), "Progressing")
    assert progressing["reason"] == "NewReplicaSetCreated"
    roll_out(cluster)
    assert [rs["spec"]["replicas"] for rs in cluster.replicasets("web")] == [0, 2]


def test_a_pause_stops_the_progress_clock() -> None:
    cluster = running(deployment(replicas=2, strategy=rolling(1, 0), progressDeadlineSeconds=30))
    cluster.edit("Deployment", "web", set_version("broken"))
    cluster.settle("web")
    cluster.kubelet(ready=False)
    cluster.edit("Deployment", "web", lambda s: s.__setitem__("paused", True))
    cluster.settle("web")
    cluster.advance(600)  # far past the deadline, but paused
    cluster.edit("Deployment", "web", lambda s: s.__setitem__("paused", False))

    plan = cluster.settle("web")

    progressing = condition(cluster.get("Deployment", "web"), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentResumed")
    assert plan.requeue_after == pytest.approx(31.0)  # the deadline counts from the resume


def test_scaling_a_paused_rollout_is_proportional() -> None:
    cluster = running(deployment(replicas=10, strategy=rolling(3, 2)))
    cluster.edit("Deployment", "web", set_version("v2"))
    cluster.sync_deployment("web")  # new 3, old 8
    cluster.edit("Deployment", "web", lambda s: s.__setitem__("paused", True))
    assert [rs["spec"]["replicas"] for rs in cluster.replicasets("web")] == [8, 3]

    cluster.edit("Deployment", "web", lambda s: s.__setitem__("replicas", 20))
    plan = cluster.sync_deployment("web")

    old, new = cluster.replicasets("web")
    # 23 allowed (20 + surge 3): each grows by its share of 11 -> 23, the leftover to the largest
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (18, 5)
    assert plan.create == ()
    for rs in (old, new):
        assert rs["metadata"]["annotations"][DESIRED] == "20"
        assert rs["metadata"]["annotations"][MAX] == "23"

    cluster.edit("Deployment", "web", lambda s: s.__setitem__("replicas", 5))
    cluster.sync_deployment("web")
    old, new = cluster.replicasets("web")
    assert old["spec"]["replicas"] + new["spec"]["replicas"] == 8  # 5 + surge 3
    assert old["spec"]["replicas"] > new["spec"]["replicas"] > 0


def test_scaling_without_a_rollout_resizes_the_one_replicaset() -> None:
    cluster = running(deployment(replicas=3))
    cluster.edit("Deployment", "web", lambda s: s.__setitem__("replicas", 5))

    plan = cluster.sync_deployment("web")

    (rs,) = cluster.replicasets("web")
    assert plan.scale == {rs["metadata"]["name"]: 5}
    assert rs["metadata"]["annotations"][DESIRED] == "5"
    roll_out(cluster)
    assert len(cluster.serving(rs)) == 5

    cluster.edit("Deployment", "web", lambda s: s.__setitem__("replicas", 0))
    roll_out(cluster)
    assert rs["spec"]["replicas"] == 0 and cluster.pods() == []


# -- history and rollback -----------------------------------------------------------------------


def test_revision_history_limit_deletes_the_oldest_replicasets() -> None:
    cluster = running(deployment(replicas=1, revisionHistoryLimit=2))
    for version in ("v2", "v3", "v4", "v5"):
        cluster.edit("Deployment", "web", set_version(version))
        roll_out(cluster)
        cluster.settle("web")

    rss = cluster.replicasets("web")
    assert [rs["metadata"]["annotations"][REVISION] for rs in rss] == ["3", "4", "5"]
    assert [rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in rss] == [
        "web:v3",
        "web:v4",
        "web:v5",
    ]


def test_revision_history_limit_zero_keeps_no_old_replicaset() -> None:
    cluster = running(deployment(replicas=1, revisionHistoryLimit=0))
    cluster.edit("Deployment", "web", set_version("v2"))
    roll_out(cluster)
    cluster.settle("web")

    assert [rs["metadata"]["annotations"][REVISION] for rs in cluster.replicasets("web")] == ["2"]


def test_old_replicasets_with_pods_are_not_deleted() -> None:
    cluster = running(deployment(replicas=2, revisionHistoryLimit=0, strategy=rolling(1, 0)))
    cluster.edit("Deployment", "web", set_version("v2"))
    for _ in range(3):
        plan = cluster.settle("web")
        assert plan.delete == ()
        cluster.kubelet(ready=False)


def test_rollback_by_template_reuses_the_old_replicaset() -> None:
    cluster = running(deployment(replicas=2))
    (v1,) = cluster.replicasets("web")
    cluster.edit("Deployment", "web", set_version("v2"))
    roll_out(cluster)

    cluster.edit("Deployment", "web", set_version("v1"))
    plan = cluster.sync_deployment("web")
    roll_out(cluster)

    assert plan.create == ()
    assert plan.annotate[v1["metadata"]["name"]][REVISION] == "3"
    v2, back = cluster.replicasets("web")
    assert back is v1
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert (v2["spec"]["replicas"], back["spec"]["replicas"]) == (0, 2)
    assert len(cluster.of_kind("ReplicaSet")) == 2


def test_deployment_annotations_are_copied_to_the_replicaset() -> None:
    cluster = Cluster()
    d = deployment()
    d["metadata"]["annotations"] = {
        "team": "payments",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    cluster.add(d)

    (rs,) = cluster.sync_deployment("web").create

    assert rs["metadata"]["annotations"]["team"] == "payments"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in rs["metadata"]["annotations"]


def test_a_deployment_created_paused_creates_nothing() -> None:
    cluster = Cluster()
    cluster.add(deployment(paused=True))

    plan = cluster.settle("web")

    assert plan.create == () and cluster.of_kind("ReplicaSet") == []
    assert condition(cluster.get("Deployment", "web"), "Progressing")["reason"] == (
        "DeploymentPaused"
    )


def test_replicasets_of_other_owners_are_ignored() -> None:
    cluster = running(deployment(replicas=1))
    stranger = cluster.add(deployment("other"))
    d = cluster.get("Deployment", "web")
    rss = cluster.children(d, "ReplicaSet")
    foreign = {
        **rss[0],
        "metadata": {
            **rss[0]["metadata"],
            "ownerReferences": [
                {
                    "kind": "Deployment",
                    "name": "other",
                    "uid": stranger["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
    }

    plan = plan_deployment(d, [foreign], [], cluster.now)

    assert len(plan.create) == 1  # as if it had no ReplicaSet at all
