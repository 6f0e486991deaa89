"""AnalysisRuns built from a Rollout's request and its templates (NewAnalysisRunFromTemplates)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.targets.local.controllers.rollout_runs import (
    AnalysisRunBuildError,
    build_analysis_run,
)
from conveyor.targets.local.controllers.rollout_types import AnalysisRunRequest

OWNER = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "shop",
         "uid": "u1", "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def template(name: str, *metrics: str, args: list[dict[str, Any]] | None = None) -> Any:
    spec: dict[str, Any] = {
        "metrics": [
            {"name": m, "provider": {"prometheus": {"query": "{{args.service}}"}}} for m in metrics
        ]
    }
    if args is not None:
        spec["args"] = args
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


def request(*refs: dict[str, Any], args: tuple[dict[str, Any], ...] = ()) -> AnalysisRunRequest:
    return AnalysisRunRequest(
        name="shop-abc-2-1",
        namespace="demo",
        run_type="Step",
        templates=refs,
        args=args,
        labels={"rollout-type": "Step"},
        annotations={"rollout.argoproj.io/revision": "2"},
        owner_reference=OWNER,
        dry_run=({"metricName": "errors"},),
    )


def lookup_in(*templates: Any, cluster: tuple[Any, ...] = ()) -> Any:
    def lookup(name: str, cluster_scope: bool) -> Any:
        pool = cluster if cluster_scope else templates
        return next((t for t in pool if t["metadata"]["name"] == name), None)

    return lookup


def test_templates_merge_into_one_run_with_the_rollouts_args_winning() -> None:
    rate = template("rate", "success", args=[{"name": "service"}, {"name": "limit", "value": "1"}])
    latency = template("latency", "p99", args=[{"name": "service"}])
    run = build_analysis_run(
        request(
            {"templateName": "rate"},
            {"templateName": "latency", "clusterScope": True},
            args=({"name": "service", "value": "shop"}, {"name": "limit", "value": "5"}),
        ),
        lookup_in(rate, cluster=(latency,)),
    )
    assert run["metadata"] == {
        "name": "shop-abc-2-1",
        "namespace": "demo",
        "labels": {"rollout-type": "Step"},
        "annotations": {"rollout.argoproj.io/revision": "2"},
        "ownerReferences": [OWNER],
    }
    assert [m["name"] for m in run["spec"]["metrics"]] == ["success", "p99"]
    assert run["spec"]["args"] == [
        {"name": "service", "value": "shop"},
        {"name": "limit", "value": "5"},
    ]
    assert run["spec"]["dryRun"] == [{"metricName": "errors"}]


def test_a_missing_template_names_its_kind() -> None:
    with pytest.raises(AnalysisRunBuildError, match="ClusterAnalysisTemplate 'gone' not found"):
        build_analysis_run(request({"templateName": "gone", "clusterScope": True}), lookup_in())


def test_an_argument_without_a_value_is_an_error_naming_it() -> None:
    rate = template("rate", "success", args=[{"name": "service"}])
    with pytest.raises(AnalysisRunBuildError, match=r"args\.service was not resolved"):
        build_analysis_run(request({"templateName": "rate"}), lookup_in(rate))


def test_a_secret_argument_stays_a_reference() -> None:
    source = {"secretKeyRef": {"name": "creds", "key": "token"}}
    rate = template("rate", "success", args=[{"name": "service", "valueFrom": source}])
    run = build_analysis_run(request({"templateName": "rate"}), lookup_in(rate))
    assert run["spec"]["args"] == [{"name": "service", "valueFrom": source}]


def test_the_same_metric_in_two_templates_is_refused() -> None:
    one, two = template("one", "success"), template("two", "success")
    with pytest.raises(AnalysisRunBuildError, match="same name 'success'"):
        build_analysis_run(
            request({"templateName": "one"}, {"templateName": "two"}), lookup_in(one, two)
        )


# -- nested templates (spec.templates, Argo Rollouts v1.7+) ----------------------------------


def nesting(obj: Any, *refs: dict[str, Any]) -> Any:
    obj["spec"]["templates"] = list(refs)
    return obj


def test_nested_templates_are_followed_depth_first_each_once() -> None:
    # gate -> (rate -> latency, cluster errors -> latency): latency counts once
    gate = nesting(
        template("gate", "smoke"), {"templateName": "rate"},
        {"templateName": "errors", "clusterScope": True},
    )  # fmt: skip
    rate = nesting(template("rate", "success", args=[{"name": "service"}]),
                   {"templateName": "latency"})  # fmt: skip
    latency = template("latency", "p99", args=[{"name": "service"}])
    errors = nesting(template("errors", "5xx"), {"templateName": "latency"})
    errors["kind"] = "ClusterAnalysisTemplate"
    run = build_analysis_run(
        request({"templateName": "gate"}, args=({"name": "service", "value": "shop"},)),
        lookup_in(gate, rate, latency, cluster=(errors,)),
    )
    assert [m["name"] for m in run["spec"]["metrics"]] == ["smoke", "success", "p99", "5xx"]
    assert run["spec"]["args"] == [{"name": "service", "value": "shop"}]
    assert "templates" not in run["spec"]


def test_a_template_of_nested_templates_only_makes_a_run() -> None:
    suite = nesting(
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
         "metadata": {"name": "suite"}, "spec": {}},
        {"templateName": "rate"},
    )  # fmt: skip
    run = build_analysis_run(
        request({"templateName": "suite"}, args=({"name": "service", "value": "shop"},)),
        lookup_in(suite, template("rate", "success", args=[{"name": "service"}])),
    )
    assert [m["name"] for m in run["spec"]["metrics"]] == ["success"]


def test_a_missing_nested_template_names_who_referenced_it() -> None:
    gate = nesting(template("gate", "smoke"), {"templateName": "gone", "clusterScope": True})
    with pytest.raises(
        AnalysisRunBuildError,
        match=r"ClusterAnalysisTemplate 'gone' not found \(referenced by AnalysisTemplate 'gate'\)",
    ):
        build_analysis_run(request({"templateName": "gate"}), lookup_in(gate))


def test_a_loop_of_nested_templates_is_an_error_showing_it() -> None:
    a = nesting(template("a", "one"), {"templateName": "b"})
    b = nesting(template("b", "two"), {"templateName": "a"})
    loop = "AnalysisTemplate 'a' references itself: AnalysisTemplate 'a' -> AnalysisTemplate 'b'"
    with pytest.raises(AnalysisRunBuildError, match=f"^{loop} -> AnalysisTemplate 'a'$"):
        build_analysis_run(request({"templateName": "a"}), lookup_in(a, b))
