"""The engine's view of the live objects: one watch per target, indexed by application.

Like an informer: one watch stream fills a cache, and every reconcile reads the cache instead
of listing the target, so comparing a thousand apps costs no request at all. Objects carry the
tracking label of the app they belong to; their children (ReplicaSets, Pods) are found through
ownerReferences, for the resource tree and for telling which app a child's change concerns.

What the engine itself applies is recorded at once (``observe``), so that the reconcile right
after a sync sees its own writes even before the watch delivers them; a watched object never
replaces a newer one (resourceVersion compared as numbers when both are numbers), and the
watch's echo of a write already observed (same resourceVersion) changes nothing and
requeues nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable

from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.protocol import TRACKING_LABEL, Selector, Target, WatchEventType

log = get_logger(component="live-state")

Listener = Callable[[str, ObjectKey], None]
"""Called with (application name, object key) when an object of that app changes."""


def _version(obj: Object) -> int | None:
    raw = obj.get("metadata", {}).get("resourceVersion")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def app_of(obj: Object) -> str | None:
    """The application an object is tracked by, from its label."""
    labels = obj.get("metadata", {}).get("labels") or {}
    value = labels.get(TRACKING_LABEL)
    return value if isinstance(value, str) else None


class LiveState:
    """Cache of one target's objects, fed by its watch."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._objects: dict[ObjectKey, Object] = {}
        self._by_app: dict[str, set[ObjectKey]] = defaultdict(set)
        self._by_uid: dict[str, ObjectKey] = {}
        self._children: dict[str, set[ObjectKey]] = defaultdict(set)
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        """Start watching; returns once the initial list is in the cache."""
        for obj in await self.target.list(Selector()):
            self._put(ObjectKey.of(obj), obj)
        self._task = asyncio.create_task(self._watch(), name="live-state-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- reads ------------------------------------------------------------------------------

    def get(self, key: ObjectKey) -> Object | None:
        """The cached object (do not modify it)."""
        return self._objects.get(key)

    def app_objects(self, app: str) -> list[Object]:
        """Objects that carry ``app``'s tracking label, in key order."""
        keys = sorted(self._by_app.get(app, ()))
        return [self._objects[k] for k in keys]

    def children(self, obj: Object) -> list[Object]:
        """Objects whose ownerReferences name ``obj``."""
        uid = obj.get("metadata", {}).get("uid")
        if not uid:
            return []
        return [self._objects[k] for k in sorted(self._children.get(uid, ()))]

    def apps(self) -> set[str]:
        """Names of apps that have objects on the target."""
        return {app for app, keys in self._by_app.items() if keys}

    async def wait_for_change(self, timeout: float) -> None:
        """Return at the next change (or after ``timeout`` seconds)."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    # -- writes -----------------------------------------------------------------------------

    def observe(self, obj: Object) -> None:
        """Record an object the engine just wrote (or read)."""
        self._put(ObjectKey.of(obj), obj)

    def forget(self, key: ObjectKey) -> None:
        """Record that the engine deleted an object."""
        self._remove(key)

    async def _watch(self) -> None:
        while True:
            try:
                async for event in self.target.watch(Selector()):
                    key = ObjectKey.of(event.object)
                    if event.type is WatchEventType.DELETED:
                        self._remove(key)
                    elif not self._put(key, event.object):
                        continue  # the engine's own write, already observed: nothing new
                    await self._notify()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the watch broke: start it again after a pause
                log.warning("watch failed; restarting", error=str(err))
                await asyncio.sleep(1.0)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _put(self, key: ObjectKey, obj: Object) -> bool:
        """Cache ``obj``; False (and nobody told) when the cache has it or a newer one."""
        old = self._objects.get(key)
        if old is not None:
            new_v, old_v = _version(obj), _version(old)
            if new_v is not None and old_v is not None and new_v <= old_v:
                return False
            self._unindex(key, old)
        self._objects[key] = obj
        meta = obj.get("metadata", {})
        app = app_of(obj)
        if app:
            self._by_app[app].add(key)
        if meta.get("uid"):
            self._by_uid[meta["uid"]] = key
        for ref in meta.get("ownerReferences") or []:
            if ref.get("uid"):
                self._children[ref["uid"]].add(key)
        self._tell(key, obj)
        return True

    def _remove(self, key: ObjectKey) -> None:
        old = self._objects.pop(key, None)
        if old is None:
            return
        self._unindex(key, old)
        self._tell(key, old)

    def _unindex(self, key: ObjectKey, obj: Object) -> None:
        meta = obj.get("metadata", {})
        app = app_of(obj)
        if app:
            self._by_app[app].discard(key)
        if meta.get("uid"):
            self._by_uid.pop(meta["uid"], None)
        for ref in meta.get("ownerReferences") or []:
            if ref.get("uid"):
                self._children[ref["uid"]].discard(key)

    def _root_app(self, obj: Object) -> str | None:
        """The app of ``obj`` or of the nearest owner that has one (a Pod's Deployment)."""
        seen = 0
        while obj is not None and seen < 8:
            app = app_of(obj)
            if app:
                return app
            refs = obj.get("metadata", {}).get("ownerReferences") or []
            owner_key = self._by_uid.get(refs[0].get("uid", "")) if refs else None
            if owner_key is None:
                return None
            owner = self._objects.get(owner_key)
            if owner is None:
                return None
            obj = owner
            seen += 1
        return None

    def _tell(self, key: ObjectKey, obj: Object) -> None:
        if not self._listeners:
            return
        app = self._root_app(obj)
        if app is None:
            return
        for listener in self._listeners:
            listener(app, key)
