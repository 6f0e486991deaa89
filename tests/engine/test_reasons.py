"""``engine.reasons``: an unwell workload's health names what its Pods say (pure: objects in,
health out; the children and events lookups are plain functions here)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.engine.reasons import explain
from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.protocol import Event

DEPLOYMENT: Object = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "d"},
}  # fmt: skip
REPLICASET: Object = {
    "apiVersion": "apps/v1", "kind": "ReplicaSet",
    "metadata": {"name": "web-1", "uid": "r", "ownerReferences": [{"uid": "d"}]},
}  # fmt: skip
WAITING = Health(HealthStatus.PROGRESSING, "Waiting for rollout to finish")


def pod(name: str, status: dict[str, Any]) -> Object:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "demo", "uid": name,
                     "ownerReferences": [{"uid": "r"}]},
        "spec": {"restartPolicy": "Always"}, "status": status,
    }  # fmt: skip


def crashing(name: str) -> Object:
    waiting = {"reason": "CrashLoopBackOff",
               "message": "back-off 40s restarting failed container=web"}  # fmt: skip
    return pod(name, {"phase": "Running", "containerStatuses": [
        {"name": "web", "ready": False, "state": {"waiting": waiting}}]})  # fmt: skip


def not_ready(name: str) -> Object:
    return pod(name, {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [{"name": "web", "ready": False,
                                             "state": {"running": {}}}]})  # fmt: skip


def tree(*pods: Object) -> Any:
    below = {"d": [REPLICASET], "r": list(pods)}
    return lambda obj: below.get(obj["metadata"].get("uid"), [])


async def no_events(key: ObjectKey) -> list[Event]:
    return []


async def test_a_crash_loop_is_named_once_for_all_pods_that_share_it() -> None:
    health = await explain(DEPLOYMENT, WAITING, tree(crashing("a"), crashing("b")), no_events)
    assert health == Health(
        HealthStatus.PROGRESSING,
        "Waiting for rollout to finish: pod a (and 1 more): CrashLoopBackOff: back-off 40s "
        "restarting failed container=web",
    )


async def test_a_failing_probe_is_named_from_the_pods_latest_warning() -> None:
    async def events(key: ObjectKey) -> list[Event]:
        return [Event(key, "Unhealthy", "Readiness probe failed: HTTP 500", "Warning")]

    health = await explain(DEPLOYMENT, WAITING, tree(not_ready("a")), events)
    assert (
        health.message == "Waiting for rollout to finish: pod a: Readiness probe failed: HTTP 500"
    )


@pytest.mark.parametrize("status", [HealthStatus.HEALTHY, HealthStatus.MISSING], ids=str)
async def test_a_well_or_missing_resource_is_left_as_it_is(status: HealthStatus) -> None:
    health = Health(status, "as it was")
    assert await explain(DEPLOYMENT, health, tree(crashing("a")), no_events) == health
