"""``GET /api/v1/deployments``: the record as the store keeps it, filtered, behind the token."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from api_helpers import Live

from conveyor.engine.events import Destination, Initiator
from conveyor.engine.repository import DeploymentInput
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _deployment(op: int, app: str, minute: int, *, finished: bool = True) -> DeploymentInput:
    return DeploymentInput(
        operation_id=op, app=app, project="default",
        destination=Destination("https://kubernetes.default.svc", "", app),
        revision=f"{op}" * 40, initiator=Initiator.AUTOMATED, username="",
        started_at=T0 + timedelta(minutes=minute),
        phase="Succeeded" if finished else "Running",
        finished_at=T0 + timedelta(minutes=minute, seconds=20) if finished else None,
    )  # fmt: skip


def _seed(live: Live) -> None:
    """Records as the recorder leaves them, written to the server's own database."""

    async def write() -> None:
        database = await open_database(Settings.from_env(home=live.home))
        try:
            store = EngineStore(database)
            await store.record_deployment(_deployment(1, "dep-gone", 0))
            await store.mark_deployment_served("dep-gone", "1" * 40, T0 + timedelta(minutes=1))
            await store.record_deployment(_deployment(2, "dep-web", 10))
            await store.record_deployment(_deployment(3, "dep-web", 20, finished=False))
        finally:
            await database.close()

    asyncio.run(write())


def test_deployments_are_listed_filtered_and_guarded(live: Live, api: httpx.Client) -> None:
    _seed(live)
    items = api.get("/api/v1/deployments").raise_for_status().json()["items"]
    ours = [d for d in items if d["app"].startswith("dep-")]
    assert [(d["app"], d["phase"]) for d in ours] == [
        ("dep-gone", "Succeeded"), ("dep-web", "Succeeded"), ("dep-web", "Running"),
    ]  # fmt: skip
    gone = ours[0]
    assert gone == {
        "id": gone["id"], "operationId": 1, "app": "dep-gone", "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "name": "",
                        "namespace": "dep-gone"},
        "revision": "1" * 40, "appCommit": None, "initiator": "automated", "username": "",
        "phase": "Succeeded", "message": "", "startedAt": "2026-12-05T09:00:00Z",
        "finishedAt": "2026-12-05T09:00:20Z", "servedAt": "2026-12-05T09:01:00Z",
        "appCommitAt": None, "leadTimeSeconds": None,
    }  # fmt: skip
    assert ours[2]["finishedAt"] is None and ours[2]["servedAt"] is None

    web = api.get("/api/v1/deployments", params={"app": "dep-web"}).json()["items"]
    assert [d["operationId"] for d in web] == [2, 3]
    # 10:15 at +01:00 is 09:15 UTC: only the deployment started at 09:20
    since = api.get("/api/v1/deployments", params={"since": "2026-12-05T10:15:00+01:00"})
    assert [d["operationId"] for d in since.json()["items"] if d["app"].startswith("dep-")] == [3]
    newest = api.get("/api/v1/deployments", params={"app": "dep-web", "limit": 1}).json()
    assert [d["operationId"] for d in newest["items"]] == [3]

    assert api.get("/api/v1/deployments", params={"app": "Not_A_Name"}).status_code == 400
    assert api.get("/api/v1/deployments", params={"since": "yesterday"}).status_code == 400
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.get("/api/v1/deployments").status_code == 401
