"""The controller's bugs, each pinned: delete order, owned auto-sync, honest waits, one
comparison per automated sync, temporary errors' delay, SHA-256 revisions; and its events.

A real git repository and the local target (ConfigMaps and the like: no processes); the
seams faked are Conveyor's own (a Target wrapper, a Comparer and a store subclass).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap, hook_job

from conveyor.bootstrap import local_target
from conveyor.engine.compare import Comparer, Comparison
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.engine.events import (
    AppCreated,
    AppDeleted,
    AppUpdated,
    EngineEvent,
    HealthStatusChanged,
    Initiator,
    OperationFinished,
    OperationStarted,
    SyncStatusChanged,
)
from conveyor.engine.livestate import LiveState
from conveyor.errors import TemporaryError
from conveyor.model.objects import Object, ObjectKey
from conveyor.render import Renderer
from conveyor.settings import Settings
from conveyor.source import RepoCache
from conveyor.store import EngineStore, open_database
from conveyor.targets.protocol import Target, TargetCondition

QUIET = ControllerOptions(poll_interval=300.0, self_heal_backoff=0.2, step_timeout=30.0)


class WrappedTarget:
    """The local target, with deletions recorded and conditions the test sets."""

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.deleted: list[ObjectKey] = []
        self.problems: list[TargetCondition] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def delete(self, key: ObjectKey) -> None:
        self.deleted.append(key)
        await self.inner.delete(key)

    def conditions(self) -> list[TargetCondition]:
        return list(self.problems)


class CountingComparer(Comparer):
    """Counts comparisons; fails the first ``flaky`` revision lookups with a short delay."""

    def __init__(self, *args: Any, flaky: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compared = 0
        self.flaky = flaky

    async def resolve(self, url: str, revision: str, *, force: bool = False) -> str:
        if self.flaky > 0:
            self.flaky -= 1
            raise TemporaryError("the git server is busy", delay=0.3)
        return await super().resolve(url, revision, force=force)

    async def compare(self, *args: Any, **kwargs: Any) -> Comparison:
        self.compared += 1
        return await super().compare(*args, **kwargs)


class StoreThatCannotStartOperations(EngineStore):
    async def create_operation(
        self, app: str, operation: dict[str, Any], started_at: datetime
    ) -> Any:
        raise RuntimeError("database is locked")


class Reconciles:
    """The controller's observer: counts reconciles."""

    def __init__(self) -> None:
        self.count = 0

    def reconciled(self, app: str, duration: float) -> None:
        self.count += 1


@asynccontextmanager
async def controller_on(
    home: Path, *, store: type[EngineStore] = EngineStore, flaky: int = 0
) -> AsyncIterator[tuple[Controller, WrappedTarget, CountingComparer, Reconciles]]:
    settings = Settings.from_env(home=home)
    async with local_target(settings) as local:
        target = WrappedTarget(local)
        database = await open_database(settings)
        comparer = CountingComparer(
            RepoCache(home / "repos"), Renderer(), home / "checkouts", flaky=flaky
        )
        reconciles = Reconciles()
        controller = Controller(
            store(database), target, comparer, LiveState(target),  # type: ignore[arg-type]
            options=QUIET, observer=reconciles,
        )  # fmt: skip
        await controller.start()
        try:
            yield controller, target, comparer, reconciles
        finally:
            await controller.stop()
            await database.close()


