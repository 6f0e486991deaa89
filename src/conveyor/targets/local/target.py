"""LocalTarget: the Target protocol over the local runtime."""

from __future__ import annotations

import asyncio
import builtins
import copy
from collections.abc import AsyncIterator
from typing import Any

from conveyor.clock import rfc3339
from conveyor.errors import NotFoundError
from conveyor.model import merge
from conveyor.model.objects import CLUSTER_SCOPED_KINDS, Object, ObjectKey
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets import patching
from conveyor.targets.local import rollouts
from conveyor.targets.local.kinds import BUILT_IN_GROUPS, CRD_KIND, check_kind
from conveyor.targets.local.objects import labels_match
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.validation import admit
from conveyor.targets.protocol import (
    FIELD_MANAGER,
    STATUS_SUBRESOURCE,
    ApplyOptions,
    Event,
    LogOptions,
    PatchType,
    Selector,
    TargetCondition,
    WatchEvent,
    WatchEventType,
)

NO_LOCAL_BEHAVIOUR = "conveyor.dev/local-runtime"
"""Annotation on objects of kinds the local runtime stores but does not act on."""

RUNTIME_STATE_NOT_PERSISTED = "RuntimeStateNotPersisted"
"""Condition type while the runtime's journal cannot be written."""

KINDS_WITH_BEHAVIOUR = frozenset(
    {"Namespace", "ConfigMap", "Secret", "Deployment", "ReplicaSet", "Pod", "Service", "Job"}
)


def _matches(obj: Object, selector: Selector) -> bool:
    if selector.kind is not None and obj.get("kind") != selector.kind:
        return False
    if selector.namespace is not None and obj["metadata"].get("namespace") != selector.namespace:
        return False
    return labels_match(obj["metadata"].get("labels") or {}, selector.labels)


class LocalTarget:
    """The embedded default target: Kubernetes kinds with real behaviour on this machine."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime

    async def apply(self, obj: Object, options: ApplyOptions = ApplyOptions()) -> Object:
        key = ObjectKey.of(obj)
        if key.group not in BUILT_IN_GROUPS:
            check_kind(key, self.runtime.store.list(kind=CRD_KIND))
        live = self.runtime.store.get(key)
        desired = admit(copy.deepcopy(obj), live, strict=options.validate)
        if key.namespace:
            desired.setdefault("metadata", {})["namespace"] = key.namespace
            if self.runtime.store.get(ObjectKey("", "Namespace", "", key.namespace)) is None:
                raise NotFoundError(
                    f'namespaces "{key.namespace}" not found; create it first '
                    "(or sync with CreateNamespace=true)",
                    obj=str(key),
                )
        has_behaviour = key.kind in KINDS_WITH_BEHAVIOUR or rollouts.is_rollout(key)
        if not has_behaviour and key.kind not in CLUSTER_SCOPED_KINDS:
            annotations = desired.setdefault("metadata", {}).setdefault("annotations", {})
            annotations.setdefault(
                NO_LOCAL_BEHAVIOUR, "stored only: this kind has no behaviour on the local target"
            )
        if options.dry_run:
            if options.replace:
                return merge.replaced(live, desired)
            return merge.three_way_apply(copy.deepcopy(live) if live else None, desired)
        if options.replace:
            return copy.deepcopy(self.runtime.store.replace(desired))
        return copy.deepcopy(self.runtime.store.apply(desired))

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
        live = self.runtime.store.get(key)
        if live is None:
            raise NotFoundError(f'{key.kind} "{key.name}" not found', obj=str(key))
        patched = patching.apply_patch(live, patch, PatchType(patch_type))
        written = patching.split_status(live, patched, subresource)
        if subresource == STATUS_SUBRESOURCE:
            self.runtime.store.update_status(key, written)
            return copy.deepcopy(self.runtime.store.get(key) or live)
        return await self.apply(written, ApplyOptions(field_manager=field_manager))

    async def delete(
        self,
        key: ObjectKey,
        *,
        grace_period_seconds: float | None = None,
        propagation_policy: PropagationPolicy = PropagationPolicy.BACKGROUND,
    ) -> bool:
        return self.runtime.delete(key, grace_period_seconds, propagation_policy)

    async def get(self, key: ObjectKey) -> Object | None:
        obj = self.runtime.store.get(key)
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, selector: Selector = Selector()) -> list[Object]:
        return [
            copy.deepcopy(o)
            for o in self.runtime.store.list(
                kind=selector.kind, namespace=selector.namespace, labels=selector.labels
            )
        ]

    async def watch(self, selector: Selector = Selector()) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()

        def listener(event: WatchEvent) -> None:
            if _matches(event.object, selector):
                queue.put_nowait(WatchEvent(event.type, copy.deepcopy(event.object)))

        remove = self.runtime.store.add_listener(listener)
        try:
            for obj in await self.list(selector):
                yield WatchEvent(WatchEventType.ADDED, obj)
            while True:
                yield await queue.get()
        finally:
            remove()

    async def logs(
        self, namespace: str, pod: str, options: LogOptions = LogOptions()
    ) -> AsyncIterator[str]:
        key = ObjectKey("", "Pod", namespace, pod)
        if self.runtime.store.get(key) is None:
            raise NotFoundError(f'pods "{pod}" not found', obj=f"Pod/{namespace}/{pod}")
        async for line in self.runtime.kubelet.logs(
            key,
            container=options.container,
            tail_lines=options.tail_lines,
            previous=options.previous,
            follow=options.follow,
        ):
            yield line

    async def events(self, key: ObjectKey | None = None) -> builtins.list[Event]:
        return self.runtime.events.list(key)

    def conditions(self) -> builtins.list[TargetCondition]:
        failure = self.runtime.journal.failure
        if failure is None:
            return []
        return [
            TargetCondition(
                RUNTIME_STATE_NOT_PERSISTED,
                f"the local runtime cannot write its state to the store since "
                f"{rfc3339(failure.since)} ({failure.error}); what it runs now would not "
                "survive a restart. Check the database; writing is retried.",
            )
        ]
