"""The audit trail and the health record across a restart of the controller: an operation's
revision before comes from the stored history, its entry names what it pruned, and an app
Degraded at startup gets one health event (none more when it was recorded before).

A real git repository and the local target (ConfigMaps, and a Rollout whose workloadRef names
no Deployment, Degraded without any Pod), the store on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap
from test_controller_regressions import QUIET, succeeded, until

from conveyor.bootstrap import local_target
from conveyor.engine.activity import ActivityRecorder, operation_detail
from conveyor.engine.compare import Comparer
from conveyor.engine.controller import Controller
from conveyor.engine.events import Destination, Initiator, OperationFinished
from conveyor.engine.livestate import LiveState
from conveyor.engine.records import AuditQuery
from conveyor.render import Renderer
from conveyor.settings import Settings
from conveyor.source import RepoCache
from conveyor.store import EngineStore, open_database

pytestmark = pytest.mark.processes  # git, the local target

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DEST = Destination("https://kubernetes.default.svc", "", "demo")
BROKEN_ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "broken"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "broken"}},
        "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "missing"},
        "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
    },
}


@asynccontextmanager
async def controller_on(home: Path) -> AsyncIterator[Controller]:
    """One life of the controller on ``home`` (its store and its local target)."""
    settings = Settings.from_env(home=home)
    async with local_target(settings) as target:
        database = await open_database(settings)
        comparer = Comparer(RepoCache(home / "repos"), Renderer(), home / "checkouts")
        controller = Controller(
            EngineStore(database), target, comparer, LiveState(target), options=QUIET
        )
        await controller.start()
        try:
            yield controller
        finally:
            await controller.stop()
            await database.close()


def revision(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("revision") or "")


def two_configmaps(tmp_path: Path) -> tuple[ConfigRepo, str]:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("pr/a.yaml", configmap("keep", {"k": "1"}))
    repo.write("pr/b.yaml", configmap("gone", {"k": "1"}))
    return repo, repo.commit()


async def sync_to(controller: Controller, name: str, sha: str, *, prune: bool = False) -> None:
    controller.refresh(name)
    await until(controller, name, lambda a: revision(a) == sha, "the commit seen")
    await controller.sync(name, prune=prune)
    await until(controller, name, lambda a: succeeded(a) and revision(a) == sha, "synced")


async def test_an_operation_entry_names_what_it_pruned(tmp_path: Path) -> None:
    repo, first = two_configmaps(tmp_path)
    async with controller_on(tmp_path / "home") as controller:
        recorder = ActivityRecorder(controller.repo)
        controller.add_event_listener(recorder)
        recorder.start()
        await controller.apply_application(application("pr", repo, "pr", automated=False))
        await sync_to(controller, "pr", first)
        repo.remove("pr/b.yaml")
        await sync_to(controller, "pr", repo.commit("drop gone"), prune=True)
        await recorder.close()
        entries = await controller.repo.audit(AuditQuery(app="pr"))
    assert "pruned" not in entries[0].detail
    assert entries[1].detail.endswith("; pruned 1: ConfigMap demo/gone"), entries[1].detail


def test_a_long_prune_list_is_capped() -> None:
    names = tuple(f"ConfigMap demo/cm-{i}" for i in range(25))
    event = OperationFinished(
        app="pr", project="default", destination=DEST, operation_id=1,
        phase="Succeeded", message="successfully synced", revision="a" * 40,
        initiator=Initiator.USER, username="admin", dry_run=False, started_at=T0,
        finished_at=T0, pruned=names,
    )  # fmt: skip
    detail = operation_detail(event)
    assert detail.startswith("successfully synced; pruned 25: ConfigMap demo/cm-0, ")
    assert detail.endswith("ConfigMap demo/cm-19 and 5 more")


async def test_after_a_restart_an_operation_knows_its_revision_before(tmp_path: Path) -> None:
    repo, first = two_configmaps(tmp_path)
    home = tmp_path / "home"
    async with controller_on(home) as controller:
        await controller.apply_application(application("pr", repo, "pr", automated=False))
        await sync_to(controller, "pr", first)
    repo.write("pr/a.yaml", configmap("keep", {"k": "2"}))
    second = repo.commit("change")
    async with controller_on(home) as controller:  # a new process: nothing in memory
        recorder = ActivityRecorder(controller.repo)
        controller.add_event_listener(recorder)
        recorder.start()
        await sync_to(controller, "pr", second)
        await recorder.close()
        (entry,) = await controller.repo.audit(AuditQuery(app="pr"))
    assert (entry.action, entry.revision_before, entry.revision_after) == (
        "operation.sync", first, second,
    )  # fmt: skip


async def test_an_app_degraded_at_startup_gets_one_health_event(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("bad/rollout.yaml", BROKEN_ROLLOUT)
    repo.commit()
    home = tmp_path / "home"

    def degraded(app: dict[str, Any]) -> bool:
        return ((app.get("status") or {}).get("health") or {}).get("status") == "Degraded"

    async with controller_on(home) as controller:  # nobody records: it is missed
        await controller.apply_application(application("bad", repo, "bad"))
        await until(controller, "bad", degraded, "Degraded")
        await controller.settle()

    for _ in range(2):  # the first start after it records it, the next one not again
        async with controller_on(home) as controller:
            recorder = ActivityRecorder(controller.repo)
            controller.add_event_listener(recorder)
            recorder.record_initial_health(controller.applications())  # as the server does
            recorder.start()
            await until(controller, "bad", degraded, "still Degraded")
            await recorder.close()
            events = await controller.repo.health_events(app="bad")
        assert [(e.app, e.health, e.revision) for e in events] == [
            ("bad", "Degraded", revision(controller.application("bad")))
        ]
