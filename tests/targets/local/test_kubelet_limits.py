"""resources.limits reach the process where the machine allows it, and say so in an event."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_kubelet_support import (
    container_state,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
)

from conveyor.targets.local.kubelet.limits import delegated_cgroup

ALLOCATE = "data = bytearray(1024 * 1024 * 1024); print('allocated', len(data))"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rlimits and cgroups are Linux")
async def test_memory_limit_stops_an_allocation_beyond_it(tmp_path: Path) -> None:
    container = python_container(
        "hog", ALLOCATE, resources={"limits": {"memory": "256Mi", "cpu": "1"}}
    )
    pod = make_pod("hog", [container], restartPolicy="Never")
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: s["phase"] == "Failed")
        output = [line async for line in kubelet.logs(key)]

    terminated = container_state(status)["terminated"]
    expected = "OOMKilled" if delegated_cgroup({"memory", "cpu"}) else "Error"
    assert terminated["reason"] == expected
    assert not any(line.startswith("allocated") for line in output)
    (message,) = [m for k, r, m, _ in rec.events if k == key and r == "ResourceLimits"]
    assert message.startswith("container hog: ")
    assert "memory limit 256Mi" in message


async def test_an_invalid_limit_is_a_config_error(tmp_path: Path) -> None:
    container = python_container("bad", "print(1)", resources={"limits": {"memory": "lots"}})
    pod = make_pod("bad", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(
            key,
            lambda s: (
                container_state(s).get("waiting", {}).get("reason") == "CreateContainerConfigError"
            ),
        )

    assert (
        "resources.limits: quantity 'lots' is not valid"
        in (container_state(status)["waiting"]["message"])
    )
