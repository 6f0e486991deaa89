"""The in-memory target keeps the Target protocol as the local target does, health aside."""

from __future__ import annotations

import pytest
from sync_helpers import NAMESPACE, configmap, deployment, key, namespace

from conveyor.errors import NotFoundError, ValidationError
from conveyor.health import assess
from conveyor.model.health import HealthStatus
from conveyor.targets.protocol import (
    ApplyOptions,
    Selector,
    Target,
    TargetCondition,
    WatchEventType,
)
from support.fake_target import FakeTarget


async def test_it_is_a_target_and_reports_the_conditions_it_is_given() -> None:
    target = FakeTarget()
    assert isinstance(target, Target)
    assert target.conditions() == []
    target.problems.append(TargetCondition("JournalError", "cannot write the journal"))
    assert target.conditions() == [TargetCondition("JournalError", "cannot write the journal")]


async def test_it_refuses_what_the_local_target_refuses() -> None:
    target = FakeTarget()
    with pytest.raises(NotFoundError, match='namespaces "shop" not found'):
        await target.apply(configmap("a"))
    await target.apply(namespace(NAMESPACE))
    broken = deployment("web")
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}
    with pytest.raises(ValidationError, match="selector"):
        await target.apply(broken)
    assert await target.apply(configmap("a"), ApplyOptions(dry_run=True))
    assert await target.get(key("ConfigMap", "a")) is None  # a dry run stores nothing


async def test_health_is_what_the_test_says() -> None:
    target = FakeTarget(settle=False)
    await target.apply(namespace(NAMESPACE))
    web = key("Deployment", "web")
    await target.apply(deployment("web", replicas=2))
    assert assess(await target.get(web)).status is HealthStatus.PROGRESSING
    target.make_healthy(web)
    assert assess(await target.get(web)).status is HealthStatus.HEALTHY
    target.degrade(web)
    assert assess(await target.get(web)).status is HealthStatus.DEGRADED


async def test_the_watch_starts_with_what_exists_then_follows_changes() -> None:
    target = FakeTarget()
    await target.apply(namespace(NAMESPACE))
    await target.apply(configmap("a"))
    events = target.watch(Selector(kind="ConfigMap"))
    first = await anext(events)
    assert (first.type, first.object["metadata"]["name"]) == (WatchEventType.ADDED, "a")
    await target.delete(key("Namespace", NAMESPACE))  # cascades to what the namespace holds
    gone = await anext(events)
    assert (gone.type, gone.object["metadata"]["name"]) == (WatchEventType.DELETED, "a")
    await events.aclose()
