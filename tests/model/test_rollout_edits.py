"""Set image and undo as patches of a Rollout: what ``kubectl argo rollouts set image|undo``
send, and when there is nothing to do."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.model.merge import merge_patch
from conveyor.model.rollout_actions import ActionRefused
from conveyor.model.rollout_edits import set_image, undo

HASH = "rollouts-pod-template-hash"


def rollout(*images: str, init: str | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    }
    if init:
        pod["initContainers"] = [{"name": "setup", "image": init}]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod}},
    }


def replicaset(revision: int, image: str) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {"annotations": {"rollout.argoproj.io/revision": str(revision)}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", HASH: f"h{revision}"}},
                "spec": {"containers": [{"name": "c0", "image": image}]},
            }
        },
    }


def images(obj: dict[str, Any]) -> list[str]:
    return [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]]


def test_set_image_changes_one_container_and_keeps_the_others() -> None:
    live = rollout("app:1", "sidecar:1")
    patch = set_image(live, "c0", "app:2")
    assert patch.status == {}
    assert images(merge_patch(live, patch.spec)) == ["app:2", "sidecar:1"]


def test_set_image_star_reaches_init_containers_too() -> None:
    live = rollout("app:1", init="setup:1")
    patched = merge_patch(live, set_image(live, "*", "all:9").spec)
    assert images(patched) == ["all:9"]
    assert patched["spec"]["template"]["spec"]["initContainers"][0]["image"] == "all:9"


def test_set_image_of_an_unknown_container_is_refused() -> None:
    with pytest.raises(ActionRefused, match="no container named 'nope'"):
        set_image(rollout("app:1"), "nope", "app:2")


def test_undo_goes_to_the_previous_revision_without_the_hash_label() -> None:
    live = rollout("app:3")
    sets = [replicaset(1, "app:1"), replicaset(3, "app:3"), replicaset(2, "app:2")]
    patched = merge_patch(live, undo(live, sets).spec)
    assert images(patched) == ["app:2"]
    assert patched["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert images(merge_patch(live, undo(live, sets, 1).spec)) == ["app:1"]


@pytest.mark.parametrize(
    ("sets", "revision", "message"),
    [
        ([], 0, "no earlier revision"),
        ([replicaset(1, "app:1")], 0, "no earlier revision"),
        ([replicaset(1, "app:1"), replicaset(2, "app:2")], 7, r"no revision 7 \(it has 1, 2\)"),
    ],
    ids=["none", "only-current", "unknown"],
)
def test_undo_refusals(sets: list[dict[str, Any]], revision: int, message: str) -> None:
    with pytest.raises(ActionRefused, match=message):
        undo(rollout("app:1"), sets, revision)
