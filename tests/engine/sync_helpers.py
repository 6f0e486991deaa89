"""The sync executor against the in-memory target: manifests, a running cluster, a request.

Everything here is in memory and in process: the tests that use it start no process, bind no
port and never wait for a fixed time.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from conveyor.engine.livestate import LiveState
from conveyor.engine.sync import SyncExecutor, SyncOutcome, SyncRequest
from conveyor.engine.syncplan import PlanOptions
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import SyncOptions
from conveyor.targets.protocol import TRACKING_LABEL
from support.clock import ManualClock
from support.fake_target import FakeTarget

APP = "shop"
NAMESPACE = "shop"
SHA1 = "3f786850e387550fdab836ed7e6dc881de23001b"
SHA256 = "5d6f1e2a9c0b4e8f7a3d2c1b0a9f8e7d6c5b4a392817f6e5d4c3b2a1908f7e6d"

HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


def key(kind: str, name: str, namespace: str = NAMESPACE) -> ObjectKey:
    """The key of an object of ``kind`` (group from the kind, as the builders below use)."""
    group = {"Deployment": "apps", "Job": "batch"}.get(kind, "")
    return ObjectKey(group, kind, "" if kind == "Namespace" else namespace, name)


def annotated(obj: Object, **annotations: str) -> Object:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("annotations", {}).update(annotations)
    return out


def in_wave(obj: Object, wave: int) -> Object:
    return annotated(obj, **{WAVE: str(wave)})


def configmap(name: str, data: dict[str, str] | None = None) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": data or {"k": "v"},
    }


def service(name: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def namespace(name: str) -> Object:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _pod_spec(restart: str = "Always") -> dict[str, Any]:
    return {
        "restartPolicy": restart,
        "containers": [{"name": "main", "image": "shop:1", "command": ["serve"]}],
    }


def deployment(name: str, replicas: int = 1) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": _pod_spec()},
        },
    }


def job(name: str, hook: str | None = None, *, policy: str | None = None) -> Object:
    """A Job; with ``hook`` an Argo CD hook of that type (and ``policy`` its delete policy)."""
    obj: Object = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"backoffLimit": 0, "template": {"spec": _pod_spec("Never")}},
    }
    if hook is not None:
        obj = annotated(obj, **{HOOK: hook})
    if policy is not None:
        obj = annotated(obj, **{DELETE_POLICY: policy})
    return obj


def tracked(objects: Iterable[Object]) -> list[Object]:
    """As the renderer hands them to the sync: the app's tracking label on every object."""
    out = []
    for obj in objects:
        copied = copy.deepcopy(obj)
        copied["metadata"].setdefault("labels", {})[TRACKING_LABEL] = APP
        out.append(copied)
    return out


def plan_options(
    *,
    prune: bool = False,
    selected: frozenset[ObjectKey] | None = None,
    prune_last: bool = False,
    apply_out_of_sync_only: bool = False,
    create_namespace: bool = False,
) -> PlanOptions:
    """The sync's options, named as Argo CD names them."""
    named = {
        "PruneLast": prune_last,
        "ApplyOutOfSyncOnly": apply_out_of_sync_only,
        "CreateNamespace": create_namespace,
    }
    parsed = SyncOptions.parse([f"{name}=true" for name, on in named.items() if on])
    return PlanOptions(prune=prune, selected=selected, sync=parsed)


@dataclass
class Cluster:
    """A target, the engine's live cache of it, and an executor, all in memory."""

    target: FakeTarget
    live: LiveState
    executor: SyncExecutor
    clock: ManualClock
    reports: list[list[dict[str, Any]]] = field(default_factory=list)

    def request(
        self,
        desired: Sequence[Object],
        *,
        revision: str = SHA1,
        out_of_sync: Iterable[ObjectKey] = (),
        dry_run: bool = False,
        create_namespace: bool = False,
        **options: Any,
    ) -> SyncRequest:
        plan = plan_options(create_namespace=create_namespace, **options)
        return SyncRequest(
            app=APP,
            revision=revision,
            namespace=NAMESPACE,
            desired=tracked(desired),
            out_of_sync=frozenset(out_of_sync),
            options=plan,
            dry_run=dry_run,
        )

    async def sync(self, desired: Sequence[Object], **kwargs: Any) -> SyncOutcome:
        """Run one sync to its end."""
        return await self.executor.run(self.request(desired, **kwargs), self._progress)

    def start(self, desired: Sequence[Object], **kwargs: Any) -> asyncio.Task[SyncOutcome]:
        """Start a sync; the test moves the target's health while it runs."""
        return asyncio.create_task(self.sync(desired, **kwargs))

    async def reported(self, what: str, check: Any) -> list[dict[str, Any]]:
        """Wait until a progress report satisfies ``check``; returns it."""
        await self.target.until(lambda: any(check(r) for r in self.reports), what=what)
        return next(r for r in self.reports if check(r))

    async def _progress(self, resources: list[dict[str, Any]]) -> None:
        self.reports.append(resources)
        self.target.poke()  # a report is something a test may wait for


@asynccontextmanager
async def running_cluster(
    *,
    settle: bool = True,
    existing: Iterable[Object] = (),
    step_timeout: float = 600.0,
    with_namespace: bool = True,
) -> AsyncIterator[Cluster]:
    """A cluster with the app's namespace and ``existing`` objects, as a last sync left them."""
    clock = ManualClock()
    target = FakeTarget(clock, settle=settle)
    if with_namespace:
        target.store.apply(namespace(NAMESPACE))
    for obj in tracked(existing):
        await target.apply(obj)
    target.history.clear()
    live = LiveState(target)
    await live.start()
    executor = SyncExecutor(target, live, clock=clock, step_timeout=step_timeout)
    try:
        yield Cluster(target, live, executor, clock)
    finally:
        await live.stop()


def by_name(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A sync's per-resource results by ``Kind/name``."""
    return {f"{r['kind']}/{r['name']}": r for r in resources}
