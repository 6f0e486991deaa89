"""Live objects from list-then-watch, one stream per resource type (an informer).

Each watched type is listed once, then watched from the list's resourceVersion with
bookmarks (``allowWatchBookmarks``), so a reconnect resumes where the stream was even when
nothing changed. A 410 Gone (the version is too old) lists again and reports what changed in
between; a dropped stream or a refused request is retried after an exponential backoff
(``conveyor.backoff``), and the refusal is shown as a target condition meanwhile. What the
streams deliver is cached and handed to every subscriber (``Target.watch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

from conveyor.backoff import exponential_delay
from conveyor.errors import ConveyorError, NotFoundError
from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.kubernetes.api import KubeApi
from conveyor.targets.kubernetes.discovery import ResourceType
from conveyor.targets.kubernetes.errors import GoneError, ThrottledError, translate
from conveyor.targets.kubernetes.tracking import with_tracking_label
from conveyor.targets.protocol import TargetCondition, WatchEvent, WatchEventType

log = get_logger(component="kubernetes-informer")

WATCH_FAILING = "ClusterWatchFailing"
"""Condition type while a resource type cannot be listed or watched."""

Sleep = Callable[[float], Awaitable[None]]


def key_of(obj: Object, res: ResourceType) -> ObjectKey:
    """The object's key, its scope as the cluster says (not as a list of kinds says)."""
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "") if res.namespaced else ""
    return ObjectKey(res.group, res.kind, namespace, str(meta.get("name", "")))


def _complete(obj: Object, res: ResourceType) -> Object:
    """List items come without apiVersion and kind: put them back; an object Argo CD tracks
    by annotation is seen with the tracking label (``tracking``)."""
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)
    return with_tracking_label(obj, key_of(obj, res))


class Informer:
    """The watched types of one cluster, their objects, and who listens."""

    def __init__(
        self,
        api: KubeApi,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        watch_timeout: int = 300,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._api = api
        self._backoff = (backoff_base, backoff_cap)
        self._watch_timeout = watch_timeout
        self._sleep = sleep
        self._tasks: dict[ResourceType, asyncio.Task[None]] = {}
        self._first_list: dict[ResourceType, asyncio.Event] = {}
        self._objects: dict[ObjectKey, Object] = {}
        self._types: dict[ObjectKey, ResourceType] = {}
        self._subscribers: list[asyncio.Queue[WatchEvent]] = []
        self._problems: dict[ResourceType, str] = {}
        self._versions: dict[ResourceType, str | None] = {}
        """Where each type's watch resumes: the last event's or bookmark's version."""
        self.relists = 0
        """How many times a type was listed again after a 410 Gone (for tests and metrics)."""
        self.reconnects = 0
        """How many times a watch was opened again after it failed."""

    @property
    def watched(self) -> list[ResourceType]:
        return sorted(self._tasks, key=lambda r: (r.group, r.kind))

    async def ensure(self, res: ResourceType) -> None:
        """Watch ``res`` (if not yet); returns once its first list was tried."""
        if not res.watchable:
            return
        if res not in self._tasks:
            self._first_list[res] = asyncio.Event()
            self._tasks[res] = asyncio.create_task(self._run(res), name=f"watch-{res.plural}")
        await self._first_list[res].wait()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def objects(self) -> list[Object]:
        return [self._objects[k] for k in sorted(self._objects)]

    def get(self, key: ObjectKey) -> Object | None:
        return self._objects.get(key)

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    def conditions(self) -> list[TargetCondition]:
        return [
            TargetCondition(WATCH_FAILING, self._problems[res])
            for res in sorted(self._problems, key=lambda r: (r.group, r.kind))
        ]

    # -- the stream of one type -----------------------------------------------------------

    async def _run(self, res: ResourceType) -> None:
        failures = 0
        self._versions[res] = None
        while True:
            try:
                if self._versions[res] is None:
                    self._versions[res] = await self._list(res)
                    self._first_list[res].set()
                await self._watch(res)
                failures = 0
                self._problems.pop(res, None)
            except GoneError:
                self.relists += 1
                self._versions[res] = None
            except NotFoundError:  # the type is gone (its CRD deleted): stop watching it
                self._first_list[res].set()
                self._forget(res)
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:  # refused or cut: show it, wait, try again
                self._first_list[res].set()
                message = err.message if isinstance(err, ConveyorError) else repr(err)
                self._problems[res] = f"cannot watch {res.plural}.{res.group or 'core'}: {message}"
                delay = exponential_delay(failures, *self._backoff)
                if isinstance(err, ThrottledError):
                    delay = max(delay, err.delay)  # the server's Retry-After
                failures += 1
                self.reconnects += 1
                log.warning("watch failed", resource=res.plural, error=message, retry_in=delay)
                await self._sleep(delay)

    async def _list(self, res: ResourceType) -> str:
        answer = await self._api.request("GET", res.path(), what=f"list {res.plural}")
        seen: set[ObjectKey] = set()
        for item in answer.get("items") or []:
            obj = _complete(item, res)
            key = key_of(obj, res)
            seen.add(key)
            self._store(WatchEventType.ADDED, key, obj, res)
        for key in [k for k, r in self._types.items() if r == res and k not in seen]:
            self._store(WatchEventType.DELETED, key, self._objects[key], res)
        self._problems.pop(res, None)
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, res: ResourceType) -> None:
        """Follow one watch request until it ends; the resume version is kept as it goes."""
        version = self._versions[res]
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._watch_timeout),
        }
        if version:
            params["resourceVersion"] = version
        async with self._api.stream(res.path(), params=params, what=f"watch {res.plural}") as lines:
            self._problems.pop(res, None)  # the server accepted the watch: it works again
            async for line in lines:
                if not line.strip():
                    continue
                event: dict[str, Any] = json.loads(line)
                obj = event.get("object") or {}
                kind = event.get("type")
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise translate(code, obj, {}, what=f"watch {res.plural}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                self._versions[res] = version
                if kind == "BOOKMARK":
                    continue
                obj = _complete(obj, res)
                self._store(WatchEventType(str(kind)), key_of(obj, res), obj, res)
                self._problems.pop(res, None)

    def _forget(self, res: ResourceType) -> None:
        """A type no longer served: its objects are gone, and it is watched no more."""
        for key in [k for k, r in self._types.items() if r == res]:
            self._store(WatchEventType.DELETED, key, self._objects[key], res)
        self._problems.pop(res, None)
        self._tasks.pop(res, None)
        self._first_list.pop(res, None)

    def _store(self, kind: WatchEventType, key: ObjectKey, obj: Object, res: ResourceType) -> None:
        old = self._objects.get(key)
        if kind is WatchEventType.DELETED:
            if self._objects.pop(key, None) is None:
                return
            self._types.pop(key, None)
        else:
            if old is not None and old.get("metadata", {}).get("resourceVersion") == obj.get(
                "metadata", {}
            ).get("resourceVersion"):
                return  # nothing new (a relist of an unchanged object)
            kind = WatchEventType.ADDED if old is None else WatchEventType.MODIFIED
            self._objects[key] = obj
            self._types[key] = res
        for queue in self._subscribers:
            queue.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))
