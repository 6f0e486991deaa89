"""Traffic weights between ReplicaSets and what each served, through the real proxy.

Pods are small asyncio HTTP servers on 127.0.0.1 (``support.proxy_helpers``), each endpoint
tagged with its ReplicaSet as the runtime tags it from the Pod's pod-template-hash.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from conveyor.targets.local.network.stats import ServiceStats
from support.proxy_helpers import TIMEOUT, Client, MakeProxy, MakeUpstream, Upstream

pytestmark = pytest.mark.timeout(60)


async def _served(port: int, total: int, clients: int = 4, path: str = "/") -> Counter[str]:
    """Send ``total`` requests over ``clients`` keep-alive connections; bodies counted."""
    out: Counter[str] = Counter()

    async def run(n: int) -> None:
        client = await Client.connect(port)
        for _ in range(n):
            response = await client.request("GET", path)
            assert response.status == 200
            out[response.text.split("-")[0]] += 1
        client.close()

    await asyncio.gather(*(run(total // clients) for _ in range(clients)))
    return out


async def _pods(make_upstream: MakeUpstream) -> tuple[list[Upstream], list[Upstream]]:
    stable = [await make_upstream(f"stable-{i}") for i in range(2)]
    canary = [await make_upstream("canary-0")]
    return stable, canary


async def test_weights_split_requests_exactly(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary = await _pods(make_upstream)
    proxy = await make_proxy(*(p.of("s1") for p in stable), *(p.of("c2") for p in canary))
    for weight in (1, 10, 25, 50, 75, 99):
        proxy.set_weights({"s1": 100 - weight, "c2": weight})
        served = await _served(proxy.port, 1000)
        assert sum(served.values()) == 1000
        assert abs(served["canary"] / 10 - weight) <= 0.1, (weight, served)
    assert proxy.weights == {"s1": 1, "c2": 99}


async def test_new_weights_apply_from_the_next_request_on_the_same_connection(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary = await _pods(make_upstream)
    proxy = await make_proxy(*(p.of("s1") for p in stable), *(p.of("c2") for p in canary))
    client = await Client.connect(proxy.port)
    proxy.set_weights({"s1": 100, "c2": 0})
    assert {(await client.request()).text for _ in range(10)} == {"stable-0", "stable-1"}
    proxy.set_weights({"s1": 0, "c2": 100})
    assert (await client.request()).text == "canary-0"
    proxy.set_weights(None)  # back to every Pod alike
    assert Counter([(await client.request()).text for _ in range(9)]) == {
        "stable-0": 3, "stable-1": 3, "canary-0": 3,
    }  # fmt: skip


async def test_a_replicaset_without_ready_pods_gets_nothing_and_fails_nothing(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary = await _pods(make_upstream)
    proxy = await make_proxy(*(p.of("s1") for p in stable))  # no canary Pod is Ready yet
    proxy.set_weights({"s1": 90, "c2": 10})
    assert await _served(proxy.port, 200) == {"stable": 200}
    proxy.set_endpoints([*(p.of("s1") for p in stable), *(p.of("c2") for p in canary)])
    assert await _served(proxy.port, 200) == {"stable": 180, "canary": 20}
    proxy.set_endpoints([p.of("s1") for p in stable])  # and gone again
    assert await _served(proxy.port, 100) == {"stable": 100}


async def test_tcp_services_split_connections_by_weight(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary = await _pods(make_upstream)
    proxy = await make_proxy(
        *(p.of("s1") for p in stable), *(p.of("c2") for p in canary), protocol="tcp"
    )
    proxy.set_weights({"s1": 75, "c2": 25})
    served: Counter[str] = Counter()
    for _ in range(40):
        client = await Client.connect(proxy.port)
        texts = {(await client.request()).text.split("-")[0] for _ in range(2)}
        assert len(texts) == 1  # one connection, one Pod
        served.update(texts)
        client.close()
    assert served == {"stable": 30, "canary": 10}


async def test_each_replicaset_is_measured(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary = await _pods(make_upstream)
    stats = ServiceStats()
    proxy = await make_proxy(
        *(p.of("s1") for p in stable), *(p.of("c2") for p in canary), stats=stats
    )
    proxy.set_weights({"s1": 50, "c2": 50})
    client = await Client.connect(proxy.port)
    for path in ["/"] * 6 + ["/status/503"] * 2 + ["/status/404"] * 2 + ["/slow/30"] * 2:
        await client.request("GET", path)
    by_rs = stats.snapshot()
    assert set(by_rs) == {"s1", "c2"}
    for rs in by_rs.values():
        assert rs.requests_by_class() == {"1xx": 0, "2xx": 4, "3xx": 0, "4xx": 1, "5xx": 1}
        assert rs.request_count(60) == 6
        assert rs.success_rate(60) == pytest.approx(5 / 6)
        histogram = rs.histogram()
        assert histogram.count == 6
        slow = rs.latency_percentile(1.0, 60)
        assert slow is not None and 0.03 <= slow < TIMEOUT  # the /slow/30 request
        assert len(rs.latencies()) == 6


async def test_a_failed_endpoint_counts_against_its_replicaset(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    flaky = await make_upstream("flaky", answer_per_connection=1)
    stats = ServiceStats()
    proxy = await make_proxy(flaky.of("f1"), stats=stats)
    client = await Client.connect(proxy.port)
    assert (await client.request()).status == 200
    assert (await client.request("POST", "/echo", b"once")).status == 502  # not safe to retry
    assert stats.snapshot()["f1"].requests_by_class()["5xx"] == 1
