"""App of apps: Application and AppProject objects on the target become registered ones.

Argo CD watches its own namespace (``argocd``) for Application and AppProject objects, so an
app whose manifests are Applications (the "app of apps" pattern) creates apps. Conveyor does
the same from the live state its watch keeps: an Application or AppProject object that appears
or changes in Conveyor's namespace is registered through the controller's ``apply_application``
/ ``apply_project``, exactly as ``conveyor apply -f`` would; one that is deleted (the parent
pruned it, or the parent was deleted) deletes the registered app, its resources too when the
object carries Argo CD's resources finalizer. Only apps registered from the target (their
manifest carries a parent's tracking label) are deleted this way, never one a person created.

A child that cannot be registered (an invalid manifest, a project that refuses it) is shown on
its parent as a condition, through ``on_failure``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from conveyor.engine.livestate import LiveState, app_of
from conveyor.engine.tasks import TaskOwner
from conveyor.logging import get_logger
from conveyor.model.objects import SERVER_METADATA, Object, ObjectKey

log = get_logger(component="app-of-apps")

GROUP = "argoproj.io"
APPLICATION = "Application"
APP_PROJECT = "AppProject"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
"""Argo CD's finalizer: deleting the Application deletes its resources first."""
_KEEP_METADATA = ("name", "namespace", "labels", "annotations", "finalizers")


@dataclass(frozen=True)
class Registry:
    """What this module needs of the controller (its public operations)."""

    apply_application: Callable[[dict[str, Any]], Awaitable[Any]]
    apply_project: Callable[[dict[str, Any]], Awaitable[Any]]
    delete_application: Callable[[str, bool], Awaitable[None]]
    registered: Callable[[str], dict[str, Any] | None]
    """The stored manifest of an app, or None when there is none."""


def manifest_of(obj: Object) -> dict[str, Any]:
    """The object as a person would have applied it: no status, no server metadata."""
    meta = obj.get("metadata") or {}
    kept = {k: meta[k] for k in _KEEP_METADATA if k in meta and k not in SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (kept.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        kept["annotations"] = annotations
    else:
        kept.pop("annotations", None)
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": kept,
        "spec": obj.get("spec") or {},
    }


class AppOfApps:
    """Registers the Applications and AppProjects found in Conveyor's namespace."""

    def __init__(
        self, live: LiveState, registry: Registry, tasks: TaskOwner, *, namespace: str
    ) -> None:
        self.live = live
        self.registry = registry
        self.tasks = tasks
        self.namespace = namespace
        self._pending: dict[ObjectKey, asyncio.Task[None]] = {}
        self._again: set[ObjectKey] = set()

    def watches(self, key: ObjectKey) -> bool:
        """Whether an object under ``key`` is one this module registers."""
        return (
            key.group == GROUP
            and key.kind in (APPLICATION, APP_PROJECT)
            and key.namespace == self.namespace
        )

    def on_change(self, parent: str, key: ObjectKey) -> None:
        """The live-state listener: ``parent``'s object ``key`` changed (or went)."""
        if not self.watches(key):
            return
        if key in self._pending:
            self._again.add(key)  # look once more when the running registration ends
            return
        self._pending[key] = self.tasks.start(
            parent, self._register(parent, key), name=f"register {key}"
        )

    async def _register(self, parent: str, key: ObjectKey) -> None:
        try:
            await asyncio.sleep(0)  # let the batch of watch events that woke us land
            obj = self.live.get(key)
            if obj is None:
                await self._gone(parent, key)
            elif key.kind == APPLICATION:
                await self._application(obj)
            else:
                await self.registry.apply_project(manifest_of(obj))
        finally:
            self._pending.pop(key, None)
            if key in self._again:
                self._again.discard(key)
                self.on_change(parent, key)

    async def _application(self, obj: Object) -> None:
        manifest = manifest_of(obj)
        stored = self.registry.registered(str(manifest["metadata"].get("name")))
        if stored is not None and _same(stored, manifest):
            return
        project = self.live.get(
            ObjectKey(GROUP, APP_PROJECT, self.namespace, str(manifest["spec"].get("project")))
        )
        if project is not None:  # synced alongside: register it first, whatever the order
            await self.registry.apply_project(manifest_of(project))
        log.info("registering a child application", app=manifest["metadata"].get("name"))
        await self.registry.apply_application(manifest)

    async def _gone(self, parent: str, key: ObjectKey) -> None:
        if key.kind != APPLICATION:
            return  # a project stays: apps may still use it (delete it with `proj delete`)
        stored = self.registry.registered(key.name)
        if stored is None or app_of(stored) != parent:
            return  # not registered from the target by this parent: a person's app stays
        finalizers = (stored.get("metadata") or {}).get("finalizers") or []
        await self.registry.delete_application(key.name, RESOURCES_FINALIZER in finalizers)


def _same(stored: dict[str, Any], manifest: dict[str, Any]) -> bool:
    meta, new = stored.get("metadata") or {}, manifest["metadata"]
    return bool(
        stored.get("spec") == manifest["spec"]
        and all((meta.get(k) or None) == (new.get(k) or None) for k in ("labels", "finalizers"))
    )
