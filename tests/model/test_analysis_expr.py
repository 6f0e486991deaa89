"""Analysis conditions: every condition from Argo Rollouts' docs and examples, evaluated as
Argo evaluates it, and everything outside the supported subset refused by name."""

from __future__ import annotations

import math
from typing import Any

import pytest

from conveyor.model.analysis.expr import (
    ExpressionError,
    check_condition,
    compile_condition,
    evaluate_result,
)
from conveyor.model.analysis.expr_eval import MAX_STEPS
from conveyor.model.analysis.expr_syntax import MAX_DEPTH, MAX_LENGTH
from conveyor.model.analysis.status import AnalysisPhase

S, F, INC, E = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
)

# (successCondition, failureCondition, result, phase): Argo's docs (features/analysis.md,
# analysis/*.md: prometheus, web, datadog, newrelic, cloudwatch, influxdb, wavefront,
# skywalking) and the seeds; the phases are the ones those pages show. graphite.md's
# ``results[0]`` names no variable Argo defines and is refused below.
DOC_CASES = [
    ("result[0] >= 0.95", None, [0.97], S),
    ("result[0] >= 0.95", None, [0.90], F),
    ("result[0] >= 0.99", None, [0.995], S),
    ("result >= 0.95", None, 0.96, S),
    ("result[0] <= 0.95", None, [0.2], S),
    ("result <= 0.95", None, 0.99, F),
    (None, "result[0] >= 10", [12.0], F),
    (None, "result[0] >= 10", [3.0], S),
    (None, "result >= 10", 3.0, S),
    ("result == 'true'", None, "true", S),
    ("result == true", None, True, S),
    ("result == true", None, False, F),
    ("result.ok && result.successPercent >= 0.90", None, {"ok": True, "successPercent": 0.95}, S),
    ("result.ok && result.successPercent >= 0.90", None, {"ok": True, "successPercent": 0.5}, F),
    ("result.successful == true", None, {"successful": True}, S),
    ("result[0] >= 0.90", "result[0] < 0.50", [0.7], INC),
    ("result[0] >= 0.90", "result[0] < 0.50", [0.3], F),
    # NaN and infinity (features/analysis.md, "Handling Metric Results")
    ("isNaN(result) || result >= 0.95", None, math.nan, S),
    ("result >= 0.95", "result < 0.95", math.nan, INC),
    ("result >= 0.95", None, math.nan, F),
    ("result >= 0.95", None, math.inf, S),
    (None, "isInf(result)", math.inf, F),
    # empty Prometheus vector
    ("len(result) == 0 || result[0] >= 0.95", None, [], S),
    ("len(result) > 0 && result[0] >= 0.95", None, [], F),
    ("len(result) == 0 || result[0] < 0.05", None, [0.01], S),
    # Datadog: nil results and grouped results
    ("default(result, 0) < 0.05", None, None, S),
    ("default(result, 0) < 10", None, 12, F),
    ("default(result, 0) < 5", None, 2.5, S),
    (None, "default(result, 0) > 4", 6, F),
    ("max(result) < 0.05", None, [0.01, 0.04], S),
    ("max(result) < 0.05", None, [0.01, 0.2], F),
    ("all(result, # < 0.05)", None, [0.01, 0.02], S),
    ("any(result, # >= 0.05)", None, [0.01, 0.2], S),
    ("mean(result) < 0.05", None, [0.01, 0.03], S),
    ("sum(result) < 0.05", None, [0.03, 0.03], F),
    # CloudWatch, New Relic, InfluxDB, web with asInt/asFloat
    ("all(result[0].Values, {# <= 0.01})", None, [{"Values": [0.001, 0.01]}], S),
    ("all(result, {# > 0.9})", None, [0.95, 0.5], F),
    ("result.successRate >= 0.95", None, {"successRate": 0.99}, S),
    (
        "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})",
        None,
        {"service_apdex": {"values": {"values": [{"value": "9950"}, {"value": "9999"}]}}},
        S,
    ),
    (
        "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})",
        None,
        {"service_apdex": {"values": {"values": [{"value": "9950"}, {"value": "9000"}]}}},
        F,
    ),
    ("result['average.duration'] < 200", None, {"average.duration": 150}, S),
    ("result[0] <= 0.01", None, [0.0], S),
    ("asFloat(result) >= 0.9", None, "0.95", S),
    (None, "asInt(result) != 1", "1", S),
    ('result == "ok"', None, "ok", S),
    ("isNil(result)", None, None, S),
]


@pytest.mark.parametrize(
    ("success", "failure", "result", "phase"),
    DOC_CASES,
    ids=[f"{s or ''}|{f or ''}" for s, f, _, _ in DOC_CASES],
)
def test_doc_conditions(
    success: str | None, failure: str | None, result: Any, phase: AnalysisPhase
) -> None:
    for condition in (success, failure):
        assert condition is None or check_condition(condition) is None
    assert evaluate_result(result, success, failure) == (phase, "")


def test_no_condition_is_successful() -> None:
    assert evaluate_result([0.1], None, None) == (S, "")


