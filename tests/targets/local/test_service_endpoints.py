"""Which ReplicaSet a Pod's endpoint belongs to, as a Service sees it."""

from __future__ import annotations

import pytest

from conveyor.targets.local.network.services import replicaset_of


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
