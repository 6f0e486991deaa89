"""The object store: identity fields, apply semantics, owner index, watch events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.errors import ValidationError
from conveyor.model.merge import LAST_APPLIED
from conveyor.model.objects import ObjectKey
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.objects import ObjectStore
from conveyor.targets.protocol import WatchEvent, WatchEventType


class FixedClock:
    def monotonic(self) -> float:
        return 0.0

    def now(self) -> datetime:
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def configmap(data: dict[str, str], **labels: str) -> dict:
    meta: dict = {"name": "settings", "namespace": "dev"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(FixedClock(), MemoryJournal())


def test_create_sets_kubernetes_identity_fields(store: ObjectStore) -> None:
    obj = store.apply(configmap({"a": "1"}))
    meta = obj["metadata"]
    assert meta["uid"] and meta["resourceVersion"] == "1"
    assert meta["generation"] == 1
    assert meta["creationTimestamp"] == "2026-01-02T03:04:05Z"
    assert LAST_APPLIED in meta["annotations"]


def test_reapplying_the_same_object_changes_nothing(store: ObjectStore) -> None:
    first = store.apply(configmap({"a": "1"}))
    again = store.apply(configmap({"a": "1"}))
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_apply_removes_fields_it_applied_before_and_keeps_others(store: ObjectStore) -> None:
    store.apply(configmap({"a": "1", "b": "2"}, team="x"))
    key = ObjectKey("", "ConfigMap", "dev", "settings")
    store.update(key, lambda o: o["metadata"]["labels"].update({"added-by-hand": "yes"}))
    result = store.apply(configmap({"a": "1"}, team="y"))
    assert result["data"] == {"a": "1"}
    assert result["metadata"]["labels"] == {"team": "y", "added-by-hand": "yes"}
    assert result["metadata"]["generation"] == 2


def test_status_is_never_applied_and_does_not_bump_generation(store: ObjectStore) -> None:
    key = ObjectKey("", "ConfigMap", "dev", "settings")
    store.apply(configmap({"a": "1"}))
    store.update_status(key, {"phase": "Set by runtime"})
    with_status = dict(configmap({"a": "1"}), status={"phase": "from git"})
    result = store.apply(with_status)
    assert result["status"] == {"phase": "Set by runtime"}
    assert result["metadata"]["generation"] == 1


def test_watchers_see_added_modified_deleted(store: ObjectStore) -> None:
    seen: list[WatchEvent] = []
    store.add_listener(seen.append)
    store.apply(configmap({"a": "1"}))
    store.apply(configmap({"a": "2"}))
    store.remove(ObjectKey("", "ConfigMap", "dev", "settings"))
    assert [e.type for e in seen] == [
        WatchEventType.ADDED,
        WatchEventType.MODIFIED,
        WatchEventType.DELETED,
    ]


def test_children_are_indexed_by_owner_uid(store: ObjectStore) -> None:
    owner = store.apply(configmap({}))
    child = configmap({})
    child["metadata"]["name"] = "child"
    child["metadata"]["ownerReferences"] = [
        {"kind": "ConfigMap", "name": "settings", "uid": owner["metadata"]["uid"]}
    ]
    store.create(child)
    assert [c["metadata"]["name"] for c in store.children(owner["metadata"]["uid"])] == ["child"]


def test_restore_continues_resource_versions(store: ObjectStore) -> None:
    journal = MemoryJournal()
    first = ObjectStore(FixedClock(), journal)
    first.apply(configmap({"a": "1"}))
    first.apply(configmap({"a": "2"}))
    second = ObjectStore(FixedClock(), journal)
    second.restore(journal.state.objects)
    updated = second.apply(configmap({"a": "3"}))
    assert int(updated["metadata"]["resourceVersion"]) > 2


def test_object_without_name_is_refused(store: ObjectStore) -> None:
    with pytest.raises(ValidationError, match=r"metadata\.name is required"):
        store.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
