"""/metrics exports what the Service proxies measured per ReplicaSet, in Prometheus' format."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conveyor.api.metrics import Metrics
from conveyor.targets.local.network.stats import ServiceStats


def test_requests_by_code_and_the_latency_histogram_per_replicaset() -> None:
    web = ServiceStats()
    for status, latency in ((200, 0.002), (200, 0.2), (503, 0.03)):
        web.record("abc123", status, latency, 0.0)
    web.record("def456", 200, 0.004, 0.0)
    metrics = Metrics()
    metrics.bind_service_traffic(
        lambda: [("shop", "web", rs) for _, rs in sorted(web.snapshot().items())]
    )
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["replicaset"], s.labels["code"]): s.value
        for s in families["conveyor_service_requests"].samples
        if s.labels["namespace"] == "shop" and s.labels["service"] == "web"
    }
    assert requests == {("abc123", "2xx"): 2.0, ("abc123", "5xx"): 1.0, ("def456", "2xx"): 1.0}
    samples = families["conveyor_service_request_duration_seconds"].samples
    buckets = {
        s.labels["le"]: s.value
        for s in samples
        if s.name.endswith("_bucket") and s.labels["replicaset"] == "abc123"
    }
    assert (buckets["0.005"], buckets["0.05"], buckets["0.25"], buckets["+Inf"]) == (1, 2, 3, 3)
    count = next(
        s.value for s in samples if s.name.endswith("_count") and s.labels["replicaset"] == "def456"
    )
    assert count == 1