async def until(
    controller: Controller, name: str, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """Wait (reconcile by reconcile, at most 30 s) until the app satisfies ``check``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while loop.time() < deadline:
        app = controller.application(name)
        if check(app):
            return app
        await controller.wait_reconciled(name, timeout=0.2)
    raise AssertionError(f"timed out waiting for {what}: {controller.application(name)['status']}")


def synced_healthy(app: dict[str, Any]) -> bool:
    status = app.get("status") or {}
    return (status.get("sync") or {}).get("status") == "Synced" and (
        status.get("health") or {}
    ).get("status") == "Healthy"


def succeeded(app: dict[str, Any]) -> bool:
    """Synced, Healthy, and the last operation Succeeded."""
    operation = (app.get("status") or {}).get("operationState") or {}
    return synced_healthy(app) and operation.get("phase") == "Succeeded"


def conditions(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((app.get("status") or {}).get("conditions") or [])


def namespace(name: str) -> Object:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    repo.commit()
    return repo


async def test_cascade_delete_goes_in_reverse_apply_order_namespaces_last(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    repo.write(
        "layered/all.yaml",
        namespace("layered"),
        configmap("settings", {"k": "1"}),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"},
         "stringData": {"t": "x"}},
    )  # fmt: skip
    repo.commit()
    async with controller_on(tmp_path / "home") as (controller, target, _, _):
        await controller.apply_application(
            application("layered", repo, "layered", namespace="layered")
        )
        await until(controller, "layered", synced_healthy, "Synced and Healthy")
        await controller.delete_application("layered")
        kinds = [key.kind for key in target.deleted]
    assert kinds == ["ConfigMap", "Secret", "Namespace"]


async def test_wait_reconciled_tells_a_timeout_from_a_reconcile(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    async with controller_on(tmp_path / "home") as (controller, _, _, _):
        await controller.apply_application(application("quiet", repo, "app", automated=False))
        await until(controller, "quiet", lambda a: bool(a["status"]), "a first status")
        await controller.settle()
        assert await controller.wait_reconciled("quiet", timeout=0.3) is False
        waiting = controller.wait_reconciled("quiet", timeout=30.0)
        controller.refresh("quiet")
        assert await waiting is True


async def test_an_automated_sync_that_cannot_start_shows_a_condition(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    async with controller_on(tmp_path / "home", store=StoreThatCannotStartOperations) as (
        controller,
        _,
        _,
        _,
    ):
        await controller.apply_application(application("stuck", repo, "app"))
        app = await until(
            controller,
            "stuck",
            lambda a: any(c["type"] == "SyncError" for c in conditions(a)),
            "a SyncError condition",
        )
    [condition] = [c for c in conditions(app) if c["type"] == "SyncError"]
    assert "automated sync could not start" in condition["message"]
    assert "database is locked" in condition["message"]


async def test_an_automated_sync_uses_the_comparison_that_triggered_it(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    async with controller_on(tmp_path / "home") as (controller, _, comparer, reconciles):
        await controller.apply_application(application("once", repo, "app"))
        await until(controller, "once", succeeded, "a successful automated sync")
        await controller.settle()
        assert comparer.compared == reconciles.count  # the sync itself compared nothing


async def test_a_temporary_error_is_retried_after_its_delay_not_the_poll_interval(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    async with controller_on(tmp_path / "home", flaky=1) as (controller, _, _, _):
        await controller.apply_application(application("flaky", repo, "app", automated=False))
        failed = await until(
            controller,
            "flaky",
            lambda a: any(c["type"] == "ComparisonError" for c in conditions(a)),
            "the temporary error",
        )
        assert "busy" in conditions(failed)[0]["message"]
        # The poll interval is 300 s: only the error's 0.3 s delay brings the next look.
        app = await until(
            controller, "flaky", lambda a: a["status"]["sync"]["status"] != "Unknown", "a retry"
        )
    assert app["status"]["sync"]["status"] == "OutOfSync"
    assert not any(c["type"] == "ComparisonError" for c in conditions(app))


async def test_a_push_concerns_an_app_pinned_to_a_sha256_commit(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    pinned = application("pinned", repo, "app", automated=False)
    pinned["spec"]["source"]["targetRevision"] = "e" * 64
    ssh = application("by-ssh", repo, "app", automated=False)
    ssh["spec"]["source"]["repoURL"] = "git@example.com:org/config.git"
    async with controller_on(tmp_path / "home") as (controller, _, _, _):
        await controller.apply_application(pinned)
        await controller.apply_application(ssh)
        assert controller.notify_push(repo.url, "refs/heads/main") == ["pinned"]
        assert controller.notify_push("ssh://git@example.com/org/config", None) == ["by-ssh"]


async def test_the_engine_tells_its_listeners_what_happened(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    events: list[EngineEvent] = []
    async with controller_on(tmp_path / "home") as (controller, target, _, _):
        controller.add_event_listener(events.append)
        target.problems.append(TargetCondition("JournalError", "cannot write the journal"))
        await controller.apply_application(application("told", repo, "app", automated=False))
        await until(controller, "told", lambda a: bool(a["status"]), "a first status")
        await controller.sync("told", initiated_by="alice")
        app = await until(controller, "told", succeeded, "a successful sync")
        [entry] = await controller.history("told")
        await controller.rollback("told", entry["id"], initiated_by="bob")
        await until(
            controller, "told", lambda a: len(a["status"].get("history", [])) == 2, "a rollback"
        )
        await controller.delete_application("told")
    assert {"type": "JournalError", "message": "cannot write the journal"} in [
        {k: c[k] for k in ("type", "message")} for c in conditions(app)
    ]
    kinds = [type(e) for e in events if not isinstance(e, AppUpdated)]
    assert kinds[0] is AppCreated and kinds[-1] is AppDeleted
    started = next(e for e in events if isinstance(e, OperationStarted))
    finished = next(e for e in events if isinstance(e, OperationFinished))
    assert (started.initiator, started.username) == (Initiator.USER, "alice")
    assert (finished.phase, finished.initiator) == ("Succeeded", Initiator.USER)
    rolled_back = [e for e in events if isinstance(e, OperationFinished)][-1]
    assert (rolled_back.initiator, rolled_back.username) == (Initiator.ROLLBACK, "bob")
    assert finished.revision == repo.git("rev-parse", "HEAD")
    syncs = [(e.old, e.new) for e in events if isinstance(e, SyncStatusChanged)]
    assert syncs[0] == ("Unknown", "OutOfSync") and syncs[-1][1] == "Synced"
    assert any(e.new == "Healthy" for e in events if isinstance(e, HealthStatusChanged))


async def test_a_dry_run_lists_hooks_without_running_them(tmp_path: Path, repo: ConfigRepo) -> None:
    hook = hook_job("migrate", "PreSync", "exit 0")
    hook["spec"]["template"]["spec"]["containers"][0]["image"] = "migrate:v1"
    repo.write("app/hook.yaml", hook)
    repo.commit()
    async with controller_on(tmp_path / "home") as (controller, target, _, _):
        await controller.apply_application(application("dry", repo, "app", automated=False))
        await until(controller, "dry", lambda a: bool(a["status"]), "a first status")
        await controller.sync("dry", dry_run=True)
        app = await until(
            controller,
            "dry",
            lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
            "the dry run to finish",
        )
        assert await target.get(ObjectKey("batch", "Job", "demo", "migrate")) is None
    results = app["status"]["operationState"]["syncResult"]["resources"]
    hook = next(r for r in results if r["kind"] == "Job")
    assert (hook["hookType"], hook["hookPhase"]) == ("PreSync", "")
    assert app["status"]["sync"]["status"] == "OutOfSync"


async def test_a_resumed_operation_keeps_the_initiator_it_started_with(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    """A rollback interrupted by a crash is still a rollback when the next process resumes it
    (``initiatedBy`` alone would make it a user's sync: DORA figures would count it wrong)."""
    home = tmp_path / "home"
    async with controller_on(home) as (controller, _, _, _):
        await controller.apply_application(application("web", repo, "app", automated=False))
        await until(controller, "web", lambda a: bool(a["status"].get("sync")), "compared")
        operation = {
            "sync": {"revision": "", "prune": True, "syncOptions": ["CreateNamespace=true"]},
            "initiatedBy": {"username": "admin"},
            "info": [{"name": "initiator", "value": "rollback"}],
        }  # what a rollback records before it starts, left Running as by kill -9
        await controller.repo.create_operation("web", operation, datetime.now().astimezone())
    started: list[OperationStarted] = []
    settings = Settings.from_env(home=home)
    async with local_target(settings) as target:
        database = await open_database(settings)
        comparer = Comparer(RepoCache(home / "repos"), Renderer(), home / "checkouts")
        restarted = Controller(EngineStore(database), target, comparer, LiveState(target),
                               options=QUIET)  # fmt: skip
        restarted.add_event_listener(
            lambda e: started.append(e) if isinstance(e, OperationStarted) else None
        )
        await restarted.start()
        try:
            await until(restarted, "web", succeeded, "the resumed sync")
        finally:
            await restarted.stop()
            await database.close()
    assert [(e.app, e.initiator, e.username) for e in started] == [
        ("web", Initiator.ROLLBACK, "admin")
    ]
