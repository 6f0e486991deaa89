"""The Rollout controller's canary analysis and actions: runs judged, abort, retry, promote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout_sim import HASH, RolloutCluster, canary_rollout, events_of, released_canary

from conveyor.health import assess
from conveyor.model import rollout_actions as actions
from conveyor.model.health import HealthStatus
from conveyor.targets.local.controllers.rollout import plan_rollout

SEEDS = Path(__file__).parents[2] / "model" / "testdata" / "rollouts"
ROUTED = {
    "canaryService": "web-canary",
    "stableService": "web-stable",
    "trafficRouting": {"nginx": {"stableIngress": "web"}},
}
ANALYSIS = {"templates": [{"templateName": "success-rate"}]}
FAILED_MESSAGE = 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'


# -- analysis ------------------------------------------------------------------------------------


def test_analysis_step_waits_for_a_successful_run() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}, {"pause": {}}]
    cluster, _, v2 = released_canary(canary_rollout(replicas=5, steps=steps, **ROUTED))
    cluster.settle_rollout()
    name = cluster.run_of("Step")
    request = cluster.requests[name]
    assert name == f"web-{v2}-2-1"
    assert request.labels == {
        "rollout-type": "Step",
        HASH: v2,
        "step-index": "1",
        "app": "web",
    }
    assert request.templates == ({"templateName": "success-rate", "clusterScope": False},)
    assert request.annotations == {"rollout.argoproj.io/revision": "2"}
    cluster.advance(600)  # an analysis step has no progress deadline
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 1
    assert cluster.status()["phase"] == "Progressing"
    cluster.set_run(name, "Successful")
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 3
    assert "currentStepAnalysisRunStatus" not in cluster.status()["canary"]


def test_failed_analysis_aborts_to_stable() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=5, steps=steps, **ROUTED))
    cluster.settle_rollout()
    cluster.set_run(cluster.run_of("Step"), "Failed", FAILED_MESSAGE)
    cluster.settle_rollout()

    status = cluster.status()
    message = f"Rollout aborted update to revision 2: {FAILED_MESSAGE}"
    assert status["abort"] is True and status["currentStepIndex"] == 0
    assert (status["phase"], status["message"]) == ("Degraded", f"RolloutAborted: {message}")
    assert cluster.progressing()["reason"] == "RolloutAborted"
    assert cluster.traffic == {"web-stable": {v1: 100, v2: 0}}
    assert cluster.selectors["web-canary"] == v1
    assert events_of(cluster, "RolloutAborted") == [message]
    assert assess(cluster.get("Rollout", "web")).status == HealthStatus.DEGRADED
    # the canary stays up for abortScaleDownDelaySeconds (30), then goes
    cluster.advance(29)
    cluster.settle_rollout()
    assert cluster.sizes()[v2] == 1
    cluster.advance(2)
    cluster.settle_rollout()
    assert cluster.sizes() == {v1: 5, v2: 0}
    assert status["stableRS"] == v1


def test_retry_after_abort_starts_over_with_a_new_run() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=5, steps=steps, **ROUTED))
    cluster.settle_rollout()
    first = cluster.run_of("Step")
    cluster.set_run(first, "Failed", FAILED_MESSAGE)
    cluster.settle_rollout()
    cluster.patch_status("web", abort=False)  # retry
    cluster.settle_rollout()
    assert cluster.progressing()["reason"] in ("RolloutRetry", "ReplicaSetUpdated")
    assert cluster.status()["currentStepIndex"] == 1
    assert cluster.run_of("Step") == f"{first}.1"
    assert cluster.traffic == {"web-stable": {v1: 80, v2: 20}}
    cluster.set_run(f"{first}.1", "Successful")
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2 and cluster.status()["phase"] == "Healthy"


def test_inconclusive_analysis_pauses_for_a_person() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}]
    cluster, _v1, _v2 = released_canary(canary_rollout(replicas=5, steps=steps))
    cluster.settle_rollout()
    first = cluster.run_of("Step")
    cluster.set_run(first, "Inconclusive")
    cluster.settle_rollout()
    status = cluster.status()
    assert [c["reason"] for c in status["pauseConditions"]] == ["InconclusiveAnalysis"]
    assert (status["phase"], status["message"]) == ("Paused", "InconclusiveAnalysis")
    sizes = cluster.sizes()
    cluster.advance(60)
    cluster.settle_rollout()
    assert cluster.sizes() == sizes
    cluster.patch_status("web", pauseConditions=None)  # a person resumes: analysis again
    cluster.settle_rollout()
    assert cluster.run_of("Step") == f"{first}.1"


def test_background_analysis_runs_from_its_starting_step_until_promotion() -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    background = {
        **ANALYSIS,
        "startingStep": 2,
        "args": [
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
            {"name": "service", "value": "web-canary"},
        ],
    }
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps, analysis=background))
    cluster.settle_rollout()
    assert not cluster.requests  # step 1 is before startingStep 2
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    name = cluster.run_of("Background")
    assert name == f"web-{v2}-2"
    assert cluster.requests[name].args == (
        {"name": "canary-hash", "value": v2},
        {"name": "stable-hash", "value": v1},
        {"name": "service", "value": "web-canary"},
    )
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert name in cluster.terminated  # promotion ends the background run


def test_failed_background_analysis_aborts() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps, analysis=ANALYSIS))
    cluster.settle_rollout()
    cluster.set_run(cluster.run_of("Background"), "Error", "metric errored 5 times")
    cluster.settle_rollout()
    assert cluster.status()["message"] == (
        "RolloutAborted: Rollout aborted update to revision 2: metric errored 5 times"
    )
    assert cluster.sizes() == {v1: 4, v2: 0}  # a basic canary goes back at once


# -- actions: abort, promote, promote --full, skip a step ----------------------------------------


def test_abort_by_a_person() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps))
    cluster.settle_rollout()
    cluster.patch_status("web", abort=True)
    cluster.settle_rollout()
    status = cluster.status()
    assert status["message"] == "RolloutAborted: Rollout aborted update to revision 2"
    assert "pauseConditions" not in status and status["currentStepIndex"] == 0
    assert cluster.running() == {v1: 4, v2: 0}
    assert status["abortedAt"]


def test_promote_full_skips_the_remaining_steps() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    cluster, _v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps, **ROUTED))
    cluster.settle_rollout()
    cluster.patch_status("web", promoteFull=True)
    cluster.settle_rollout()
    status = cluster.status()
    assert status["stableRS"] == v2 and status["currentStepIndex"] == 4
    assert "promoteFull" not in status and "pauseConditions" not in status
    assert cluster.traffic == {"web-stable": {v2: 100}}
    assert cluster.selectors == {"web-stable": v2, "web-canary": v2}
    assert events_of(cluster, "RolloutCompleted")[-1].endswith(": Full promotion requested")


def test_promote_skips_the_current_analysis_step() -> None:
    steps = [{"setWeight": 25}, {"analysis": ANALYSIS}, {"setWeight": 50}, {"pause": {}}]
    cluster, _, _ = released_canary(canary_rollout(replicas=4, steps=steps))
    cluster.settle_rollout()
    run = cluster.run_of("Step")
    cluster.patch_status("web", currentStepIndex=2)  # promote: skip the current step
    cluster.settle_rollout()
    assert run in cluster.terminated
    assert cluster.status()["currentStepIndex"] == 3


def test_experiment_step_is_skipped_with_a_warning() -> None:
    steps = [{"experiment": {"templates": []}}, {"setWeight": 50}]
    cluster, _, v2 = released_canary(canary_rollout(replicas=2, steps=steps))
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert events_of(cluster, "ExperimentSkipped") == [
        "experiment steps are not supported by Conveyor: step skipped"
    ]


# -- actions as patches, and restart ---------------------------------------------------------


def test_actions_drive_the_planner() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=4, steps=steps))
    cluster.settle_rollout()
    ro = cluster.get("Rollout", "web")
    cluster.act(actions.promote(ro))
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 3
    cluster.act(actions.abort(ro))
    cluster.settle_rollout()
    assert cluster.status()["phase"] == "Degraded" and cluster.sizes()[v2] == 0
    cluster.act(actions.retry(ro))
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 1 and cluster.running() == {v1: 3, v2: 1}
    cluster.act(actions.promote_full(ro))
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2 and cluster.status()["phase"] == "Healthy"


def test_restart_replaces_every_pod_a_few_at_a_time() -> None:
    cluster = RolloutCluster()
    cluster.add(canary_rollout(replicas=4))
    cluster.settle_rollout()
    before = {p["metadata"]["name"] for p in cluster.pods()}
    cluster.advance(10)
    cluster.act(actions.restart(cluster.get("Rollout", "web"), cluster.now))
    assert cluster.sync_rollout().status["phase"] == "Progressing"
    deleting: list[int] = []

    def watch(c: Any) -> None:
        deleting.append(sum(1 for p in c.pods() if p["metadata"].get("deletionTimestamp")))

    cluster.observers.append(watch)
    for _ in range(10):
        cluster.settle_rollout()
        if cluster.status().get("restartedAt"):
            break
        cluster.advance(1)
    assert cluster.status()["restartedAt"] == cluster.get("Rollout", "web")["spec"]["restartAt"]
    assert not before & {p["metadata"]["name"] for p in cluster.pods()}
    assert max(deleting) == 1  # maxUnavailable 25% of 4
    assert cluster.status()["phase"] == "Healthy"


def test_workload_ref_takes_the_template_from_the_deployment() -> None:
    obj = canary_rollout(replicas=2)
    template = obj["spec"].pop("template")
    obj["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    cluster = RolloutCluster()
    ro = cluster.add(obj)
    missing = plan_rollout(ro, [], [], cluster.now)
    assert missing.status["message"] == (
        'InvalidSpec: The Rollout "web" is invalid: spec.workloadRef: Invalid value:'
        " Deployment web not found"
    )
    plan = plan_rollout(ro, [], [], cluster.now, workload_template=template)
    (rs,) = plan.create
    assert rs["spec"]["template"]["spec"] == template["spec"]


def test_traffic_routing_without_steps_moves_traffic_with_the_promotion() -> None:
    cluster, v1, v2 = released_canary(canary_rollout(replicas=2, **ROUTED))
    cluster.sync_rollout()
    assert cluster.traffic == {"web-stable": {v1: 100, v2: 0}}
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert cluster.traffic == {"web-stable": {v2: 100}}


def test_a_newer_template_terminates_the_running_analysis() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}]
    cluster, v1, _ = released_canary(canary_rollout(replicas=5, steps=steps, **ROUTED))
    cluster.settle_rollout()
    first = cluster.run_of("Step")
    cluster.set_version("v3")
    cluster.settle_rollout()
    v3 = cluster.status()["currentPodHash"]
    assert first in cluster.terminated
    assert cluster.run_of("Step") == f"web-{v3}-3-1"
    assert cluster.traffic["web-stable"][v1] == 80


def test_abort_with_dynamic_stable_scale_moves_traffic_back_as_the_stable_grows() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}]
    obj = canary_rollout(replicas=4, steps=steps, dynamicStableScale=True, **ROUTED)
    cluster, v1, v2 = released_canary(obj)
    cluster.settle_rollout()
    assert cluster.running() == {v1: 2, v2: 2}
    cluster.patch_status("web", abort=True)
    cluster.sync_rollout()
    # the stable has 2 of 4 Pods: half the traffic stays on the canary for now
    assert cluster.traffic == {"web-stable": {v1: 50, v2: 50}}
    assert cluster.sizes() == {v1: 4, v2: 2}
    cluster.settle_rollout()
    assert cluster.traffic == {"web-stable": {v1: 100, v2: 0}}
    assert cluster.sizes() == {v1: 4, v2: 0}  # no abort delay unless one is set


# -- retry after an abort by analysis (Argo's canary_analysis_retry_test) ------------------------


def test_retry_within_the_abort_delay_is_not_aborted_again_by_the_failed_background_run() -> None:
    steps = [{"setWeight": 50}, {"pause": {"duration": "60s"}}, {"setWeight": 80}]
    obj = canary_rollout(replicas=4, steps=steps, analysis=ANALYSIS, **ROUTED)
    cluster, v1, v2 = released_canary(obj)
    cluster.settle_rollout()
    failed = cluster.run_of("Background")
    cluster.set_run(failed, "Failed", FAILED_MESSAGE)
    cluster.settle_rollout()
    assert cluster.status()["phase"] == "Degraded"
    assert cluster.sizes() == {v1: 4, v2: 2}  # the canary waits for abortScaleDownDelaySeconds
    cluster.act(actions.retry(cluster.get("Rollout", "web")))
    cluster.settle_rollout()
    status = cluster.status()
    assert "abort" not in status and "abortedAt" not in status
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 1)
    assert cluster.traffic == {"web-stable": {v1: 50, v2: 50}}
    assert status["canary"]["currentBackgroundAnalysisRunStatus"] == {
        "name": f"{failed}.1",
        "status": "Running",
    }
    assert cluster.runs[failed].phase == "Failed"  # the aborted attempt's run is history
    cluster.set_run(f"{failed}.1", "Failed", FAILED_MESSAGE)  # a fresh failure still aborts
    cluster.settle_rollout()
    assert cluster.status()["phase"] == "Degraded"
    assert cluster.traffic == {"web-stable": {v1: 100, v2: 0}}


def test_retry_never_takes_the_aborted_attempts_terminating_run_for_its_own() -> None:
    steps = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}]
    cluster, v1, v2 = released_canary(canary_rollout(replicas=5, steps=steps, **ROUTED))
    cluster.settle_rollout()
    running = cluster.run_of("Step")
    cluster.act(actions.abort(cluster.get("Rollout", "web")))
    cluster.settle_rollout()
    assert running in cluster.terminated
    assert cluster.traffic == {"web-stable": {v1: 100, v2: 0}}
    assert cluster.runs[running].phase == "Running"  # termination is asynchronous
    cluster.act(actions.retry(cluster.get("Rollout", "web")))
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 1
    assert cluster.run_of("Step") == f"{running}.1"
    assert cluster.status()["canary"]["currentStepAnalysisRunStatus"]["name"] == f"{running}.1"
    cluster.set_run(running, "Successful")  # the old run ends: it decides nothing now
    cluster.settle_rollout()
    assert cluster.status()["currentStepIndex"] == 1
    cluster.set_run(f"{running}.1", "Successful")
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2 and cluster.status()["phase"] == "Healthy"
    assert cluster.traffic == {"web-stable": {v2: 100}}
