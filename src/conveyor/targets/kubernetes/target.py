"""KubernetesTarget: the Target protocol over one cluster's API server.

Apply is server-side apply (field manager ``conveyor``, ``force=false``, so a field another
manager owns is a conflict naming it), validated first by the engine's dry run
(``dryRun=All``; skipped when the sync says Validate=false). Replace=true is a PUT of the
whole object (a POST when it does not exist). Delete passes the propagation policy to the
API server's garbage collector. Reads come from the informer's cache, filled by list and
watch; events and Pod logs from the API.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import AsyncIterator
from typing import Any

from conveyor.errors import NotFoundError
from conveyor.model.objects import Object, ObjectKey, group_of
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets import patching
from conveyor.targets.kubernetes.api import APPLY_PATCH, KubeApi
from conveyor.targets.kubernetes.discovery import Discovery, ResourceType
from conveyor.targets.kubernetes.informer import Informer
from conveyor.targets.kubernetes.migration import migration_patch
from conveyor.targets.protocol import (
    FIELD_MANAGER,
    ApplyOptions,
    Event,
    LogOptions,
    PatchType,
    Selector,
    TargetCondition,
    UnknownKindError,
    WatchEvent,
    WatchEventType,
)

WATCHED_FROM_START = (
    ("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "Service"),
    ("", "ServiceAccount"), ("", "Pod"), ("", "PersistentVolumeClaim"),
    ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"),
    ("apps", "DaemonSet"), ("batch", "Job"), ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"), ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("argoproj.io", "Rollout"), ("argoproj.io", "AnalysisRun"),
    ("argoproj.io", "AnalysisTemplate"), ("argoproj.io", "Experiment"),
)  # fmt: skip
"""Types watched from the start, when the cluster serves them: what apps usually hold, and
the children (ReplicaSets, Pods, Jobs, AnalysisRuns) their health is read from. Any other
type is watched from the first time Conveyor applies or lists it."""

NEW_KIND_WAIT = 10.0
"""Seconds an apply waits for a kind the cluster does not serve yet (a CRD being
established) before it fails as unknown."""

_PROPAGATION = {
    PropagationPolicy.FOREGROUND: "Foreground",
    PropagationPolicy.BACKGROUND: "Background",
    PropagationPolicy.ORPHAN: "Orphan",
}


def _matches(obj: Object, selector: Selector) -> bool:
    meta = obj.get("metadata") or {}
    if selector.kind is not None and obj.get("kind") != selector.kind:
        return False
    if selector.namespace is not None and meta.get("namespace") != selector.namespace:
        return False
    labels = meta.get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.labels.items())


class KubernetesTarget:
    """One cluster, reached through its API server."""

    def __init__(self, api: KubeApi, *, informer: Informer | None = None) -> None:
        self.api = api
        self.discovery = Discovery(api)
        self.informer = informer or Informer(api)

    async def start(self) -> None:
        """Read the cluster's resource types and start watching the usual ones."""
        await self.discovery.refresh()
        for group, kind in WATCHED_FROM_START:
            res = self.discovery.cached(group, kind)
            if res is not None:
                await self.informer.ensure(res)

    async def stop(self) -> None:
        await self.informer.stop()
        await self.api.close()

    async def _resource(self, obj: Object, *, wait: float) -> tuple[ResourceType, str, str]:
        api_version = str(obj.get("apiVersion") or "")
        version = api_version.rsplit("/", 1)[-1]
        res = await self.discovery.find(
            group_of(api_version), str(obj.get("kind")), version, wait=wait
        )
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default") if res.namespaced else ""
        return res, namespace, str(meta.get("name") or "")

    async def apply(self, obj: Object, options: ApplyOptions = ApplyOptions()) -> Object:
        key = ObjectKey.of(obj)
        # A dry run answers at once (the engine skips it for a kind whose CRD comes in the
        # same sync); an apply waits a little for a CRD applied just before to be served.
        wait = 0.0 if options.dry_run else NEW_KIND_WAIT
        res, namespace, name = await self._resource(obj, wait=wait)
        body = copy.deepcopy(obj)
        body.setdefault("metadata", {})
        if res.namespaced:
            body["metadata"]["namespace"] = namespace
        else:
            body["metadata"].pop("namespace", None)
        if options.dry_run and not options.validate:
            return body  # Validate=false: the server's dry run is skipped
        params = {"fieldManager": options.field_manager}
        if options.dry_run:
            params["dryRun"] = "All"
        what = str(key)
        if options.replace:
            live = await self._get(res, namespace, name, what)
            if live is None:
                stored = await self.api.request(
                    "POST", res.path(namespace), what=what, params=params, body=body
                )
            else:
                body["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
                stored = await self.api.request(
                    "PUT", res.path(namespace, name), what=what, params=params, body=body
                )
        else:
            if options.client_side_apply_migration and not options.dry_run:
                await self._migrate(res, key, namespace, name, options.field_manager)
            params["force"] = "false"
            stored = await self.api.request(
                "PATCH",
                res.path(namespace, name),
                what=what,
                params=params,
                body=body,
                content_type=APPLY_PATCH,
            )
        if not options.dry_run:
            await self.informer.ensure(res)
        return dict(stored)

    async def _migrate(
        self, res: ResourceType, key: ObjectKey, namespace: str, name: str, manager: str
    ) -> None:
        """Take over the fields client-side appliers own (``migration``), if any."""
        live = self.informer.get(key) if res in self.informer.watched else None
        if live is None:
            live = await self._get(res, namespace, name, str(key))
        patch = migration_patch(live, manager) if live is not None else None
        if patch is not None:
            await self.api.request(
                "PATCH",
                res.path(namespace, name),
                what=str(key),
                body=patch,
                content_type=PatchType.JSON.value,
            )

    async def patch(
        self,
        key: ObjectKey,
        patch: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> Object:
        patching.check_subresource(subresource, key)
        res = await self.discovery.find(key.group, key.kind)
        stored = await self.api.request(
            "PATCH",
            res.path(key.namespace, key.name, subresource or ""),
            what=str(key),
            params={"fieldManager": field_manager},
            body=patch,
            content_type=PatchType(patch_type).value,
        )
        return dict(stored)

    async def delete(
        self,
        key: ObjectKey,
        *,
        grace_period_seconds: float | None = None,
        propagation_policy: PropagationPolicy = PropagationPolicy.BACKGROUND,
    ) -> bool:
        try:
            res = await self.discovery.find(key.group, key.kind)
        except UnknownKindError:
            return False  # no such resource type, so no such object
        options: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": _PROPAGATION[PropagationPolicy(propagation_policy)],
        }
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = int(grace_period_seconds)
        try:
            await self.api.request(
                "DELETE", res.path(key.namespace, key.name), what=str(key), body=options
            )
        except NotFoundError:
            return False
        return True

    async def _get(self, res: ResourceType, namespace: str, name: str, what: str) -> Object | None:
        try:
            found = await self.api.request("GET", res.path(namespace, name), what=what)
        except NotFoundError:
            return None
        found.setdefault("apiVersion", res.api_version)
        found.setdefault("kind", res.kind)
        return dict(found)

    async def get(self, key: ObjectKey) -> Object | None:
        try:
            res = await self.discovery.find(key.group, key.kind)
        except NotFoundError:
            return None
        return await self._get(res, key.namespace, key.name, str(key))

    async def list(self, selector: Selector = Selector()) -> list[Object]:
        if selector.kind is not None:
            for res in self.discovery.resources:
                if res.kind == selector.kind:
                    await self.informer.ensure(res)
        return [copy.deepcopy(o) for o in self.informer.objects() if _matches(o, selector)]

    async def watch(self, selector: Selector = Selector()) -> AsyncIterator[WatchEvent]:
        queue = self.informer.subscribe()
        try:
            for obj in await self.list(selector):
                yield WatchEvent(WatchEventType.ADDED, obj)
            while True:
                event = await queue.get()
                if _matches(event.object, selector):
                    yield event
        finally:
            self.informer.unsubscribe(queue)

    async def logs(
        self, namespace: str, pod: str, options: LogOptions = LogOptions()
    ) -> AsyncIterator[str]:
        params: dict[str, str] = {}
        if options.container:
            params["container"] = options.container
        if options.tail_lines is not None:
            params["tailLines"] = str(options.tail_lines)
        if options.previous:
            params["previous"] = "true"
        if options.follow:
            params["follow"] = "true"
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        async with self.api.stream(path, params=params, what=f"Pod/{namespace}/{pod}") as lines:
            async for line in lines:
                yield line

    async def events(self, key: ObjectKey | None = None) -> builtins.list[Event]:
        path = "/api/v1/events"
        params: dict[str, str] = {}
        if key is not None:
            if key.namespace:
                path = f"/api/v1/namespaces/{key.namespace}/events"
            params["fieldSelector"] = (
                f"involvedObject.kind={key.kind},involvedObject.name={key.name}"
            )
        answer = await self.api.request("GET", path, what="events", params=params)
        found = []
        for item in answer.get("items") or []:
            involved = item.get("involvedObject") or {}
            found.append(
                Event(
                    involved=ObjectKey(
                        group_of(str(involved.get("apiVersion") or "v1")),
                        str(involved.get("kind", "")),
                        str(involved.get("namespace") or ""),
                        str(involved.get("name", "")),
                    ),
                    reason=str(item.get("reason", "")),
                    message=str(item.get("message", "")),
                    type=str(item.get("type") or "Normal"),
                    count=int(item.get("count") or 1),
                    first_timestamp=str(item.get("firstTimestamp") or ""),
                    last_timestamp=str(item.get("lastTimestamp") or ""),
                )
            )
        return found

    def conditions(self) -> builtins.list[TargetCondition]:
        return self.informer.conditions()