@pytest.mark.parametrize(
    ("condition", "result", "message"),
    [
        ("result[0] >= 0.95", [], "index out of range"),
        ("result < 0.95", None, "mismatched types nil and float64"),
        ("result >= 0.95", "0.97", "mismatched types string and float64"),
        ("result[0]", [0.5], "expected bool, but got float64"),
        ("result && true", 1, "needs bool, got int"),
        ("asFloat(result) > 1", "abc", "'abc' is not a number"),
        ("result.values > 1", [1], "cannot fetch .values from array"),
    ],
    ids=["empty-vector", "nil", "string-vs-number", "not-bool", "and-on-number", "asfloat", "list"],
)
def test_evaluation_errors_give_error_phase(condition: str, result: Any, message: str) -> None:
    phase, error = evaluate_result(result, condition, None)
    assert phase is E
    assert message in error


def test_member_access_reads_data_only() -> None:
    # a dict method is never reachable: .values is the key 'values' or nil
    assert compile_condition("result.values == nil").holds({"a": 1})
    assert compile_condition("result.values == 3").holds({"values": 3})
    assert compile_condition("result.__class__ == nil").holds({})
    with pytest.raises(ExpressionError, match="cannot fetch"):
        compile_condition("result.__class__ == nil").holds("text")


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("1 + 2 * 3 == 7", None, True),
        ("(1 + 2) * 3 == 9", None, True),
        ("7 / 2 == 3.5", None, True),
        ("7 % 3 == 1", None, True),
        ("2 ** 3 ** 2 == 512", None, True),
        ("-2 ** 2 == -4", None, True),
        ("1 == 1.0", None, True),
        ("'a' + 'b' == 'ab'", None, True),
        ("!true == false", None, True),
        ("not (1 > 2)", None, True),
        ("true || 1 / 0 > 0", None, True),
        ("false and result[5] > 0", [], False),
        ("result > 1 ? result < 5 : false", 3, True),
        ("result ?? 4 == 4", None, True),
        ("result?.a?.b == nil", None, True),
        ("result[-1] == 3", [1, 2, 3], True),
        ("result[1:] == [2, 3]", [1, 2, 3], True),
        ("len(filter(result, {# > 1})) == 2", [1, 2, 3], True),
        ("map(result, {# * 2}) == [2, 4]", [1, 2], True),
        ("count(result, # > 1) == 2", [1, 2, 3], True),
        ("one(result, # == 2) && none(result, # > 5)", [1, 2, 3], True),
        ("all(result, {any(#, {# > 1})})", [[1, 2], [3]], True),
        ("2 in result && 9 not in result", [1, 2], True),
        ("'k' in result", {"k": 1}, True),
        ("result contains 'ell' && result startsWith 'h' && result endsWith 'o'", "hello", True),
        ("min(result) == 1 && max(3, 4) == 4 && abs(-2) == 2", [1, 2], True),
        ("asInt(result) == 2", 2.9, True),
        ("asInt(result) == 7", " 7 ", True),
        ("isNaN(1) == false", None, True),
        ("true == 1", None, False),
        ("1 / 0 > 1000", None, True),
        ("0x10 == 16 && 1_000 == 1000 && 1e3 == 1000 && .5 == 0.5", None, True),
        ("'a\\'b' == \"a'b\"", None, True),
    ],
)
def test_language(condition: str, result: Any, expected: bool) -> None:
    assert compile_condition(condition).holds(result) is expected


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ("result | len(#) > 0", "the pipe operator '|'"),
        ("result matches '^a'", "the 'matches' operator"),
        ("now() > 1", "the function 'now'"),
        ("upper(result) == 'A'", "the function 'upper'"),
        ("results[0] >= 90.000000", "unknown name 'results'"),
        ("env.HOME == ''", "unknown name 'env'"),
        ("result.values() == 1", "method calls"),
        ("{a: 1} == result", "map literals"),
        ("1..3 == result", "the range operator '..'"),
        ("let x = 1; x", "'let' variables"),
        ("# > 1", "'#' is only meaningful inside a predicate"),
        ("all(result, {#index > 1})", "'#index'"),
        ("`raw` == result", "raw strings"),
        ("len(result, 1) == 1", "len() takes 1 argument"),
        ("all(result) == true", "all() takes 2 arguments"),
        ("result >", "ends too early"),
        ("result > 1 1", "unexpected '1'"),
        ("'open", "not closed"),
        ("", "empty"),
    ],
)
def test_refused_constructs_are_named(condition: str, named: str) -> None:
    problem = check_condition(condition)
    assert problem is not None
    assert named in problem


def test_placeholders_are_checked_as_values() -> None:
    assert check_condition("default(result, 0) > {{ args.restarts.max-restarts }}") is None
    assert check_condition("result == '{{args.expected}}'") is None
    assert "the function 'now'" in (check_condition("now() > {{args.x}}") or "")


def test_size_and_depth_are_bounded() -> None:
    assert "longer than" in (check_condition("1 == " + "1" * MAX_LENGTH) or "")
    deep = "(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1)
    assert "nests deeper" in (check_condition(deep) or "")
    assert "too large" in (check_condition("1 + " * 600 + "1 > 0") or "")


def test_evaluation_steps_are_bounded() -> None:
    nested = "all(result, {all(result, {all(result, {# >= 0})})})"
    with pytest.raises(ExpressionError, match=f"more than {MAX_STEPS} steps"):
        compile_condition(nested).holds(list(range(200)))
