"""The local runtime's object store: the stand-in for the Kubernetes API server's storage.

It gives every object the identity fields Kubernetes gives (uid, resourceVersion, generation,
creationTimestamp), applies with kubectl-apply semantics, keeps an owner index for garbage
collection, tells listeners about every change (the watch), and hands each change to the
journal so that a restarted Conveyor finds the same objects.
"""

from __future__ import annotations

import builtins
import copy
import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from conveyor.clock import Clock, rfc3339
from conveyor.errors import NotFoundError
from conveyor.model import merge
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.journal import StateJournal
from conveyor.targets.protocol import WatchEvent, WatchEventType

Listener = Callable[[WatchEvent], None]

_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
)
# Fields that are not "spec-like": a change to anything else bumps metadata.generation.
_NON_GENERATION_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})


def _generation_fields(obj: Object) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _NON_GENERATION_FIELDS}


def labels_match(labels: dict[str, str], selector: dict[str, str]) -> bool:
    """True when every selector label is on the object (an empty selector matches all)."""
    return all(labels.get(k) == v for k, v in selector.items())


class ObjectStore:
    """All live objects of the local runtime, in memory, journaled."""

    def __init__(self, clock: Clock, journal: StateJournal) -> None:
        self._clock = clock
        self._journal = journal
        self._objects: dict[ObjectKey, Object] = {}
        self._children: dict[str, set[ObjectKey]] = defaultdict(set)
        self._by_kind: dict[str, set[ObjectKey]] = defaultdict(set)  # for list(kind=)
        self._versions = itertools.count(1)
        self._listeners: list[Listener] = []

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: ObjectKey) -> Object | None:
        """The stored object (shared: callers must not mutate it), or None."""
        return self._objects.get(key)

    def list(
        self,
        *,
        kind: str | None = None,
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
        group: str | None = None,
    ) -> list[Object]:
        """Stored objects matching the filters, sorted by key (shared, read-only)."""
        keys: Iterable[ObjectKey] = self._objects if kind is None else self._by_kind.get(kind, ())
        matching = []
        for key in keys:
            if group is not None and key.group != group:
                continue
            if namespace is not None and key.namespace != namespace:
                continue
            if labels and not labels_match(
                self._objects[key]["metadata"].get("labels") or {}, labels
            ):
                continue
            matching.append(key)
        return [self._objects[key] for key in sorted(matching)]

    def children(self, owner_uid: str) -> builtins.list[Object]:
        """Objects whose ownerReferences name ``owner_uid``."""
        return [
            self._objects[k]
            for k in sorted(self._children.get(owner_uid, ()))
            if k in self._objects
        ]

    def __len__(self) -> int:
        return len(self._objects)

    # -- watching --------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, kind: WatchEventType, obj: Object) -> None:
        event = WatchEvent(kind, obj)
        for listener in list(self._listeners):
            listener(event)

    # -- writing ---------------------------------------------------------------------------

    def restore(self, objects: Iterable[Object]) -> None:
        """Load objects as they were journaled (no events, no journal writes)."""
        highest = 0
        for obj in objects:
            key = ObjectKey.of(obj)
            self._objects[key] = obj
            self._by_kind[key.kind].add(key)
            self._index_owners(key, obj)
            highest = max(highest, int(obj["metadata"].get("resourceVersion") or 0))
        self._versions = itertools.count(highest + 1)

    def apply(self, desired: Object) -> Object:
        """Create or update with kubectl-apply semantics; returns the stored object."""
        return self._write_merged(desired, merge.three_way_apply)

    def replace(self, desired: Object) -> Object:
        """Replace (or create) with ``kubectl replace`` semantics: the stored object becomes
        ``desired``; only server metadata and status are kept from the live one."""
        return self._write_merged(desired, merge.replaced)

    def _write_merged(
        self, desired: Object, merged_with: Callable[[Object | None, Object], Object]
    ) -> Object:
        """Store ``merged_with(live, desired)``, in the namespace ``desired`` names."""
        key = ObjectKey.of(desired)
        live = self._objects.get(key)
        merged = merged_with(live, desired)
        if key.namespace:
            merged["metadata"]["namespace"] = key.namespace
        return self._write(key, live, merged)

    def orphan(self, owner_uid: str) -> None:
        """Take the owner reference to ``owner_uid`` off every child (orphan deletion)."""

        def drop(obj: Object) -> None:
            refs = [r for r in obj["metadata"].get("ownerReferences") or []
                    if r.get("uid") != owner_uid]  # fmt: skip
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences", None)

        for child in self.children(owner_uid):
            self.update(ObjectKey.of(child), drop)
        self._children.pop(owner_uid, None)

    def create(self, obj: Object) -> Object:
        """Store an object a controller made (a ReplicaSet, a Pod); replaces any existing one."""
        key = ObjectKey.of(obj)
        return self._write(key, self._objects.get(key), copy.deepcopy(obj))

    def update(self, key: ObjectKey, mutate: Callable[[Object], None]) -> Object:
        """Change a stored object in place through ``mutate`` (spec or metadata)."""
        live = self._objects.get(key)
        if live is None:
            raise NotFoundError("not found", obj=str(key))
        changed = copy.deepcopy(live)
        mutate(changed)
        return self._write(key, live, changed)

    def update_status(self, key: ObjectKey, status: dict[str, Any]) -> bool:
        """Replace an object's status; False when the object is gone or nothing changed."""
        live = self._objects.get(key)
        if live is None or live.get("status") == status:
            return False
        updated = dict(live)
        updated["status"] = status
        updated["metadata"] = dict(live["metadata"], resourceVersion=str(next(self._versions)))
        self._objects[key] = updated
        self._journal.record_object(str(key), updated)
        self._notify(WatchEventType.MODIFIED, updated)
        return True

    def mark_deleting(self, key: ObjectKey) -> Object | None:
        """Set deletionTimestamp (graceful deletion); None when absent."""
        live = self._objects.get(key)
        if live is None:
            return None
        if live["metadata"].get("deletionTimestamp"):
            return live
        return self.update(
            key, lambda o: o["metadata"].__setitem__("deletionTimestamp", self._now())
        )

    def remove(self, key: ObjectKey) -> Object | None:
        """Remove an object for good; returns it, or None when absent."""
        live = self._objects.pop(key, None)
        if live is None:
            return None
        self._by_kind[key.kind].discard(key)
        for ref in live["metadata"].get("ownerReferences") or []:
            self._children.get(ref.get("uid", ""), set()).discard(key)
        self._journal.record_object(str(key), None)
        self._notify(WatchEventType.DELETED, live)
        return live

    # -- internals -------------------------------------------------------------------------

    def _now(self) -> str:
        return rfc3339(self._clock.now())

    def _write(self, key: ObjectKey, live: Object | None, new: Object) -> Object:
        meta = new.setdefault("metadata", {})
        if live is None:
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or self._now()
            meta["generation"] = 1
        else:
            for field in _SERVER_METADATA:
                if field in live["metadata"] and field != "resourceVersion":
                    meta.setdefault(field, live["metadata"][field])
            meta["uid"] = live["metadata"]["uid"]
            meta["creationTimestamp"] = live["metadata"]["creationTimestamp"]
            generation = int(live["metadata"].get("generation") or 1)
            if _generation_fields(live) != _generation_fields(new):
                generation += 1
            meta["generation"] = generation
            if new == live or _same_but_version(live, new):
                return live
            for ref in live["metadata"].get("ownerReferences") or []:
                self._children.get(ref.get("uid", ""), set()).discard(key)
        meta["resourceVersion"] = str(next(self._versions))
        self._objects[key] = new
        self._by_kind[key.kind].add(key)
        self._index_owners(key, new)
        self._journal.record_object(str(key), new)
        self._notify(WatchEventType.ADDED if live is None else WatchEventType.MODIFIED, new)
        return new

    def _index_owners(self, key: ObjectKey, obj: Object) -> None:
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("uid"):
                self._children[ref["uid"]].add(key)


def _same_but_version(live: Object, new: Object) -> bool:
    """True when ``new`` differs from ``live`` only in resourceVersion."""
    a = dict(live, metadata={k: v for k, v in live["metadata"].items() if k != "resourceVersion"})
    b = dict(new, metadata={k: v for k, v in new["metadata"].items() if k != "resourceVersion"})
    return a == b
