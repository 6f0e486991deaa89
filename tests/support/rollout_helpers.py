"""Helpers for Rollout tests on the local runtime: manifests, actions, traffic counts."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from conveyor.model import rollout_actions
from conveyor.model.objects import ObjectKey
from conveyor.targets.local.target import LocalTarget
from support.runtime_helpers import READY_PROBE, deployment

HASH = "rollouts-pod-template-hash"


def rollout(name: str, image: str, strategy: dict[str, Any], *, replicas: int = 2) -> Any:
    """A Rollout of the example app, its template as the Deployment helper's."""
    spec = copy.deepcopy(deployment(name, image, replicas=replicas, probes=READY_PROBE)["spec"])
    spec["strategy"] = strategy
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def key(name: str) -> ObjectKey:
    return ObjectKey("argoproj.io", "Rollout", "default", name)


async def status(target: LocalTarget, name: str) -> dict[str, Any]:
    obj = await target.get(key(name))
    assert obj is not None, f"Rollout {name} not found"
    return dict(obj.get("status") or {})


async def act(target: LocalTarget, name: str, action: str) -> None:
    """Run one of Argo's actions (promote, abort…) as its two merge patches."""
    live = await target.get(key(name))
    assert live is not None
    patch: rollout_actions.ActionPatch = getattr(rollout_actions, action)(live)
    if patch.spec:
        await target.patch(key(name), patch.spec)
    if patch.status:
        await target.patch(key(name), patch.status, subresource="status")


async def versions(url: str, n: int) -> dict[str, int]:
    """How many of ``n`` requests each app version answered."""
    out: dict[str, int] = {}
    async with httpx.AsyncClient() as client:
        for _ in range(n):
            version = (await client.get(url)).json()["version"]
            out[version] = out.get(version, 0) + 1
    return out


def served(target: LocalTarget, service: str) -> dict[str, int]:
    """2xx responses per ReplicaSet (pod template hash) from the proxy's stats."""
    stats = target.runtime.service_stats("default", service)
    return {rs: s.requests_by_class()["2xx"] for rs, s in stats.items()}
