"""Per-ReplicaSet stats on an injected clock: windows, percentiles, the reservoir's bound."""

from __future__ import annotations

import math

import pytest

from conveyor.targets.local.network import stats as stats_module
from conveyor.targets.local.network.stats import ReplicaSetStats, ServiceStats


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_windows_count_only_their_last_seconds() -> None:
    clock = _Clock()
    rs = ReplicaSetStats("abc", clock)
    for i in range(100):  # 100 requests over 100 s, the last 10 of them 5xx
        rs.record(503 if i >= 90 else 200, 0.010, clock.now)
        clock.now += 1.0
    clock.now -= 1.0
    assert rs.request_count(10) == 10
    assert rs.success_rate(10) == 0.0
    assert rs.request_count(20) == 20
    assert rs.success_rate(20) == 0.5
    assert rs.window(100).by_class == {"1xx": 0, "2xx": 90, "3xx": 0, "4xx": 0, "5xx": 10}
    clock.now += 600
    assert rs.request_count(60) == 0
    assert rs.success_rate(60) is None
    assert rs.requests_by_class()["2xx"] == 90  # totals never expire


def test_window_longer_than_kept_is_refused() -> None:
    rs = ReplicaSetStats("abc")
    with pytest.raises(ValueError, match="window"):
        rs.window(stats_module.WINDOW_LIMIT + 1)


def test_latency_percentile_over_a_window() -> None:
    clock = _Clock()
    rs = ReplicaSetStats("abc", clock)
    for ms in range(1, 101):
        rs.record(200, ms / 1000, clock.now)
    clock.now += 30
    rs.record(200, 5.0, clock.now)  # only this one in the last 10 s
    assert rs.latency_percentile(0.5, 10) == 5.0
    assert rs.latency_percentile(0.99, 60) == pytest.approx(0.100)
    assert rs.latency_percentile(0.5, 60) == pytest.approx(0.051)
    assert ReplicaSetStats("empty").latency_percentile(0.5) is None


def test_histogram_is_cumulative_with_prometheus_buckets() -> None:
    rs = ReplicaSetStats("abc")
    for latency in (0.001, 0.004, 0.02, 0.3, 20.0):
        rs.record(200, latency, 0.0)
    histogram = rs.histogram()
    buckets = dict(histogram.buckets)
    assert buckets[0.005] == 2
    assert buckets[0.025] == 3
    assert buckets[0.5] == 4
    assert buckets[10.0] == 4
    assert buckets[math.inf] == histogram.count == 5
    assert histogram.sum == pytest.approx(20.325)


def test_reservoir_keeps_only_the_most_recent() -> None:
    rs = ReplicaSetStats("abc")
    for i in range(stats_module.RESERVOIR + 10):
        rs.record(200, float(i), 0.0)
    kept = rs.latencies()
    assert len(kept) == stats_module.RESERVOIR
    assert kept[0] == 10.0 and kept[-1] == float(stats_module.RESERVOIR + 9)


def test_service_stats_are_split_by_replicaset() -> None:
    service = ServiceStats()
    service.record("a", 200, 0.01, 0.0)
    service.record("b", 500, 0.01, 0.0)
    service.record("a", 301, 0.01, 0.0)
    snapshot = service.snapshot()
    assert snapshot["a"].requests_by_class()["2xx"] == 1
    assert snapshot["a"].requests_by_class()["3xx"] == 1
    assert snapshot["b"].requests_by_class()["5xx"] == 1
