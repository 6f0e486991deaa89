"""The live state and the target a ``Fleet`` shows: those of its members, put together.

What is asked about one app (its objects) goes to the member that owns the app. What is
asked about one object by its key alone (a Rollout by namespace and name, a Pod's log, an
access check) goes to the first member whose live cache holds that key, the primary first;
when none holds it, to the primary. Two clusters can hold objects under the same key: such a
key-only lookup then finds the primary's (or the first cluster's) object, which is why
everything that knows the app goes through ``engine.fleet.owner`` instead. Lists and
watches cover every member.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from conveyor.engine.livestate import Listener, LiveState
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets.protocol import (
    FIELD_MANAGER,
    ApplyOptions,
    Event,
    LogOptions,
    PatchType,
    Selector,
    Target,
    TargetCondition,
    WatchEvent,
)

if TYPE_CHECKING:
    from conveyor.engine.controller import Controller

Parts = Callable[[], "list[Controller]"]


def _holder(parts: Parts, key: ObjectKey) -> Controller:
    members = parts()
    for member in members:
        if member.live.get(key) is not None:
            return member
    return members[0]


class FleetTarget:
    """The ``Target`` of a fleet: each call goes to the member that holds the object."""

    def __init__(self, parts: Parts) -> None:
        self._parts = parts

    def _target(self, key: ObjectKey) -> Target:
        return _holder(self._parts, key).target

    async def apply(self, obj: Object, options: ApplyOptions = ApplyOptions()) -> Object:
        return await self._target(ObjectKey.of(obj)).apply(obj, options)

    async def patch(
        self,
        key: ObjectKey,
        patch: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> Object:
        return await self._target(key).patch(
            key, patch, patch_type=patch_type, subresource=subresource,
            field_manager=field_manager,
        )  # fmt: skip

    async def delete(
        self,
        key: ObjectKey,
        *,
        grace_period_seconds: float | None = None,
        propagation_policy: PropagationPolicy = PropagationPolicy.BACKGROUND,
    ) -> bool:
        return await self._target(key).delete(
            key, grace_period_seconds=grace_period_seconds, propagation_policy=propagation_policy
        )

    async def get(self, key: ObjectKey) -> Object | None:
        for member in self._parts():
            found = await member.target.get(key)
            if found is not None:
                return found
        return None

    async def list(self, selector: Selector = Selector()) -> builtins.list[Object]:
        return [o for m in self._parts() for o in await m.target.list(selector)]

    async def watch(self, selector: Selector = Selector()) -> AsyncIterator[WatchEvent]:
        """Every member's watch, merged; ends with the first member's error."""
        queue: asyncio.Queue[WatchEvent | BaseException] = asyncio.Queue()

        async def pump(target: Target) -> None:
            try:
                async for event in target.watch(selector):
                    await queue.put(event)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                await queue.put(err)

        pumps = [asyncio.create_task(pump(m.target)) for m in self._parts()]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def logs(
        self, namespace: str, pod: str, options: LogOptions = LogOptions()
    ) -> AsyncIterator[str]:
        target = self._target(ObjectKey("", "Pod", namespace, pod))
        async for line in target.logs(namespace, pod, options):
            yield line

    async def events(self, key: ObjectKey | None = None) -> builtins.list[Event]:
        if key is not None:
            return await self._target(key).events(key)
        return [e for m in self._parts() for e in await m.target.events(None)]

    def conditions(self) -> builtins.list[TargetCondition]:
        return [c for m in self._parts() for c in m.target.conditions()]


class FleetLive(LiveState):
    """The live cache of a fleet: reads its members' caches (it holds nothing itself)."""

    def __init__(
        self, target: FleetTarget, parts: Parts, owner: Callable[[str], Controller | None]
    ) -> None:
        super().__init__(target)
        self._parts = parts
        self._owner = owner

    async def start(self) -> None:
        """Nothing to watch: each member's cache is started with its member."""

    async def stop(self) -> None:
        """Nothing to stop (see ``start``)."""

    def add_listener(self, listener: Listener) -> None:
        for member in self._parts():
            member.live.add_listener(listener)

    def get(self, key: ObjectKey) -> Object | None:
        for member in self._parts():
            found = member.live.get(key)
            if found is not None:
                return found
        return None

    def app_objects(self, app: str) -> list[Object]:
        member = self._owner(app)
        if member is not None:
            return member.live.app_objects(app)
        for other in self._parts():  # a deleted app's leftovers, wherever they are
            found = other.live.app_objects(app)
            if found:
                return found
        return []

    def children(self, obj: Object) -> list[Object]:
        for member in self._parts():
            found = member.live.children(obj)
            if found:
                return found
        return []

    def apps(self) -> set[str]:
        return {a for m in self._parts() for a in m.live.apps()}

    async def wait_for_change(self, timeout: float) -> None:
        waits = [asyncio.ensure_future(m.live.wait_for_change(timeout)) for m in self._parts()]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def observe(self, obj: Object) -> None:
        _holder(self._parts, ObjectKey.of(obj)).live.observe(obj)

    def forget(self, key: ObjectKey) -> None:
        _holder(self._parts, key).live.forget(key)
