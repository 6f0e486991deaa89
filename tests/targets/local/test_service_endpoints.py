"""Which ReplicaSet a Pod's endpoint belongs to, and the weights a Service keeps for them."""

from __future__ import annotations

import pytest

from conveyor.clock import SystemClock
from conveyor.targets.local.events import EventRecorder
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.network.ports import PortAllocator
from conveyor.targets.local.network.services import ServiceManager, replicaset_of
from conveyor.targets.local.objects import ObjectStore


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"app": "web", "pod-template-hash": "5d8f7c"}, "5d8f7c"),
        ({"app": "web", "rollouts-pod-template-hash": "7b9c4d"}, "7b9c4d"),
        ({"rollouts-pod-template-hash": "7b9c4d", "pod-template-hash": "5d8f7c"}, "7b9c4d"),
        ({"app": "web"}, ""),
    ],
    ids=["deployment", "rollout", "rollout-label-first", "bare-pod"],
)
def test_replicaset_of_pod(labels: dict[str, str], expected: str) -> None:
    pod = {"metadata": {"name": "web-1", "labels": labels}}
    assert replicaset_of(pod) == expected


def _manager() -> ServiceManager:
    clock = SystemClock()
    journal = MemoryJournal()
    return ServiceManager(
        ObjectStore(clock, journal), PortAllocator(journal), lambda _k, _p: None,
        EventRecorder(clock),
    )  # fmt: skip


def test_weights_are_kept_per_service_before_any_port_listens() -> None:
    services = _manager()
    services.set_weights("shop", "web", {"5d8f7c": 90, "7b9c4d": 10})
    assert services.weights("shop", "web") == {"5d8f7c": 90, "7b9c4d": 10}
    assert services.weights("shop", "other") is None
    services.set_weights("shop", "web", None)
    assert services.weights("shop", "web") is None


def test_invalid_weights_are_refused_and_nothing_is_kept() -> None:
    services = _manager()
    with pytest.raises(ValueError, match="7b9c4d"):
        services.set_weights("shop", "web", {"5d8f7c": 90, "7b9c4d": -10})
    assert services.weights("shop", "web") is None
    assert services.stats("shop", "web") == {}
