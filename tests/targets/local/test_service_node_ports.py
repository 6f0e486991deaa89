"""A Service whose nodePort is out of range or taken is refused when it is applied, so its
sync fails with the reason (it used to Succeed and report Healthy while nothing listened)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.errors import ConflictError, ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.network.ports import NODE_PORT_RANGE, port_is_free
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import ApplyOptions

pytestmark = pytest.mark.processes  # the Services listen on 127.0.0.1


class NoImages:
    def resolve(self, image: str) -> None:
        return None


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[LocalTarget]:
    runtime = LocalRuntime(runtime_dir=tmp_path, journal=MemoryJournal(), images=NoImages())
    await runtime.start()
    try:
        yield LocalTarget(runtime)
    finally:
        await runtime.stop()


def service(name: str, node_port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "nodePort": node_port}]}}  # fmt: skip


def free_node_port() -> int:
    for port in range(NODE_PORT_RANGE.stop - 1, NODE_PORT_RANGE.start, -7):
        if port_is_free(port):
            return port
    raise AssertionError("no free port in the NodePort range")


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "apply"])
async def test_a_node_port_outside_the_range_is_refused(target: LocalTarget, dry_run: bool) -> None:
    with pytest.raises(ValidationError, match="nodePort 80 is outside the range 30000-32767"):
        await target.apply(service("web", 80), ApplyOptions(dry_run=dry_run))


async def test_a_node_port_another_service_holds_is_refused(target: LocalTarget) -> None:
    port = free_node_port()
    await target.apply(service("first", port))
    await target.runtime.settle()
    first = ObjectKey("", "Service", "default", "first")
    assert target.runtime.services.proxy_port(first, "http") == port  # it listens there
    with pytest.raises(ConflictError, match=f"nodePort {port} is already allocated"):
        await target.apply(service("second", port), ApplyOptions(dry_run=True))
    await target.apply(service("first", port))  # its own port stays its own


async def test_a_node_port_another_process_listens_on_is_refused(target: LocalTarget) -> None:
    port = free_node_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(ConflictError, match=f"nodePort {port} is in use by another process"):
            await target.apply(service("web", port))
