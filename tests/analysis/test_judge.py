"""The canary judge's statistics against known distributions: Mann-Whitney U with the
Hodges-Lehmann shift and its interval, Fisher's exact test on error counts, Kayenta's score
and thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from conveyor.analysis.judge import (
    Classification,
    MetricJudgment,
    Sample,
    Verdict,
    classify_score,
    compare_errors,
    compare_latency,
    hodges_lehmann,
    judge,
    score,
)
from conveyor.model.analysis.plugins import Direction


def normal(mean: float, sd: float, n: int, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, sd, n))


def test_hodges_lehmann_matches_the_pairwise_differences() -> None:
    rng = np.random.default_rng(7)
    x = np.sort(rng.exponential(0.05, 40) + 0.01)
    y = np.sort(rng.exponential(0.05, 31))
    diffs = np.sort(np.array([a - b for a, b in itertools.product(x, y)]))
    estimate, lower, upper = hodges_lehmann(x, y, 0.95)
    assert estimate == pytest.approx(float(np.median(diffs)), abs=1e-12)
    z = stats.norm.ppf(0.975)
    k = int(np.floor(len(diffs) / 2 - z * np.sqrt(40 * 31 * (40 + 31 + 1) / 12)))
    assert lower == pytest.approx(float(diffs[k - 1]), abs=1e-12)
    assert upper == pytest.approx(float(diffs[len(diffs) - k]), abs=1e-12)
    assert lower < estimate < upper


def test_the_same_distribution_passes() -> None:
    result = compare_latency(normal(0.100, 0.01, 2000, 1), normal(0.100, 0.01, 2000, 2))
    assert result.classification is Classification.PASS
    assert result.lower is not None and result.upper is not None
    assert result.lower < 0 < result.upper  # the interval holds no shift


def test_a_slower_canary_is_high_and_its_shift_is_estimated() -> None:
    result = compare_latency(normal(0.120, 0.01, 2000, 3), normal(0.100, 0.01, 2000, 4))
    assert result.classification is Classification.HIGH
    assert result.estimate == pytest.approx(0.020, abs=0.002)
    assert result.p_value is not None and result.p_value < 1e-10


def test_a_faster_canary_is_low_only_when_decreases_count() -> None:
    fast, usual = normal(0.080, 0.01, 2000, 5), normal(0.100, 0.01, 2000, 6)
    assert compare_latency(fast, usual).classification is Classification.PASS  # increase
    either = compare_latency(fast, usual, direction=Direction.EITHER)
    assert either.classification is Classification.LOW
    decrease = compare_latency(fast, usual, direction=Direction.DECREASE)
    assert decrease.classification is Classification.LOW


def test_a_tiny_sample_cannot_condemn_a_canary() -> None:
    result = compare_latency([0.3, 0.31], [0.1, 0.11])
    assert result.classification is Classification.PASS


def test_latency_without_data_on_a_side_is_nodata() -> None:
    assert compare_latency([], [0.1]).classification is Classification.NODATA
    assert compare_latency([0.1], []).classification is Classification.NODATA


def test_identical_latencies_pass() -> None:
    assert compare_latency([0.1] * 50, [0.1] * 80).classification is Classification.PASS


@pytest.mark.parametrize(
    ("canary", "stable", "expected"),
    [
        ((50, 1000), (5, 1000), Classification.HIGH),
        ((6, 1000), (5, 1000), Classification.PASS),
        ((0, 1000), (0, 1000), Classification.PASS),
        ((0, 1000), (40, 1000), Classification.PASS),  # fewer errors: not a regression
        ((3, 10), (0, 10), Classification.PASS),  # too few requests to be sure
    ],
    ids=["ten-times-more", "about-the-same", "none", "fewer", "small-sample"],
)
def test_errors_by_fishers_exact_test(
    canary: tuple[int, int], stable: tuple[int, int], expected: Classification
) -> None:
    result = compare_errors(Sample((), *canary), Sample((), *stable))
    assert result.classification is expected


def test_fisher_p_value_is_scipys() -> None:
    result = compare_errors(Sample((), 12, 400), Sample((), 3, 500))
    expected = stats.fisher_exact([[12, 388], [3, 497]], alternative="greater").pvalue
    assert result.p_value == pytest.approx(expected)


def test_fewer_errors_are_low_when_either_direction_counts() -> None:
    result = compare_errors(Sample((), 0, 1000), Sample((), 40, 1000), direction=Direction.EITHER)
    assert result.classification is Classification.LOW


def test_errors_without_requests_are_nodata() -> None:
    assert compare_errors(Sample((), 0, 0), Sample((), 1, 10)).classification is (
        Classification.NODATA
    )


def judged(*labels: Classification) -> list[MetricJudgment]:
    return [MetricJudgment(f"m{i}", c) for i, c in enumerate(labels)]


def test_score_is_the_share_of_passing_metrics_with_data() -> None:
    p, h, n = Classification.PASS, Classification.HIGH, Classification.NODATA
    assert score(judged(p, p)) == 100
    assert score(judged(p, h)) == 50
    assert score(judged(p, n)) == 100  # Nodata does not count
    assert score(judged(n, n)) == 0


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(100, Verdict.PASS), (95, Verdict.PASS), (94.9, Verdict.MARGINAL), (75, Verdict.MARGINAL),
     (74.9, Verdict.FAIL), (0, Verdict.FAIL)],
)  # fmt: skip
def test_thresholds_as_kayenta_reads_them(value: float, verdict: Verdict) -> None:
    assert classify_score(value, 95, 75) is verdict


def test_a_healthy_canary_scores_100_and_a_failing_one_fails() -> None:
    stable = Sample(normal(0.1, 0.01, 1500, 8), 3, 1500)
    good = judge(Sample(normal(0.1, 0.01, 1500, 9), 4, 1500), stable)
    assert (good.score, good.verdict) == (100, Verdict.PASS)
    bad = judge(Sample(normal(0.1, 0.01, 1500, 10), 90, 1500), stable)
    assert (bad.score, bad.verdict) == (50, Verdict.FAIL)
    [latency, errors] = bad.metrics
    assert latency.classification is Classification.PASS
    assert errors.classification is Classification.HIGH
    marginal = judge(Sample(normal(0.1, 0.01, 1500, 11), 90, 1500), stable, marginal_threshold=50)
    assert marginal.verdict is Verdict.MARGINAL


def test_a_judgment_without_data_says_so() -> None:
    result = judge(Sample((), 0, 0), Sample([0.1], 0, 1))
    assert not result.has_data and result.score == 0
