"""Live state from list then watch: bookmarks, 410 Gone and relist, a cut stream."""

from __future__ import annotations

import asyncio

from k8s_helpers import configmap, until

from conveyor.model.objects import ObjectKey
from conveyor.targets.kubernetes.target import KubernetesTarget
from conveyor.targets.protocol import Selector, WatchEvent, WatchEventType
from support.kube_api import KubeApiServer, Res

CONFIGMAPS = "/api/v1/configmaps"


def watches(api: KubeApiServer) -> list[dict[str, str]]:
    """The query of every watch request on ConfigMaps, in order."""
    return [
        dict(r.params)
        for r in api.kmock["get"]
        if r.url.path == CONFIGMAPS and r.params.get("watch") == "true"
    ]


def configmap_lists(api: KubeApiServer) -> list[object]:
    return [r for r in api.kmock["get"] if r.url.path == CONFIGMAPS and "watch" not in r.params]


async def collect(target: KubernetesTarget, into: list[WatchEvent]) -> None:
    async for event in target.watch(Selector(kind="ConfigMap")):
        into.append(event)


def names(events: list[WatchEvent], kind: WatchEventType) -> list[str]:
    return [e.object["metadata"]["name"] for e in events if e.type is kind]


async def test_a_type_is_listed_then_watched_with_bookmarks_from_the_lists_version(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    first = watches(api)[0]
    assert first["allowWatchBookmarks"] == "true"
    assert first["resourceVersion"]  # the list's version: nothing listed is sent again
    events: list[WatchEvent] = []
    task = asyncio.create_task(collect(target, events))
    try:
        await target.apply(configmap("a"))
        await until(lambda: "a" in names(events, WatchEventType.ADDED), what="a ADDED")
        await api.write({**configmap("a"), "data": {"k": "changed"}})
        await until(lambda: "a" in names(events, WatchEventType.MODIFIED), what="a MODIFIED")
        assert target.informer.get(ObjectKey("", "ConfigMap", "shop", "a"))["data"] == {  # type: ignore[index]
            "k": "changed"
        }
    finally:
        task.cancel()


async def test_a_cut_stream_reconnects_from_the_last_bookmark_with_backoff(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await target.apply(configmap("a"))
    await until(lambda: target.informer.get(ObjectKey("", "ConfigMap", "shop", "a")) is not None,
                what="a cached")  # fmt: skip
    await api.write({**configmap("other"), "metadata": {"name": "other", "namespace": "x"}})
    api.bookmark()
    bookmark = str(api._current())
    await until(lambda: api.open_watches >= 1, what="open watches")
    before = len(watches(api))
    api.cut_watches()
    await until(lambda: len(watches(api)) > before, what="the watch reopened")
    reopened = [w for w in watches(api)[before:] if w.get("resourceVersion") == bookmark]
    assert reopened, "the watch resumes from the bookmark's version"
    assert target.informer.reconnects >= 1
    await target.apply(configmap("b"))  # and it still delivers
    await until(lambda: target.informer.get(ObjectKey("", "ConfigMap", "shop", "b")) is not None,
                what="b cached after the reconnect")  # fmt: skip


async def test_410_gone_lists_again_and_reports_what_changed_meanwhile(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await target.apply(configmap("stays"))
    await target.apply(configmap("goes"))
    events: list[WatchEvent] = []
    task = asyncio.create_task(collect(target, events))
    try:
        await until(lambda: len(names(events, WatchEventType.ADDED)) == 2, what="both ADDED")
        lists = len(configmap_lists(api))
        api.cut_watches()  # the stream goes, then the history it would resume from goes too
        del api.objects[next(k for k in api.objects if k[2] == "goes")]
        api.compact()
        await until(lambda: len(configmap_lists(api)) > lists, what="ConfigMaps listed again")
        assert target.informer.relists >= 1
        await until(lambda: "goes" in names(events, WatchEventType.DELETED), what="goes DELETED")
        assert target.informer.get(ObjectKey("", "ConfigMap", "shop", "stays")) is not None
    finally:
        task.cancel()


async def test_410_inside_an_open_stream_lists_again(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await until(lambda: api.open_watches >= 1, what="open watches")
    api.expire_watches()
    await until(lambda: target.informer.relists >= 1, what="a relist after the ERROR 410 event")
    await target.apply(configmap("after"))
    after = ObjectKey("", "ConfigMap", "shop", "after")
    await until(lambda: target.informer.get(after) is not None, what="after cached")


async def test_an_object_argo_cd_tracks_by_annotation_is_seen_as_its_apps(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    mine = configmap("mine", app="ignored")
    del mine["metadata"]["labels"]
    mine["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/mine"
    }
    copied = configmap("copied", app="ignored")
    del copied["metadata"]["labels"]
    copied["metadata"]["annotations"] = {  # copied from another object: not trusted
        "argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/mine"
    }
    await api.write(mine, manager="argocd-controller")
    await api.write(copied, manager="argocd-controller")
    key = ObjectKey("", "ConfigMap", "shop", "copied")
    await until(lambda: target.informer.get(key) is not None, what="both cached")
    listed = await target.list(Selector(labels={"app.kubernetes.io/instance": "shop"}))
    assert [o["metadata"]["name"] for o in listed] == ["mine"]


async def test_a_type_the_cluster_stops_serving_is_dropped_with_its_objects(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    widgets = Res("example.com", "v1", "widgets", "Widget")
    api.serve(widgets)
    await target.discovery.refresh()
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": "shop"}}  # fmt: skip
    await target.apply(widget)
    key = ObjectKey("example.com", "Widget", "shop", "w")
    await until(lambda: target.informer.get(key) is not None, what="the widget cached")
    del api.resources[("example.com", "v1", "widgets")]  # the CRD was deleted
    api.compact()
    api.cut_watches()
    await until(lambda: target.informer.get(key) is None, what="the widget forgotten")
    assert "widgets" not in [r.plural for r in target.informer.watched]
    await until(lambda: target.conditions() == [], what="no type left failing")
    assert await target.delete(ObjectKey("example.com", "Gadget", "shop", "g")) is False
