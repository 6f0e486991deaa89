"""The Rollout kind: the seeds load unchanged, Argo's defaults, what is refused or warned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.model.loading import ManifestError
from conveyor.model.rollout import Rollout, rollout_from_dict

SEEDS = sorted((Path(__file__).parent / "testdata" / "rollouts").glob("*.yaml"))


def rollout(strategy: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            "strategy": strategy,
            **spec,
        },
    }


def load(obj: dict[str, Any]) -> Rollout:
    return rollout_from_dict(obj).value


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_rollout_loads_unchanged_without_warnings(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    loaded = rollout_from_dict(data)
    assert loaded.warnings == ()
    assert loaded.value.to_manifest() == data


def test_all_five_seed_rollouts_are_there() -> None:
    assert len(SEEDS) == 5


def test_seed_fields_are_read() -> None:
    by_name = {p.stem: load(yaml.safe_load(p.read_text())) for p in SEEDS}
    canary = by_name["rollout-myapp-rollout"].canary
    assert canary is not None and canary.steps is not None
    assert [s.kinds() for s in canary.steps][:2] == [["setWeight"], ["pause"]]
    assert canary.steps[1].pause is not None and canary.steps[1].pause.seconds() == 120
    assert canary.traffic_routing == {
        "istio": {"virtualService": {"name": "myapp-vs", "routes": ["primary"]}}
    }
    assert (canary.canary_service, canary.stable_service) == ("myapp-canary", "myapp-stable")
    bg = by_name["rollout-myapp-bluegreen"].blue_green
    assert bg is not None and bg.auto_promotion_enabled is False
    assert bg.scale_down_delay() == 30
    assert bg.pre_promotion_analysis and bg.pre_promotion_analysis.templates
    assert bg.pre_promotion_analysis.templates[0].template_name == "success-rate"
    background = by_name["rollout-myapp-rollout-analysis"].canary
    assert background and background.analysis and background.analysis.starting_step == 2
    assert by_name["rollout-app-rollout"].spec.desired_replicas == 10


def test_argo_defaults() -> None:
    r = load(rollout({"canary": {}}))
    assert r.spec.desired_replicas == 1
    assert r.spec.history_limit == 10
    assert r.spec.progress_deadline.total_seconds() == 600
    assert r.spec.progress_deadline_abort is False
    assert r.canary is not None
    assert r.canary.abort_scale_down_delay() == 30
    assert r.canary.scale_down_delay() == 30
    zero = load(rollout({"canary": {"abortScaleDownDelaySeconds": 0}}))
    assert zero.canary is not None and zero.canary.abort_scale_down_delay() is None  # stays up
    bg = load(rollout({"blueGreen": {"activeService": "web"}})).blue_green
    assert bg is not None and bg.auto_promotion_enabled and not bg.needs_controller_pause()
    assert load(
        rollout({"blueGreen": {"activeService": "web", "autoPromotionSeconds": 30}})
    ).blue_green.needs_controller_pause()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("duration", "seconds"), [("30s", 30), ("1m", 60), ("1h", 3600), (45, 45), ("20", 20)]
)
def test_pause_durations(duration: str | int, seconds: float) -> None:
    r = load(rollout({"canary": {"steps": [{"pause": {"duration": duration}}]}}))
    assert r.canary and r.canary.steps and r.canary.steps[0].pause
    assert r.canary.steps[0].pause.seconds() == seconds


def test_pause_without_duration_waits_for_a_person() -> None:
    r = load(rollout({"canary": {"steps": [{"pause": {}}]}}))
    assert r.canary and r.canary.steps and r.canary.steps[0].pause
    assert r.canary.steps[0].pause.seconds() is None


def test_experiment_step_is_kept_with_a_warning() -> None:
    loaded = rollout_from_dict(rollout({"canary": {"steps": [{"experiment": {"templates": []}}]}}))
    assert loaded.warnings == (
        "spec.strategy.canary.steps[0].experiment: experiment steps are not supported by"
        " Conveyor: skipped",
    )


def test_unknown_and_unsupported_fields_are_kept_with_warnings() -> None:
    obj = rollout({"canary": {"canaryMetadata": {"labels": {"role": "canary"}}, "stepz": []}})
    loaded = rollout_from_dict(obj)
    assert loaded.warnings == (
        "spec.strategy.canary.canaryMetadata: not supported by Conveyor yet (ephemeral Pod"
        " metadata is not injected), kept as is",
        "spec.strategy.canary.stepz: unknown field, kept as is (did you mean steps?)",
    )
    assert loaded.value.to_manifest() == obj


@pytest.mark.parametrize(
    ("strategy", "problem"),
    [
        (
            {"canary": {"steps": [{"setWeight": 120}]}},
            "setWeight: Input should be less than or equal to 100",
        ),
        ({"canary": {"steps": [{"setWeight": 10, "pause": {}}]}}, "not setWeight and pause"),
        ({"canary": {"steps": [{"pause": {"duration": "5x"}}]}}, "is not a duration"),
        ({"blueGreen": {}}, "activeService: field required"),
        ({"canary": {"abortScaleDownDelaySeconds": -1}}, "must be at least 0"),
    ],
)
def test_invalid_fields_are_refused_by_name(strategy: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError) as info:
        rollout_from_dict(rollout(strategy))
    assert problem in "\n".join(info.value.problems)


def test_spec_problems_are_reported_when_the_rollout_runs() -> None:
    assert load(rollout({"canary": {}})).spec_problem() is None
    both = load(rollout({"canary": {}, "blueGreen": {"activeService": "a"}}))
    assert "'.spec.strategy.canary or .spec.strategy.blueGreen'" in (both.spec_problem() or "")
    scale = load(rollout({"canary": {"steps": [{"setCanaryScale": {"replicas": 1}}]}}))
    assert "SetCanaryScale requires TrafficRouting to be set" in (scale.spec_problem() or "")
    no_strategy = rollout({})
    del no_strategy["spec"]["strategy"]
    assert "'.spec.strategy.canary or" in (load(no_strategy).spec_problem() or "")
    routed = load(rollout({"canary": {"trafficRouting": {"nginx": {}}}}))
    assert "Canary service and Stable service must to be set to use Traffic Routing" in (
        routed.spec_problem() or ""
    )
    subsets = load(rollout({"canary": {"trafficRouting": {"istio": {"destinationRule": {}}}}}))
    assert subsets.spec_problem() is None
    no_selector = rollout({"canary": {}})
    del no_selector["spec"]["selector"]
    assert "'.spec.selector'" in (load(no_selector).spec_problem() or "")


def test_abort_delay_without_traffic_routing_is_warned() -> None:
    loaded = rollout_from_dict(rollout({"canary": {"abortScaleDownDelaySeconds": 10}}))
    assert loaded.warnings == (
        "spec.strategy.canary.abortScaleDownDelaySeconds: applies with trafficRouting only: a"
        " canary without it scales down at once on abort",
    )
