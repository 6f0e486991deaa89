"""The local runtime knows kinds by API group and kind, as an API server does: what it only
stores is stored unchanged (an event says it has no behaviour), what runs is decided by group
and kind (a ``Pod`` of another group never starts a process), and an unknown kind is refused
with Argo CD's message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import UnknownKindError


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[LocalTarget]:
    async with local_target(Settings.from_env(home=tmp_path / "home")) as t:
        yield t


def _crd(group: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def _pod(api_version: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "missing:1", "command": ["sleep", "30"]}],
        },
    }


async def test_a_kind_without_behaviour_is_stored_unchanged_and_an_event_says_so(
    target: LocalTarget,
) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "guestbook", "namespace": "default", "labels": {"app": "g"}},
    }
    live = await target.apply(account)
    # kubectl's own record of the last apply, and nothing else
    assert set(live["metadata"].get("annotations") or {}) == {
        "kubectl.kubernetes.io/last-applied-configuration"
    }
    key = ObjectKey("", "ServiceAccount", "default", "guestbook")
    [event] = await target.events(key)
    assert event.reason == "NoLocalBehaviour"
    assert "ServiceAccount is stored but has no behaviour on the local runtime" in event.message


async def test_a_pod_of_another_api_group_never_runs_a_process(target: LocalTarget) -> None:
    await target.apply(_crd("evil.example.com", "Pod", "pods"))
    await target.apply(_pod("evil.example.com/v1", "impostor"))
    await target.apply(_pod("v1", "real"))
    # The impostor was queued first: once the kubelet has reported on the real Pod, the
    # runtime has handled the impostor too.
    async with asyncio.timeout(30):
        while not ((await target.get(ObjectKey("", "Pod", "default", "real"))) or {}).get("status"):
            await asyncio.sleep(0.05)
        await target.runtime.settle()
    assert ObjectKey("evil.example.com", "Pod", "default", "impostor") not in (
        target.runtime.kubelet.running_pods()
    )
    impostor = await target.get(ObjectKey("evil.example.com", "Pod", "default", "impostor"))
    assert impostor is not None and "status" not in impostor
    [event] = await target.events(ObjectKey("evil.example.com", "Pod", "default", "impostor"))
    assert event.reason == "NoLocalBehaviour"


async def test_an_unknown_kind_is_refused_with_argo_cds_message(target: LocalTarget) -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
    }
    with pytest.raises(UnknownKindError) as err:
        await target.apply(widget)
    assert "the server could not find the requested resource" in str(err.value)
    await target.apply(_crd("example.com", "Widget", "widgets"))
    stored = await target.apply(widget)
    assert stored["metadata"]["name"] == "w"
