"""A Kayenta-like canary judge: canary against stable, by statistics, scored 0-100.

Spinnaker's default judge (NetflixACAJudge) classifies each metric of the canary against the
baseline as Pass, High or Low (or Nodata), scores the canary as the share of metrics that
Pass (x 100), and reads the score against two thresholds: at or above ``pass`` the canary
passes, at or above ``marginal`` it is marginal, below it fails. This module does the same
for the two things the local runtime's proxy measures per ReplicaSet:

- latency: Mann-Whitney U. The shift of canary against stable is the Hodges-Lehmann
  estimate (the median of all pairwise differences) with its distribution-free confidence
  interval at ``confidence`` (0.98, as NetflixACAJudge); as in Kayenta's classifier the
  metric is High when the whole interval lies above ``fraction`` (25 %) of the estimate,
  Low when it lies below minus that, and, here, only when the U test's p-value is below
  1 - confidence as well;
- errors: an exact test, Fisher's, on the 2 x 2 table of 5xx and other answers; High (Low)
  when the canary's odds of an error are greater (smaller) with p below 1 - confidence.

``direction`` says which change counts against the canary (increase by default: a faster
or less failing canary is not a regression). Everything is pure (numbers in, a value out), so
tests feed it known distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from conveyor.model.analysis.plugins import Direction

FRACTION = 0.25  # Kayenta's MannWhitneyClassifier: bounds at 25 % of the estimate
if TYPE_CHECKING:  # numpy is imported where a judgment runs: ~17 MB no engine should carry
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
Alternative = Literal["two-sided", "less", "greater"]
_ALTERNATIVE: dict[Direction, Alternative] = {
    Direction.INCREASE: "greater",  # the canary's values are the greater ones
    Direction.DECREASE: "less",
    Direction.EITHER: "two-sided",
}
_BISECTIONS = 100  # the value to within 2**-100 of the range: far below a float's digits


class Classification(StrEnum):
    """One metric of the canary against the stable (Kayenta's labels)."""

    PASS = "Pass"  # noqa: S105 (a label, not a password)
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"


class Verdict(StrEnum):
    """The score against the thresholds."""

    PASS = "Pass"  # noqa: S105
    MARGINAL = "Marginal"
    FAIL = "Fail"


@dataclass(frozen=True)
class Sample:
    """What one ReplicaSet served over the window: latencies (seconds) and answer counts."""

    latencies: Sequence[float]
    errors: int  # 5xx answers
    requests: int  # all answers


@dataclass(frozen=True)
class MetricJudgment:
    """One metric's classification and the numbers behind it."""

    name: str
    classification: Classification
    p_value: float | None = None
    estimate: float | None = None  # latency: the shift; errors: canary rate - stable rate
    lower: float | None = None  # latency: the confidence interval of the shift
    upper: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Judgment:
    """The canary's score (0-100), its verdict, and each metric's judgment."""

    score: float
    verdict: Verdict
    metrics: tuple[MetricJudgment, ...]

    @property
    def has_data(self) -> bool:
        """False when no metric had data on both sides."""
        return any(m.classification is not Classification.NODATA for m in self.metrics)


def judge(
    canary: Sample,
    stable: Sample,
    *,
    pass_threshold: float = 95.0,
    marginal_threshold: float = 75.0,
    confidence: float = 0.98,
    direction: Direction = Direction.INCREASE,
) -> Judgment:
    """Latency and errors of ``canary`` against ``stable``, scored and classified."""
    metrics = (
        compare_latency(canary.latencies, stable.latencies, confidence, direction),
        compare_errors(canary, stable, confidence, direction),
    )
    value = score(metrics)
    return Judgment(value, classify_score(value, pass_threshold, marginal_threshold), metrics)


def score(metrics: Sequence[MetricJudgment]) -> float:
    """Kayenta's group score: Pass metrics over metrics with data, x 100 (0 with none)."""
    judged = [m for m in metrics if m.classification is not Classification.NODATA]
    if not judged:
        return 0.0
    passed = sum(m.classification is Classification.PASS for m in judged)
    return 100.0 * passed / len(judged)


def classify_score(value: float, pass_threshold: float, marginal_threshold: float) -> Verdict:
    """Kayenta's ThresholdScoreClassifier: >= pass Pass, >= marginal Marginal, else Fail."""
    if value >= pass_threshold:
        return Verdict.PASS
    if value >= marginal_threshold:
        return Verdict.MARGINAL
    return Verdict.FAIL


# -- latency: Mann-Whitney U ----------------------------------------------------------------


def compare_latency(
    canary: Sequence[float],
    stable: Sequence[float],
    confidence: float = 0.98,
    direction: Direction = Direction.INCREASE,
) -> MetricJudgment:
    """Canary latencies against stable ones (see the module's docstring)."""
    import numpy as np

    x = np.sort(np.asarray([v for v in canary if math.isfinite(v)], dtype=float))
    y = np.sort(np.asarray([v for v in stable if math.isfinite(v)], dtype=float))
    if x.size == 0 or y.size == 0:
        return MetricJudgment("latency", Classification.NODATA, reason="no requests on one side")
    if np.array_equal(x, y) or np.unique(np.concatenate([x, y])).size == 1:
        return MetricJudgment("latency", Classification.PASS, 1.0, 0.0, 0.0, 0.0, "identical")
    from scipy import stats  # here, not at import: scipy.stats costs ~75 MB of memory

    p_value = float(stats.mannwhitneyu(x, y, alternative=_ALTERNATIVE[direction]).pvalue)
    estimate, lower, upper = hodges_lehmann(x, y, confidence)
    bound = FRACTION * abs(estimate)
    alpha = 1.0 - confidence
    significant = p_value < alpha
    classification = Classification.PASS
    if direction is not Direction.DECREASE and significant and lower > bound:
        classification = Classification.HIGH
    elif direction is not Direction.INCREASE and significant and upper < -bound:
        classification = Classification.LOW
    reason = (
        f"shift {estimate * 1000:+.3g} ms ({lower * 1000:+.3g} to {upper * 1000:+.3g} ms at"
        f" {confidence:.0%}), Mann-Whitney p={p_value:.3g}"
    )
    return MetricJudgment("latency", classification, p_value, estimate, lower, upper, reason)


def hodges_lehmann(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """The Hodges-Lehmann shift of sorted ``x`` against sorted ``y`` and its confidence
    interval (the order statistics of the n*m pairwise differences that the normal
    approximation of U's distribution gives), without building the n*m differences."""

    n, m = x.size, y.size
    total = n * m
    median = (
        _kth_difference(x, y, (total + 1) // 2)
        if total % 2
        else (_kth_difference(x, y, total // 2) + _kth_difference(x, y, total // 2 + 1)) / 2
    )
    from scipy import stats  # here, not at import: scipy.stats costs ~75 MB of memory

    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    k = math.floor(total / 2 - z * math.sqrt(total * (n + m + 1) / 12))
    if k < 1:
        return median, float(x[0] - y[-1]), float(x[-1] - y[0])
    return median, _kth_difference(x, y, k), _kth_difference(x, y, total + 1 - k)


def _kth_difference(x: Floats, y: Floats, k: int) -> float:
    """The k-th smallest (1-based) of all x_i - y_j, by bisection on the value: the count of
    differences <= d is a sum of binary searches, so memory stays O(n + m)."""
    import numpy as np

    lo, hi = float(x[0] - y[-1]), float(x[-1] - y[0])
    m = y.size

    def at_most(d: float) -> int:
        return int(np.sum(m - np.searchsorted(y, x - d, side="left")))

    for _ in range(_BISECTIONS):
        if at_most(lo) >= k:
            return lo
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if at_most(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


# -- errors: Fisher's exact test --------------------------------------------------------------


def compare_errors(
    canary: Sample,
    stable: Sample,
    confidence: float = 0.98,
    direction: Direction = Direction.INCREASE,
) -> MetricJudgment:
    """Canary 5xx answers against stable ones, by Fisher's exact test."""
    import numpy as np

    if canary.requests <= 0 or stable.requests <= 0:
        return MetricJudgment("errors", Classification.NODATA, reason="no requests on one side")
    c_rate = canary.errors / canary.requests
    s_rate = stable.errors / stable.requests
    counts = f"canary {canary.errors}/{canary.requests}, stable {stable.errors}/{stable.requests}"
    if canary.errors == 0 and stable.errors == 0:
        return MetricJudgment("errors", Classification.PASS, 1.0, 0.0, reason=counts)
    table = np.array(
        [
            [canary.errors, canary.requests - canary.errors],
            [stable.errors, stable.requests - stable.errors],
        ],
        dtype=np.int64,
    )
    from scipy import stats  # here, not at import: scipy.stats costs ~75 MB of memory

    p_value = float(stats.fisher_exact(table, alternative=_ALTERNATIVE[direction]).pvalue)
    classification = Classification.PASS
    if p_value < 1.0 - confidence:
        classification = Classification.HIGH if c_rate > s_rate else Classification.LOW
    reason = f"{counts}, Fisher p={p_value:.3g}"
    return MetricJudgment("errors", classification, p_value, c_rate - s_rate, reason=reason)
