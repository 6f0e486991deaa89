"""The balancer alone, deterministically: exact ReplicaSet weights, round robin inside one."""

from __future__ import annotations

from collections import Counter

import pytest

from conveyor.targets.local.network.balancer import Balancer
from conveyor.targets.local.network.endpoints import Endpoint, Peer


def _endpoints(group: str, count: int, first_port: int) -> list[Endpoint]:
    return [
        Endpoint("127.0.0.1", first_port + i, name=f"{group}-{i}", replicaset=group)
        for i in range(count)
    ]


def _picks(balancer: Balancer, n: int, exclude: set[Peer] | None = None) -> list[Endpoint]:
    out = []
    for _ in range(n):
        peer = balancer.pick(exclude)
        assert peer is not None
        out.append(peer.endpoint)
    return out


@pytest.mark.parametrize("canary", [1, 10, 25, 50, 75, 99])
def test_ten_thousand_picks_split_exactly_by_weight(canary: int) -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 3, 1000) + _endpoints("canary", 2, 2000))
    balancer.set_weights({"stable": 100 - canary, "canary": canary})
    served = Counter(ep.replicaset for ep in _picks(balancer, 10_000))
    share = served["canary"] / 10_000 * 100
    assert abs(share - canary) <= 0.1
    assert served["canary"] + served["stable"] == 10_000


def test_inside_a_group_endpoints_take_turns() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 3, 1000) + _endpoints("canary", 2, 2000))
    balancer.set_weights({"stable": 50, "canary": 50})
    served = Counter(ep.name for ep in _picks(balancer, 600))
    assert served == {"stable-0": 100, "stable-1": 100, "stable-2": 100, "canary-0": 150,
                      "canary-1": 150}  # fmt: skip


def test_weights_are_interleaved_not_bunched() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 1, 1000) + _endpoints("canary", 1, 2000))
    balancer.set_weights({"stable": 3, "canary": 1})
    assert [ep.replicaset for ep in _picks(balancer, 8)] == [
        "stable", "stable", "canary", "stable", "stable", "stable", "canary", "stable",
    ]  # fmt: skip


def test_without_weights_every_endpoint_alike() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("a", 1, 1000) + _endpoints("b", 3, 2000))
    served = Counter(ep.replicaset for ep in _picks(balancer, 400))
    assert served == {"a": 100, "b": 300}


def test_new_weights_take_effect_on_the_next_pick() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 2, 1000) + _endpoints("canary", 1, 2000))
    balancer.set_weights({"stable": 100, "canary": 0})
    assert {ep.replicaset for ep in _picks(balancer, 50)} == {"stable"}
    balancer.set_weights({"stable": 0, "canary": 100})
    assert {ep.replicaset for ep in _picks(balancer, 50)} == {"canary"}
    balancer.set_weights({"stable": 80, "canary": 20})
    assert Counter(ep.replicaset for ep in _picks(balancer, 100)) == {"stable": 80, "canary": 20}
    balancer.set_weights(None)
    assert Counter(ep.replicaset for ep in _picks(balancer, 300)) == {"stable": 200, "canary": 100}


def test_a_group_without_ready_endpoints_gets_nothing_and_fails_nothing() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 2, 1000))  # the canary has no Ready Pod yet
    balancer.set_weights({"stable": 90, "canary": 10})
    assert Counter(ep.replicaset for ep in _picks(balancer, 100)) == {"stable": 100}
    balancer.replace(_endpoints("stable", 2, 1000) + _endpoints("canary", 1, 2000))
    assert Counter(ep.replicaset for ep in _picks(balancer, 100)) == {"stable": 90, "canary": 10}


def test_unweighted_groups_serve_when_no_weighted_one_can() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 1, 1000))
    balancer.set_weights({"canary": 100})  # the canary's Pods are all gone
    assert {ep.replicaset for ep in _picks(balancer, 10)} == {"stable"}


def test_endpoint_changes_keep_the_exact_sequence_going() -> None:
    balancer = Balancer()
    stable = _endpoints("stable", 2, 1000)
    canary = _endpoints("canary", 1, 2000)
    balancer.replace(stable + canary)
    balancer.set_weights({"stable": 75, "canary": 25})
    served: Counter[str] = Counter()
    for i in range(100):  # Pods of the stable ReplicaSet come and go every 37 picks
        if i % 37 == 0:
            balancer.replace((stable if i % 2 else stable[:1]) + canary)
        served.update(ep.replicaset for ep in _picks(balancer, 100))
    assert served == {"stable": 7500, "canary": 2500}


def test_excluded_and_down_endpoints_are_skipped() -> None:
    balancer = Balancer()
    balancer.replace(_endpoints("stable", 2, 1000) + _endpoints("canary", 1, 2000))
    balancer.set_weights({"stable": 50, "canary": 50})
    canary = next(p for p in balancer.peers if p.endpoint.replicaset == "canary")
    assert {ep.replicaset for ep in _picks(balancer, 20, exclude={canary})} == {"stable"}
    canary.mark_down(60.0)
    assert {ep.replicaset for ep in _picks(balancer, 20)} == {"stable"}
    for peer in balancer.peers:
        peer.mark_down(60.0)
    assert len(_picks(balancer, 3)) == 3  # all down: still tried, as a last resort


@pytest.mark.parametrize("weight", [-1, 1.5, True, "10"], ids=["negative", "float", "bool", "str"])
def test_invalid_weights_are_refused(weight: object) -> None:
    balancer = Balancer()
    with pytest.raises(ValueError, match="must be an integer >= 0"):
        balancer.set_weights({"canary": weight})  # type: ignore[dict-item]
    assert balancer.weights is None
