"""Normalization: server-set fields and runtime defaults are not differences."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conveyor.diff import diff_object, normalize, strip_server_fields
from conveyor.diff.quantity import same_quantity
from conveyor.model.merge import three_way_apply
from conveyor.model.quantity import parse_quantity
from conveyor.model.status import SyncStatus


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def test_live_deployment_with_server_fields_and_defaults_equals_its_manifest(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    before = copy.deepcopy(desired)
    nd, nl = normalize(desired, live)
    assert nd == nl
    assert "status" not in nl and "uid" not in nl["metadata"]
    assert desired == before  # nothing is changed in place
    assert diff_object(desired, live, namespace="prod").status is SyncStatus.SYNCED


def test_local_runtime_apply_result_equals_its_manifest(desired: dict[str, Any]) -> None:
    live = three_way_apply(None, desired)
    live["metadata"].update(uid="u", resourceVersion="7", generation=2, namespace="prod")
    live["status"] = {"replicas": 2}
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    assert diff_object(desired, live, namespace="prod").synced


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["spec"].__setitem__("replicas", 5),
        lambda o: containers(o)[0].__setitem__("image", "registry.local/web:other"),
        lambda o: containers(o)[0]["env"].pop(),
        lambda o: containers(o)[0]["args"].append("--debug"),
        lambda o: containers(o)[0]["resources"]["limits"].__setitem__("cpu", "2"),
        lambda o: o["metadata"]["labels"].pop("app.kubernetes.io/name"),
        lambda o: o["spec"]["template"]["spec"]["volumes"].clear(),
    ],
    ids=["replicas", "image", "env-removed", "args", "cpu", "label", "volumes"],
)
def test_real_changes_are_differences(
    desired: dict[str, Any], live: dict[str, Any], mutate: Any
) -> None:
    mutate(live)
    assert diff_object(desired, live, namespace="prod").status is SyncStatus.OUT_OF_SYNC


def test_list_order_of_keyed_items_does_not_matter(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    containers(live)[0]["env"].reverse()
    assert diff_object(desired, live, namespace="prod").synced


def test_extra_live_container_injected_by_the_runtime_is_ignored(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    containers(live).append({"name": "sidecar", "image": "proxy:1"})
    assert diff_object(desired, live, namespace="prod").synced


def test_field_removed_from_git_shows_through_last_applied(desired: dict[str, Any]) -> None:
    with_debug = copy.deepcopy(desired)
    containers(with_debug)[0]["env"].append({"name": "DEBUG", "value": "1"})
    with_debug["spec"]["paused"] = False
    live = three_way_apply(None, with_debug)  # applied earlier, with DEBUG
    result = diff_object(desired, live, namespace="prod")
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert "env[name=DEBUG]" in result.reason
    assert "(absent)" in result.reason


def test_empty_and_null_desired_values_equal_absent_live_ones() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "annotations": {}, "creationTimestamp": None},
        "spec": {"ports": [{"port": 80}], "externalIPs": [], "publishNotReadyAddresses": False},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n", "uid": "x"},
        "spec": {
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "clusterIP": "10.0.0.7",
            "type": "ClusterIP",
        },
    }
    nd, nl = normalize(desired, live)
    assert nd == nl
    assert "annotations" not in nd["metadata"]


def test_type_change_is_a_difference() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}
    assert not diff_object(desired, live).synced


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1", "1000m", True),
        (1, "1", True),
        ("0.5", "500m", True),
        ("1Gi", "1024Mi", True),
        ("0.5Gi", "512Mi", True),
        ("1G", "1000M", True),
        ("1e3", "1k", True),
        ("1", "2", False),
        ("1Gi", "1G", False),
        ("abc", "abc", False),
        (True, 1, False),
    ],
    ids=str,
)
def test_quantities(a: Any, b: Any, same: bool) -> None:
    assert same_quantity(a, b) is same


def test_quantity_equivalence_only_where_quantities_live() -> None:
    desired: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    live = copy.deepcopy(desired)
    live["data"]["a"] = "1000m"
    assert not diff_object(desired, live).synced
    assert parse_quantity("2Ki") == 2048


def test_strip_server_fields_keeps_user_annotations() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "uid": "u",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"a": 1}),
                "team": "x",
            },
        },
        "status": {},
    }
    assert strip_server_fields(obj) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"team": "x"}},
    }
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert strip_server_fields(plain) is plain
