"""securityContext fields the kubelet applies to the process: allowPrivilegeEscalation: false
starts it with no_new_privs, as a container runtime does; without it, nothing changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_kubelet_support import key_of, make_pod, python_container, running_kubelet

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="no_new_privs is Linux's"),
]

SHOW = "print(next(line for line in open('/proc/self/status') if line.startswith('NoNewPrivs')))"


async def test_allow_privilege_escalation_false_sets_no_new_privs(tmp_path: Path) -> None:
    locked = python_container("locked", SHOW, securityContext={"allowPrivilegeEscalation": False})
    plain = python_container("plain", SHOW)
    pod = make_pod("privs", [locked, plain], restartPolicy="Never")
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: s["phase"] == "Succeeded")
        shown = {
            name: [line async for line in kubelet.logs(key, container=name)]
            for name in ("locked", "plain")
        }
    assert shown["locked"][0].split() == ["NoNewPrivs:", "1"]
    with open("/proc/self/status") as status:
        own = next(line for line in status if line.startswith("NoNewPrivs"))
    assert shown["plain"][0].split() == own.split()  # inherited as it is, nothing added
