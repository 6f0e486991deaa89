"""The selector Argo Rollouts injects into a Service is the controller's, not a difference."""

from __future__ import annotations

import json
from typing import Any

from conveyor.diff import diff_object
from conveyor.model.merge import LAST_APPLIED
from conveyor.model.status import SyncStatus

HASH = "rollouts-pod-template-hash"


def svc(selector: dict[str, str], applied: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": {"selector": selector, "ports": [{"port": 80}]},
    }
    if applied is not None:
        obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(applied)}
    return obj


def test_injected_hash_is_synced_even_when_git_once_set_it() -> None:
    desired = svc({"app": "shop"})
    # an earlier revision in Git carried the hash (copied from a live object): without the
    # normalization the three-way diff would want it removed and self-heal would fight the
    # Rollout controller over it
    live = svc({"app": "shop", HASH: "6d4f8"}, applied=svc({"app": "shop", HASH: "old"}))
    assert diff_object(desired, live).status is SyncStatus.SYNCED
    assert diff_object(desired, svc({"app": "shop", HASH: "6d4f8"})).synced


def test_a_hash_git_asks_for_is_still_compared() -> None:
    desired = svc({"app": "shop", HASH: "abc"})
    result = diff_object(desired, svc({"app": "shop", HASH: "6d4f8"}))
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert HASH in result.reason


def test_other_selector_changes_still_show() -> None:
    result = diff_object(svc({"app": "shop"}), svc({"app": "other", HASH: "6d4f8"}))
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason == "spec.selector.app: other → shop"


def test_only_services_are_normalized() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
               "spec": {"selector": {"app": "shop"}}}  # fmt: skip
    live = {**desired, "spec": {"selector": {"app": "shop", HASH: "x"}}}
    live["metadata"] = {"name": "c", "annotations": {LAST_APPLIED: json.dumps(
        {**desired, "spec": {"selector": {"app": "shop", HASH: "x"}}})}}  # fmt: skip
    assert diff_object(desired, live).status is SyncStatus.OUT_OF_SYNC
