"""The Rollout controller's canary plans, driven through whole releases on a simulated clock."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from controller_sim import condition
from rollout_sim import HASH, RolloutCluster, canary_rollout, events_of, released_canary

from conveyor.health import assess
from conveyor.model.health import HealthStatus
from conveyor.model.rollout import Rollout
from conveyor.targets.local.controllers import rollout_replicas as counts
from conveyor.targets.local.controllers.rollout import plan_rollout
from conveyor.targets.local.controllers.rollout_context import Context

SEEDS = Path(__file__).parents[2] / "model" / "testdata" / "rollouts"
ROUTED = {
    "canaryService": "web-canary",
    "stableService": "web-stable",
    "trafficRouting": {"nginx": {"stableIngress": "web"}},
}
ANALYSIS = {"templates": [{"templateName": "success-rate"}]}
FAILED_MESSAGE = 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'


# -- initial deploy, and the shape of the plan ---------------------------------------------------


def test_initial_deploy_skips_the_steps() -> None:
    cluster = RolloutCluster()
    cluster.add(canary_rollout(replicas=3, steps=[{"setWeight": 20}, {"pause": {}}]))
    cluster.settle_rollout()

    status = cluster.status()
    (rs,) = cluster.children(cluster.get("Rollout", "web"), "ReplicaSet")
    pod_hash = rs["metadata"]["labels"][HASH]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH: pod_hash}
    assert rs["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "1"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert status["stableRS"] == status["currentPodHash"] == pod_hash
    assert status["currentStepIndex"] == 2
    assert (status["phase"], status["availableReplicas"]) == ("Healthy", 3)
    assert cluster.get("Rollout", "web")["metadata"]["annotations"] == {
        "rollout.argoproj.io/revision": "1"
    }
    assert events_of(cluster, "RolloutCompleted") == [
        f"Rollout completed update to revision 1 ({pod_hash}): Initial deploy"
    ]
    assert assess(cluster.get("Rollout", "web")).status == HealthStatus.HEALTHY


def test_planning_leaves_its_inputs_alone() -> None:
    cluster, _, _ = released_canary(canary_rollout(steps=[{"setWeight": 50}]))
    ro = cluster.get("Rollout", "web")
    rss = cluster.children(ro, "ReplicaSet")
    pods = cluster.pods()
    before = repr((ro, rss, pods))
    plan_rollout(ro, rss, pods, cluster.now)
    assert repr((ro, rss, pods)) == before


def test_invalid_spec_is_degraded_and_does_nothing() -> None:
    obj = canary_rollout()
    del obj["spec"]["selector"]
    cluster = RolloutCluster()
    cluster.add(obj)
    plan = cluster.sync_rollout()
    assert not plan.acts
    assert cluster.status()["phase"] == "Degraded"
    assert "InvalidSpec: " in cluster.status()["message"]
    assert "'.spec.selector'" in cluster.status()["message"]
    assert assess(cluster.get("Rollout", "web")).status == HealthStatus.DEGRADED


# -- setWeight ------------------------------------------------------------------------------------


def test_set_weight_without_traffic_routing_is_approximated_by_replicas() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps))
    cluster.settle_rollout()
    assert cluster.running() == {v1: 3, v2: 1}
    assert cluster.status()["currentStepIndex"] == 1
    assert not cluster.traffic  # the Service balances over every Pod: replicas make the weight

    cluster.patch_status("web", pauseConditions=None)  # promote
    cluster.settle_rollout()
    assert cluster.running() == {v1: 1, v2: 3}
    assert events_of(cluster, "RolloutStepCompleted") == [
        "Rollout step 1/4 completed (setWeight: 25)",
        "Rollout step 2/4 completed (pause)",
        "Rollout step 3/4 completed (setWeight: 75)",
    ]


@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (0, 1), ("50%", 0), (2, 2)], ids=str)
def test_basic_canary_stays_within_max_surge_and_max_unavailable(
    surge: int | str, unavailable: int | str
) -> None:
    steps = [{"setWeight": 40}, {"pause": {"duration": 5}}, {"setWeight": 80}]
    obj = canary_rollout(replicas=5, steps=steps, maxSurge=surge, maxUnavailable=unavailable)
    cluster = RolloutCluster()
    cluster.add(obj)
    cluster.settle_rollout()
    max_surge = 1 if surge == 1 else (3 if surge == "50%" else surge)
    max_unavailable = unavailable if isinstance(unavailable, int) else 0
    seen: list[tuple[int, int]] = []

    def bounds(c: Any) -> None:
        live = [p for p in c.pods() if not p["metadata"].get("deletionTimestamp")]
        ready = sum(
            1 for rs in c.children(c.get("Rollout", "web"), "ReplicaSet") for _ in c.serving(rs)
        )
        seen.append((len(live), ready))
        assert len(live) <= 5 + int(max_surge) + 1  # +1: both sides round up (Argo's rule)
        assert ready >= 5 - max(int(max_unavailable), 0 if max_surge else 1) - 1

    cluster.observers.append(bounds)
    cluster.set_version("v2")
    for _ in range(40):
        cluster.settle_rollout()
        if cluster.status().get("phase") == "Healthy":
            break
        cluster.advance(3)
    assert cluster.status()["phase"] == "Healthy"
    assert cluster.status()["stableRS"] == cluster.status()["currentPodHash"]
    assert seen


def test_set_weight_with_traffic_routing_sets_exact_weights() -> None:
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=10, steps=steps, **ROUTED))
    cluster.settle_rollout()
    assert cluster.traffic == {"web-stable": {v1: 90, v2: 10}}
    assert cluster.selectors == {"web-stable": v1, "web-canary": v2}
    assert cluster.running() == {v1: 10, v2: 1}  # the stable stays full
    weights = cluster.status()["canary"]["weights"]
    assert weights == {
        "canary": {"podTemplateHash": v2, "serviceName": "web-canary", "weight": 10},
        "stable": {"podTemplateHash": v1, "serviceName": "web-stable", "weight": 90},
    }
    said = [e.message for p in cluster.plans for e in p.events if e.reason == "TrafficRoutingLocal"]
    assert said == [
        "trafficRouting (nginx) is served by the local runtime's proxy with exact weights"
    ]
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert cluster.traffic == {"web-stable": {v1: 40, v2: 60}}
    assert cluster.running() == {v1: 10, v2: 6}


def test_weight_waits_for_the_canary_pods() -> None:
    cluster, v1, v2 = released_canary(
        canary_rollout(replicas=4, steps=[{"setWeight": 50}], **ROUTED)
    )
    cluster.sync_rollout()
    for rs in cluster.children(cluster.get("Rollout", "web"), "ReplicaSet"):
        cluster.sync_replicaset(rs["metadata"]["name"])
    cluster.kubelet(ready=False)
    cluster.sync_rollout()
    assert cluster.traffic["web-stable"] == {v1: 100, v2: 0}  # no traffic to Pods not ready


def test_set_canary_scale_sizes_the_canary_apart_from_its_weight() -> None:
    steps = [{"setCanaryScale": {"replicas": 3}}, {"setWeight": 10}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=10, steps=steps, **ROUTED))
    cluster.settle_rollout()
    assert cluster.running() == {v1: 10, v2: 3}
    assert cluster.traffic == {"web-stable": {v1: 90, v2: 10}}
    assert events_of(cluster, "RolloutStepCompleted")[0] == (
        "Rollout step 1/3 completed (setCanaryScale{replicas: 3})"
    )


def test_dynamic_stable_scale_shrinks_the_stable_with_its_traffic() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}]
    obj = canary_rollout(replicas=4, steps=steps, dynamicStableScale=True, **ROUTED)
    cluster, v1, v2 = released_canary(obj)
    cluster.settle_rollout()
    assert cluster.traffic == {"web-stable": {v1: 50, v2: 50}}
    assert cluster.running() == {v1: 2, v2: 2}
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert cluster.sizes() == {v1: 0, v2: 4}  # no scale-down delay with dynamic scaling


# -- pause ---------------------------------------------------------------------------------------


def test_pause_without_duration_waits_for_a_person() -> None:
    cluster, _, _ = released_canary(canary_rollout(steps=[{"setWeight": 25}, {"pause": {}}]))
    cluster.settle_rollout()
    cluster.advance(3600)
    plan = cluster.settle_rollout()
    status = cluster.status()
    assert (status["phase"], status["message"], status["currentStepIndex"]) == (
        "Paused",
        "CanaryPauseStep",
        1,
    )
    assert status["controllerPause"] is True
    assert plan.requeue_after is None
    assert assess(cluster.get("Rollout", "web")).status == HealthStatus.SUSPENDED
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert cluster.status()["phase"] == "Healthy"


def test_pause_with_duration_counts_from_the_pause_start() -> None:
    steps = [{"setWeight": 25}, {"pause": {"duration": "1m"}}, {"setWeight": 50}]
    cluster, _, _ = released_canary(canary_rollout(steps=steps))
    cluster.settle_rollout()
    start = cluster.status()["pauseConditions"][0]["startTime"]
    cluster.advance(20)
    plan = cluster.settle_rollout()
    assert cluster.status()["pauseConditions"][0]["startTime"] == start
    assert plan.requeue_after == pytest.approx(40)
    # A planner started afresh (a restarted server) sees the same start in status.
    fresh = copy.deepcopy(cluster)
    fresh.advance(41)
    fresh.sync_rollout()
    assert fresh.status()["currentStepIndex"] == 2
    cluster.advance(39)
    cluster.sync_rollout()
    assert cluster.status()["currentStepIndex"] == 1


def test_spec_paused_holds_the_rollout() -> None:
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=[{"setWeight": 50}]))
    cluster.edit("Rollout", "web", lambda spec: spec.update(paused=True))
    cluster.settle_rollout()
    assert cluster.status()["phase"] == "Paused"
    assert cluster.status()["message"] == "manually paused"
    assert cluster.sizes() == {v1: 4, v2: 0}
    assert condition(cluster.get("Rollout", "web"), "Paused")["status"] == "True"


# -- templates: rollback, history, deadlines ----------------------------------------------------


def test_rollback_to_the_stable_template_skips_the_steps() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}, {"setWeight": 75}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps))
    cluster.settle_rollout()
    cluster.set_version("v1")
    cluster.settle_rollout()
    status = cluster.status()
    assert status["currentPodHash"] == status["stableRS"] == v1
    assert status["currentStepIndex"] == 3 and status["phase"] == "Healthy"
    assert cluster.sizes() == {v1: 4, v2: 0}
    assert events_of(cluster, "SkipSteps") == ["Rollback to stable ReplicaSets"]


def test_old_stable_stays_up_for_the_scale_down_delay_with_traffic_routing() -> None:
    cluster, v1, v2 = released_canary(
        canary_rollout(replicas=2, steps=[{"setWeight": 50}], **ROUTED)
    )
    cluster.settle_rollout()
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert cluster.traffic == {"web-stable": {v2: 100}}
    assert cluster.sizes() == {v1: 2, v2: 2}
    cluster.advance(31)
    cluster.settle_rollout()
    assert cluster.sizes() == {v1: 0, v2: 2}


def test_revision_history_limit_deletes_old_replicasets() -> None:
    cluster = RolloutCluster()
    obj = canary_rollout(replicas=1)
    obj["spec"]["revisionHistoryLimit"] = 1
    cluster.add(obj)
    cluster.settle_rollout()
    for version in ("v2", "v3", "v4"):
        cluster.set_version(version)
        cluster.settle_rollout()
    revisions = sorted(
        rs["metadata"]["annotations"]["rollout.argoproj.io/revision"]
        for rs in cluster.children(cluster.get("Rollout", "web"), "ReplicaSet")
    )
    assert revisions == ["3", "4"]


def test_progress_deadline_exceeded_is_degraded_and_can_abort() -> None:
    obj = canary_rollout(replicas=2, steps=[{"setWeight": 50}])
    obj["spec"].update(progressDeadlineSeconds=60, progressDeadlineAbort=True)
    cluster, _v1, v2 = released_canary(obj)
    cluster.sync_rollout()
    for rs in cluster.children(cluster.get("Rollout", "web"), "ReplicaSet"):
        cluster.sync_replicaset(rs["metadata"]["name"])
    cluster.kubelet(ready=False)  # the new Pods never become ready
    plan = cluster.sync_rollout()
    assert plan.requeue_after is not None and plan.requeue_after <= 61
    cluster.advance(61)
    cluster.sync_rollout()
    status = cluster.status()
    assert status["phase"] == "Degraded"
    assert f'ReplicaSet "web-{v2}" has timed out progressing.' in status["message"]
    assert status["abort"] is True


# -- the seeds' canary ---------------------------------------------------------------------------


def test_the_seeds_canary_steps_as_written() -> None:
    obj = yaml.safe_load((SEEDS / "rollout-myapp-rollout.yaml").read_text())
    cluster = RolloutCluster()
    cluster.add(obj)
    cluster.settle_rollout("myapp-rollout")
    v1 = cluster.status("myapp-rollout")["stableRS"]
    cluster.set_version("v2", "myapp-rollout")
    seen: list[tuple[int, int]] = []
    for _ in range(200):
        cluster.settle_rollout("myapp-rollout")
        status = cluster.status("myapp-rollout")
        weight = cluster.traffic["myapp-stable"].get(status["currentPodHash"], 0)
        step = (status.get("currentStepIndex") or 0, weight)
        if not seen or seen[-1] != step:
            seen.append(step)
        if status["phase"] == "Healthy" and status["stableRS"] != v1:
            break
        cluster.advance(30)
    assert [w for _, w in seen] == [10, 25, 50, 75, 100]
    assert seen[-1] == (8, 100)


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "unavailable", "expected"),
    [
        (10, 10, 1, 1, (1, 9)),
        (10, 30, 3, 0, (3, 10)),
        (10, 30, 0, 5, (0, 7)),
        (10, 5, 1, 1, (1, 10)),  # 1 of 11 is closer to 5% than 1 of 10 (surge allows 11)
        (1, 5, 1, 0, (1, 1)),
        (1, 95, 1, 0, (1, 1)),
    ],
    ids=str,
)
def test_basic_canary_counts_follow_argos_rules(
    replicas: int, weight: int, surge: int, unavailable: int, expected: tuple[int, int]
) -> None:
    obj = canary_rollout(
        replicas=replicas,
        steps=[{"setWeight": weight}],
        maxSurge=surge,
        maxUnavailable=unavailable,
    )
    cluster, _, _ = released_canary(obj)
    ro = cluster.get("Rollout", "web")
    rss = cluster.children(ro, "ReplicaSet")
    pods = [p for rs in rss for p in cluster.children(rs, "Pod")]
    ctx = Context(
        ro, Rollout.model_validate(ro), ro["spec"]["template"], rss, pods, {}, cluster.now
    )
    ctx.ensure_new()  # at 0 replicas, as Argo's examples start
    assert counts.basic_counts(ctx) == expected


def test_traffic_weights_always_add_up_to_100() -> None:
    steps = [{"setWeight": 30}, {"pause": {"duration": 10}}, {"setWeight": 70}]
    cluster = RolloutCluster()
    cluster.add(canary_rollout(replicas=3, steps=steps, **ROUTED))
    cluster.settle_rollout()
    cluster.set_version("v2")
    for _ in range(10):
        cluster.settle_rollout()
        cluster.advance(5)
    assert cluster.status()["phase"] == "Healthy"
    splits = [p.traffic["web-stable"] for p in cluster.plans if p.traffic]
    assert splits and all(sum(split.values()) == 100 for split in splits)
    v2 = cluster.status()["stableRS"]
    assert {split.get(v2, 0) for split in splits} == {0, 30, 70, 100}
