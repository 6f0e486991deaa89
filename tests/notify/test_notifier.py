"""The notifier between engine events (and the target's Rollouts) and the outbox.

The app and its project are what a fake of Conveyor's own seam (``notifier.Apps``) says; the
store is a real SQLite file; nothing is sent (the outbox rows are what the tests read).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.engine.events import AppCreated, AppDeleted, AppUpdated
from conveyor.notify.config import NotificationConfig, parse_config
from conveyor.notify.notifier import Notifier
from conveyor.settings import Settings
from conveyor.store import open_database
from conveyor.store.notifications import NotificationStore
from support.clock import ManualClock

HOOK = {"service.webhook.hook": "url: http://127.0.0.1:9\n"}
SUB = "notifications.argoproj.io/subscribe."


class Apps:
    def __init__(self) -> None:
        self.apps: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}

    def application(self, name: str) -> dict[str, Any]:
        from conveyor.errors import NotFoundError

        if name not in self.apps:
            raise NotFoundError(name)
        return copy.deepcopy(self.apps[name])

    async def project(self, name: str) -> dict[str, Any] | None:
        return self.projects.get(name)


def _app(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"project": "team"},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
    }


class Harness:
    def __init__(self, store: NotificationStore, data: dict[str, str]) -> None:
        self.store = store
        self.apps = Apps()
        self.clock = ManualClock()
        self.data = data
        self.notifier = Notifier(store, self.apps, load_config=self.load, clock=self.clock)

    async def load(self) -> NotificationConfig:
        return parse_config(self.data)

    async def triggers(self) -> list[str]:
        await self.notifier.flush()
        return [e.trigger for e in reversed(await self.store.listing())]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[NotificationStore]:
    database = await open_database(Settings.from_env(home=tmp_path))
    yield NotificationStore(database)
    await database.close()


async def test_created_and_deleted_fire_once_each_and_a_new_app_of_that_name_starts_afresh(
    store: NotificationStore,
) -> None:
    h = Harness(store, HOOK)
    await h.notifier.start()
    h.apps.projects["team"] = {"metadata": {"annotations": {f"{SUB}on-deleted.hook": ""}}}
    h.apps.apps["web"] = _app("web", **{f"{SUB}on-created.hook": ""})
    now = h.clock.now()
    h.notifier(AppCreated("web", "team", now))
    h.notifier(AppUpdated("web", now))
    assert await h.triggers() == ["on-created"]
    h.notifier(AppDeleted("web", "team", now))  # delivered while the app can still be read
    del h.apps.apps["web"]
    assert await h.triggers() == ["on-created", "on-deleted"]
    h.apps.apps["web"] = _app("web", **{f"{SUB}on-created.hook": ""})
    h.notifier(AppCreated("web", "team", now))
    assert await h.triggers() == ["on-created", "on-deleted", "on-created"]
    await h.notifier.close()


async def test_rollout_triggers_fire_from_the_rollout_and_its_analysis_run(
    store: NotificationStore,
) -> None:
    h = Harness(store, HOOK)
    await h.notifier.start()
    h.apps.apps["shop"] = _app("shop", **{f"{SUB}on-analysis-run-failed.hook": "ops"})
    rollout: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "shop", "namespace": "prod",
                     "labels": {"app.kubernetes.io/instance": "shop"},
                     "annotations": {f"{SUB}on-rollout-aborted.hook": "ops",
                                     f"{SUB}on-rollout-completed.hook": "ops"}},
        "status": {"phase": "Progressing", "currentPodHash": "h2", "stableRS": "h1"},
    }  # fmt: skip
    h.notifier.observe_object(rollout)
    assert await h.triggers() == []
    run = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "shop-h2-1", "namespace": "prod",
                     "ownerReferences": [{"kind": "Rollout", "name": "shop"}]},
        "status": {"phase": "Failed"},
    }  # fmt: skip
    h.notifier.observe_object(run)
    h.notifier.observe_object(run)  # the same run again: once per run
    aborted = copy.deepcopy(rollout)
    aborted["status"] |= {"phase": "Degraded", "abort": True}
    h.notifier.observe_object(aborted)
    h.notifier.observe_object(aborted)
    assert await h.triggers() == ["on-analysis-run-failed", "on-rollout-aborted"]
    done = copy.deepcopy(rollout)
    done["status"] |= {"phase": "Healthy", "stableRS": "h2"}
    h.notifier.observe_object(done)
    assert await h.triggers() == ["on-analysis-run-failed", "on-rollout-aborted",
                                  "on-rollout-completed"]  # fmt: skip
    listed = await store.listing()
    assert {(e.subject, e.app) for e in listed} == {("rollout/prod/shop", "shop")}
    assert {e.recipient for e in listed} == {"ops"}
    await h.notifier.close()


async def test_without_a_service_nothing_is_evaluated(store: NotificationStore) -> None:
    h = Harness(store, {})
    await h.notifier.start()
    h.apps.apps["web"] = _app("web", **{f"{SUB}on-created.hook": ""})
    h.notifier(AppCreated("web", "team", h.clock.now()))
    assert not h.notifier.active
    assert await h.triggers() == []
    await h.notifier.close()


async def test_an_undefined_trigger_is_a_warning(store: NotificationStore) -> None:
    h = Harness(store, HOOK)
    await h.notifier.start()
    h.apps.apps["web"] = _app("web", **{f"{SUB}on-typo.hook": ""})
    h.notifier(AppUpdated("web", h.clock.now()))
    assert await h.triggers() == []
    assert h.notifier.warnings == ["app/web: trigger 'on-typo' is not defined"]
    await h.notifier.close()
