"""Conveyor's own providers in Argo's plugin form: ``conveyor/builtin`` (one ReplicaSet's
success rate, latency percentile or request count, as a one-element vector) and
``conveyor/judge`` (canary against stable, scored). The Service stats come through the
``ServiceStats`` seam; here they are numbers the test chooses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conveyor.analysis.providers import RunContext, default_providers, measure
from conveyor.clock import SystemClock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.loading import analysis_from_dict, analysis_problem
from conveyor.model.analysis.status import AnalysisPhase, Measurement
from support.service_stats import Stats, Traffic

CONTEXT = RunContext(namespace="shop", run_name="run")


def plugin_metric(name: str, config: dict[str, Any], **fields: Any) -> Metric:
    return Metric.model_validate({"name": "m", "provider": {"plugin": {name: config}}, **fields})


async def take(metric: Metric, stats: Stats | None) -> Measurement:
    return await measure(metric, default_providers(stats=stats), SystemClock(), CONTEXT)


def builtin(measure_: str, **config: Any) -> dict[str, Any]:
    return {"service": "web", "replicaSet": "web-7d9f8", "measure": measure_, **config}


@pytest.fixture
def stats() -> Stats:
    canary = Traffic(ok=95, errors=5, samples=[i / 1000 for i in range(1, 101)])
    return Stats({("shop", "web"): {"7d9f8": canary, "5c6b7": Traffic(ok=10)}})


async def test_success_rate_is_a_one_element_vector(stats: Stats) -> None:
    m = plugin_metric("conveyor/builtin", builtin("successRate", window="2m"),
                      successCondition="result[0] >= 0.95")  # fmt: skip
    result = await take(m, stats)
    assert (result.phase, result.value) == (AnalysisPhase.SUCCESSFUL, "[0.95]")
    assert stats.services[("shop", "web")]["7d9f8"].asked == [120.0]
    failing = plugin_metric("conveyor/builtin", builtin("successRate"),
                            successCondition="result[0] >= 0.99")  # fmt: skip
    assert (await take(failing, stats)).phase is AnalysisPhase.FAILED


async def test_latency_percentile_and_request_count(stats: Stats) -> None:
    p90 = plugin_metric("conveyor/builtin", builtin("latencyPercentile", percentile=90),
                        successCondition="result[0] < 0.5")  # fmt: skip
    result = await take(p90, stats)
    assert (result.phase, result.value) == (AnalysisPhase.SUCCESSFUL, "[0.09]")
    count = plugin_metric("conveyor/builtin", builtin("requestCount", replicaSet="7d9f8"),
                          successCondition="result[0] > 50")  # fmt: skip
    assert (await take(count, stats)).value == "[100]"


async def test_a_replicaset_without_traffic_gives_an_empty_vector(stats: Stats) -> None:
    m = plugin_metric("conveyor/builtin", builtin("successRate", replicaSet="web-absent"),
                      successCondition="result[0] >= 0.95")  # fmt: skip
    result = await take(m, stats)
    assert result.phase is AnalysisPhase.ERROR and result.value == "[]"
    count = plugin_metric("conveyor/builtin", builtin("requestCount", replicaSet="absent"),
                          successCondition="result[0] == 0")  # fmt: skip
    assert (await take(count, stats)).phase is AnalysisPhase.SUCCESSFUL


async def test_a_window_beyond_what_is_kept_is_an_error(stats: Stats) -> None:
    m = plugin_metric("conveyor/builtin", builtin("successRate", window="1h"),
                      successCondition="result[0] >= 0.95")  # fmt: skip
    result = await take(m, stats)
    assert result.phase is AnalysisPhase.ERROR and "900" in result.message


async def test_without_service_stats_the_plugins_error_saying_so() -> None:
    m = plugin_metric("conveyor/builtin", builtin("successRate"),
                      successCondition="result[0] >= 0.95")  # fmt: skip
    result = await take(m, None)
    assert result.phase is AnalysisPhase.ERROR and "Service stats" in result.message


async def test_an_unknown_plugin_errors() -> None:
    m = plugin_metric("acme/metrics", {"q": 1}, successCondition="result > 0")
    result = await take(m, None)
    assert result.message == "metric provider plugin acme/metrics is not available"


def judge_stats(canary_errors: int, canary_shift: float = 0.0) -> Stats:
    rng = np.random.default_rng(3)
    stable = Traffic(ok=1990, errors=10, samples=list(rng.normal(0.1, 0.01, 2000)))
    canary = Traffic(ok=2000 - canary_errors, errors=canary_errors,
                     samples=list(rng.normal(0.1 + canary_shift, 0.01, 2000)))  # fmt: skip
    return Stats({("shop", "web"): {"aaaaa": stable, "bbbbb": canary}})


JUDGE = {"service": "web", "canary": "web-bbbbb", "stable": "web-aaaaa",
         "thresholds": {"pass": 90, "marginal": 50}}  # fmt: skip


async def test_judge_scores_a_healthy_canary_successful() -> None:
    result = await take(plugin_metric("conveyor/judge", JUDGE), judge_stats(11))
    assert (result.phase, result.value) == (AnalysisPhase.SUCCESSFUL, "100")
    assert result.metadata is not None
    assert result.metadata["latency"].startswith("Pass")
    assert result.metadata["errors"].startswith("Pass: canary 11/2000, stable 10/2000")


async def test_judge_reads_the_score_against_the_thresholds() -> None:
    erroring = judge_stats(120)
    marginal = await take(plugin_metric("conveyor/judge", JUDGE), erroring)
    assert (marginal.phase, marginal.value) == (AnalysisPhase.INCONCLUSIVE, "50")
    strict = {**JUDGE, "thresholds": {"pass": 95, "marginal": 75}}
    assert (await take(plugin_metric("conveyor/judge", strict), erroring)).phase is (
        AnalysisPhase.FAILED
    )
    slow_and_erroring = judge_stats(120, canary_shift=0.03)
    failed = await take(plugin_metric("conveyor/judge", JUDGE), slow_and_erroring)
    assert (failed.phase, failed.value) == (AnalysisPhase.FAILED, "0")


async def test_judge_conditions_decide_when_given() -> None:
    m = plugin_metric("conveyor/judge", JUDGE, successCondition="result[0] >= 50")
    assert (await take(m, judge_stats(120))).phase is AnalysisPhase.SUCCESSFUL


async def test_judge_without_traffic_is_an_error() -> None:
    result = await take(plugin_metric("conveyor/judge", JUDGE), Stats({}))
    assert result.phase is AnalysisPhase.ERROR
    assert result.message == "no requests to compare in the last 1m: canary 0, stable 0"


def template(plugin: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": "t", "namespace": "shop"},
            "spec": {"metrics": [{"name": "m", "provider": {"plugin": plugin}}]}}  # fmt: skip


def test_conveyor_plugins_load_without_warnings_and_unknown_ones_warn() -> None:
    loaded = analysis_from_dict(template({"conveyor/builtin": builtin("successRate")}))
    assert not loaded.warnings
    assert not analysis_from_dict(template({"conveyor/judge": JUDGE})).warnings
    [warning] = analysis_from_dict(template({"acme/metrics": {}})).warnings
    assert "plugin acme/metrics is not available in Conveyor" in warning


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        ({"conveyor/builtin": builtin("p95")}, "'p95' is not one of successRate"),
        ({"conveyor/builtin": {"service": "web", "measure": "successRate"}}, "replicaSet"),
        ({"conveyor/builtin": builtin("successRate", window="soon")}, "duration"),
        ({"conveyor/builtin": builtin("latencyPercentile", percentile=120)}, "(0, 100]"),
        ({"conveyor/builtin": builtin("successRate", percentile=99)}, "latencyPercentile only"),
        ({"conveyor/judge": {**JUDGE, "thresholds": {"pass": 50, "marginal": 75}}},
         "thresholds.marginal (75) must be <= thresholds.pass (50)"),
        ({"conveyor/judge": {**JUDGE, "direction": "up"}}, "'up' is not one of increase"),
        ({"conveyor/judge": {**JUDGE, "confidence": 1.5}}, "confidence must be in [0.5, 1)"),
    ],
    ids=["measure", "no-replicaset", "window", "percentile-range", "percentile-misplaced",
         "thresholds-order", "direction", "confidence"],
)  # fmt: skip
def test_a_wrong_plugin_configuration_is_refused_when_applied(
    plugin: dict[str, Any], problem: str
) -> None:
    message = analysis_problem(template(plugin))
    assert message is not None and problem in message, message


def test_placeholders_are_accepted_until_the_run_resolves_them() -> None:
    config = builtin("latencyPercentile", replicaSet="{{args.canary-hash}}",
                     percentile="{{args.p}}", window="{{args.window}}")  # fmt: skip
    assert analysis_problem(template({"conveyor/builtin": config})) is None
