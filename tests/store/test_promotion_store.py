"""Promotions on both backends: every attempt kept, listed by app or pipeline and environment;
and the deployment record's app commit, kept from the end of its operation."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.engine.events import Destination, Initiator
from conveyor.engine.repository import DeploymentInput
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, PromotionStore, open_database

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


def promotion(to: str, minute: int, *, refused: bool = False, **changes: Any) -> dict[str, Any]:
    gates = [
        {"name": "soak", "held": not refused, "detail": "dev served for 60s of 600s"},
        {"name": "policy", "held": True, "detail": "passes default"},
    ]
    return {
        "pipeline": "hello", "app": f"hello-{to}", "from": "dev", "to": to,
        "image": "ghcr.io/acme/hello:abc1234", "tag": "abc1234", "promotedBy": "alice",
        "promotedAt": (T0 + timedelta(minutes=minute)).isoformat(),
        "outcome": "refused" if refused else "promoted",
        "failedGates": ["soak"] if refused else [], "message": "refused" if refused else "",
        "gates": gates, "commit": "" if refused else "c" * 40, "branch": "main",
        "appCommit": "a" * 40, **changes,
    }  # fmt: skip


async def test_every_attempt_is_kept_and_listed(database: Database) -> None:
    store = PromotionStore(database)
    refused = await store.add(promotion("staging", 0, refused=True), recorded_by="ci")
    await store.add(promotion("staging", 5))
    await store.add(promotion("prod", 9, **{"from": "staging"}))
    await store.add(promotion("staging", 1, pipeline="other", app="other-staging"))

    assert refused == {
        "id": refused["id"], "pipeline": "hello", "app": "hello-staging", "from": "dev",
        "to": "staging", "image": "ghcr.io/acme/hello:abc1234", "tag": "abc1234",
        "promotedBy": "alice", "recordedBy": "ci", "promotedAt": "2026-12-05T09:00:00+00:00",
        "outcome": "refused", "failedGates": ["soak"], "message": "refused",
        "gates": promotion("staging", 0, refused=True)["gates"], "commit": "",
        "branch": "main", "appCommit": "a" * 40,
    }  # fmt: skip
    hello = await store.list(app="hello")
    assert [(p["to"], p["outcome"]) for p in hello] == [
        ("staging", "refused"), ("staging", "promoted"), ("prod", "promoted"),
    ]  # fmt: skip
    assert [p["pipeline"] for p in await store.list(app="other-staging")] == ["other"]
    assert [p["app"] for p in await store.list(env="staging")] == [
        "hello-staging", "other-staging", "hello-staging",
    ]  # fmt: skip
    newest = await store.list(app="hello", limit=1)
    assert [p["to"] for p in newest] == ["prod"]


async def test_the_deployment_record_keeps_the_app_commit_from_the_end(
    database: Database,
) -> None:
    store = EngineStore(database)
    start = DeploymentInput(
        operation_id=1, app="web", project="default", destination=Destination("s", "", "web"),
        revision="", initiator=Initiator.AUTOMATED, username="", started_at=T0,
    )  # fmt: skip
    await store.record_deployment(start)
    committed = T0 - timedelta(hours=2)
    end = dataclasses.replace(
        start, revision="1" * 40, phase="Succeeded", finished_at=T0 + timedelta(seconds=30),
        app_commit="a" * 40, app_commit_at=committed,
    )  # fmt: skip
    await store.record_deployment(end)
    await store.mark_deployment_served("web", "1" * 40, T0 + timedelta(minutes=1))

    (record,) = await store.deployments(app="web")
    assert (record.app_commit, record.app_commit_at) == ("a" * 40, committed)
    assert record.lead_time == timedelta(hours=2, minutes=1).total_seconds()
    assert record.to_dict()["appCommitAt"] == "2026-12-05T07:00:00Z"
