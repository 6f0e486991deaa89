"""The Rollout controller's blue-green plans: preview, switch, analysis and abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rollout_sim import RolloutCluster, blue_green_rollout

from conveyor.health import assess
from conveyor.model import rollout_actions as actions
from conveyor.model.health import HealthStatus

SEEDS = Path(__file__).parents[2] / "model" / "testdata" / "rollouts"
SMOKE = {"templates": [{"templateName": "smoke"}]}


def released(obj: dict[str, Any], name: str = "web") -> tuple[RolloutCluster, str, str]:
    """v1 active and stable, v2 just applied and reconciled until nothing changes."""
    cluster = RolloutCluster()
    cluster.add(obj)
    cluster.settle_rollout(name)
    v1 = cluster.status(name)["stableRS"]
    cluster.events.clear()
    cluster.set_version("v2", name)
    cluster.settle_rollout(name)
    v2 = cluster.status(name)["currentPodHash"]
    return cluster, v1, v2


def active(cluster: RolloutCluster, name: str = "web") -> str:
    return str(cluster.status(name)["blueGreen"].get("activeSelector"))


def test_initial_deploy_switches_the_active_service_once_all_are_available() -> None:
    cluster = RolloutCluster()
    cluster.add(blue_green_rollout(previewService="web-preview", autoPromotionEnabled=False))
    cluster.sync_rollout()
    cluster.sync_replicaset(
        cluster.children(cluster.get("Rollout", "web"), "ReplicaSet")[0]["metadata"]["name"]
    )
    cluster.sync_rollout()
    assert "web-active" not in cluster.selectors  # no Pod is available yet
    assert cluster.status()["message"] == "updated replicas are still becoming available"
    cluster.settle_rollout()
    status = cluster.status()
    assert active(cluster) == status["stableRS"] == status["currentPodHash"]
    assert cluster.selectors == {"web-active": active(cluster), "web-preview": active(cluster)}
    assert status["phase"] == "Healthy"  # the initial deploy does not wait for promotion


def test_auto_promotion_switches_and_scales_the_old_stack_down_after_the_delay() -> None:
    cluster, v1, v2 = released(blue_green_rollout(previewService="web-preview"))
    assert active(cluster) == v2 and cluster.status()["stableRS"] == v2
    assert cluster.selectors == {"web-active": v2, "web-preview": v2}
    assert cluster.sizes() == {v1: 3, v2: 3}  # scaleDownDelaySeconds: 30 by default
    assert cluster.status()["phase"] == "Healthy"
    cluster.advance(29)
    cluster.settle_rollout()
    assert cluster.sizes()[v1] == 3
    cluster.advance(2)
    cluster.settle_rollout()
    assert cluster.sizes() == {v1: 0, v2: 3}


def test_without_auto_promotion_a_person_promotes() -> None:
    obj = blue_green_rollout(previewService="web-preview", autoPromotionEnabled=False)
    cluster, v1, v2 = released(obj)
    status = cluster.status()
    assert (status["phase"], status["message"]) == ("Paused", "BlueGreenPause")
    assert cluster.selectors == {"web-active": v1, "web-preview": v2}
    assert status["blueGreen"] == {"activeSelector": v1, "previewSelector": v2}
    assert assess(cluster.get("Rollout", "web")).status == HealthStatus.SUSPENDED
    cluster.advance(3600)
    cluster.settle_rollout()
    assert active(cluster) == v1
    cluster.patch_status("web", pauseConditions=None)  # promote
    cluster.settle_rollout()
    assert active(cluster) == v2 and cluster.status()["stableRS"] == v2
    assert cluster.status()["phase"] == "Healthy"


def test_auto_promotion_seconds_counts_from_the_pause() -> None:
    cluster, v1, v2 = released(blue_green_rollout(autoPromotionSeconds=60))
    assert cluster.status()["pauseConditions"][0]["reason"] == "BlueGreenPause"
    cluster.advance(59)
    plan = cluster.settle_rollout()
    assert active(cluster) == v1
    assert plan.requeue_after is not None and plan.requeue_after <= 2
    cluster.advance(2)
    cluster.settle_rollout()
    assert active(cluster) == v2


def test_preview_replica_count_until_promotion() -> None:
    obj = blue_green_rollout(
        replicas=4, previewService="web-preview", autoPromotionEnabled=False, previewReplicaCount=1
    )
    cluster, v1, v2 = released(obj)
    assert cluster.sizes() == {v1: 4, v2: 1}
    assert cluster.status()["message"] == "BlueGreenPause"
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert active(cluster) == v2
    assert cluster.sizes() == {v1: 4, v2: 4}


def test_pre_promotion_analysis_gates_the_switch() -> None:
    obj = blue_green_rollout(previewService="web-preview", prePromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    pre = cluster.run_of("PrePromotion")
    assert pre == f"web-{v2}-2-pre"
    assert cluster.requests[pre].labels["rollout-type"] == "PrePromotion"
    assert active(cluster) == v1
    cluster.set_run(pre, "Successful")
    cluster.settle_rollout()
    assert active(cluster) == v2 and cluster.status()["stableRS"] == v2


def test_failed_pre_promotion_analysis_aborts_and_scales_the_preview_down() -> None:
    obj = blue_green_rollout(previewService="web-preview", prePromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    cluster.set_run(cluster.run_of("PrePromotion"), "Failed", "smoke failed")
    cluster.settle_rollout()
    status = cluster.status()
    assert status["phase"] == "Degraded"
    assert status["message"] == "RolloutAborted: Rollout aborted update to revision 2: smoke failed"
    assert active(cluster) == v1
    cluster.advance(31)  # abortScaleDownDelaySeconds: 30
    cluster.settle_rollout()
    assert cluster.sizes() == {v1: 3, v2: 0}


def test_failed_post_promotion_analysis_switches_back_to_stable() -> None:
    obj = blue_green_rollout(previewService="web-preview", postPromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    assert active(cluster) == v2
    assert cluster.status()["stableRS"] == v1
    assert cluster.status()["message"] == "waiting for analysis to complete"
    post = cluster.run_of("PostPromotion")
    cluster.set_run(post, "Failed", "error rate too high")
    cluster.settle_rollout()
    assert active(cluster) == v1
    assert cluster.selectors["web-active"] == v1
    assert cluster.status()["phase"] == "Degraded"
    assert cluster.sizes()[v1] == 3


def test_retry_after_a_failed_post_promotion_analysis_switches_again_with_a_new_run() -> None:
    obj = blue_green_rollout(previewService="web-preview", postPromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    post = cluster.run_of("PostPromotion")
    cluster.set_run(post, "Failed", "error rate too high")
    cluster.settle_rollout()
    assert active(cluster) == v1 and cluster.status()["phase"] == "Degraded"
    cluster.act(actions.retry(cluster.get("Rollout", "web")))
    cluster.settle_rollout()  # the Failed run judged the aborted attempt, not this one
    assert "abort" not in cluster.status()
    assert active(cluster) == v2 and cluster.run_of("PostPromotion") == f"{post}.1"
    assert cluster.status()["message"] == "waiting for analysis to complete"
    cluster.set_run(f"{post}.1", "Successful")
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2 and cluster.status()["phase"] == "Healthy"


def test_successful_post_promotion_analysis_makes_the_new_stack_stable() -> None:
    obj = blue_green_rollout(postPromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    assert cluster.sizes() == {v1: 3, v2: 3}
    cluster.set_run(cluster.run_of("PostPromotion"), "Successful")
    cluster.settle_rollout()
    assert cluster.status()["stableRS"] == v2
    assert cluster.status()["phase"] == "Healthy"


def test_promote_full_skips_the_pause_and_analysis() -> None:
    obj = blue_green_rollout(autoPromotionEnabled=False, prePromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    pre = cluster.run_of("PrePromotion")
    assert active(cluster) == v1
    cluster.patch_status("web", promoteFull=True)
    cluster.settle_rollout()
    assert active(cluster) == v2 and cluster.status()["stableRS"] == v2
    assert pre in cluster.terminated


def test_the_seeds_blue_green_as_written() -> None:
    obj = yaml.safe_load((SEEDS / "rollout-myapp-bluegreen.yaml").read_text())
    obj["spec"]["selector"] = {"matchLabels": {"app": "myapp"}}  # the seed leaves them out
    obj["spec"]["template"] = {
        "metadata": {"labels": {"app": "myapp"}},
        "spec": {"containers": [{"name": "app", "image": "myapp:v1"}]},
    }
    cluster, v1, v2 = released(obj, "myapp-bluegreen")
    assert cluster.selectors == {"myapp-active": v1, "myapp-preview": v2}
    pre = cluster.run_of("PrePromotion")
    assert cluster.requests[pre].args == ({"name": "service-name", "value": "myapp-preview"},)
    cluster.set_run(pre, "Successful")
    cluster.settle_rollout("myapp-bluegreen")
    assert cluster.status("myapp-bluegreen")["message"] == "BlueGreenPause"
    cluster.patch_status("myapp-bluegreen", pauseConditions=None)
    cluster.settle_rollout("myapp-bluegreen")
    post = cluster.run_of("PostPromotion")
    assert cluster.requests[post].args == ({"name": "service-name", "value": "myapp-active"},)
    cluster.set_run(post, "Successful")
    cluster.settle_rollout("myapp-bluegreen")
    assert cluster.status("myapp-bluegreen")["stableRS"] == v2
    cluster.advance(31)
    cluster.settle_rollout("myapp-bluegreen")
    assert cluster.sizes("myapp-bluegreen") == {v1: 0, v2: 5}


def test_a_newer_template_gets_its_own_pre_promotion_analysis() -> None:
    obj = blue_green_rollout(autoPromotionEnabled=False, prePromotionAnalysis=SMOKE)
    cluster, v1, v2 = released(obj)
    first = cluster.run_of("PrePromotion")
    cluster.set_version("v3")
    cluster.settle_rollout()
    v3 = cluster.status()["currentPodHash"]
    assert first in cluster.terminated
    second = cluster.run_of("PrePromotion")
    assert second == f"web-{v3}-3-pre"
    assert cluster.status()["blueGreen"]["prePromotionAnalysisRunStatus"]["name"] == second
    assert active(cluster) == v1
    assert v2 not in cluster.selectors.values()


def test_inconclusive_pre_promotion_analysis_pauses_for_a_person() -> None:
    obj = blue_green_rollout(prePromotionAnalysis=SMOKE)
    cluster, v1, _ = released(obj)
    first = cluster.run_of("PrePromotion")
    cluster.set_run(first, "Inconclusive")
    cluster.settle_rollout()
    assert cluster.status()["message"] == "InconclusiveAnalysis"
    assert active(cluster) == v1
    cluster.patch_status("web", pauseConditions=None)
    cluster.settle_rollout()
    assert cluster.run_of("PrePromotion") == f"{first}.1"
