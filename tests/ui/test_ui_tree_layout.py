"""The resource tree's layout: one column per level, a parent level with the middle of its
children, a line from each parent to each child, no two boxes on top of each other."""

from __future__ import annotations

from typing import Any

from conveyor.api.ui.tree_layout import BOX_H, LABEL_MAX, layout


def node(kind: str, name: str, uid: str, parent: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "group": "apps" if kind in ("Deployment", "ReplicaSet") else "",
        "kind": kind,
        "namespace": "web",
        "name": name,
        "uid": uid,
        "health": {"status": "Healthy"},
    }
    if parent is not None:
        found["parentRefs"] = [{"uid": parent}]
    return found


APP = {
    "metadata": {"name": "web", "namespace": "argocd"},
    "status": {
        "sync": {"status": "OutOfSync"},
        "health": {"status": "Healthy"},
        "resources": [
            {"kind": "Deployment", "namespace": "web", "name": "web", "status": "Synced"},
            {"kind": "ConfigMap", "namespace": "web", "name": "settings", "status": "OutOfSync"},
        ],
    },
}


def test_deployment_replicaset_pods_are_drawn_left_to_right() -> None:
    nodes = [
        node("Deployment", "web", "d"),
        node("ReplicaSet", "web-abc", "rs", "d"),
        node("Pod", "web-abc-1", "p1", "rs"),
        node("Pod", "web-abc-2", "p2", "rs"),
        node("ConfigMap", "settings", "cm"),
    ]
    tree = layout(APP, nodes)
    boxes = {b.uid: b for b in tree.boxes}
    assert [boxes[u].x for u in ("app", "d", "rs", "p1")] == sorted(
        {boxes[u].x for u in ("app", "d", "rs", "p1")}
    )
    assert boxes["p1"].x == boxes["p2"].x
    assert boxes["cm"].x == boxes["d"].x  # both tracked by the app
    assert boxes["rs"].y == (boxes["p1"].y + boxes["p2"].y) // 2
    assert boxes["cm"].y < boxes["d"].y  # ConfigMaps before Deployments, as Argo CD sorts
    positions = [(b.x, b.y) for b in tree.boxes]
    assert len(set(positions)) == len(positions)
    assert all(abs(a.y - b.y) >= BOX_H for a in tree.boxes for b in tree.boxes
               if a is not b and a.x == b.x)  # fmt: skip
    assert sorted((line.parent, line.child) for line in tree.lines) == sorted(
        [("app", "d"), ("app", "cm"), ("d", "rs"), ("rs", "p1"), ("rs", "p2")]
    )
    assert (boxes["d"].sync, boxes["cm"].sync, boxes["rs"].sync) == ("Synced", "OutOfSync", "")
    assert tree.width >= boxes["p1"].x + 200 and tree.height >= boxes["p2"].y + BOX_H


def test_an_app_with_nothing_live_is_one_box() -> None:
    tree = layout(APP, [])
    assert [b.kind for b in tree.boxes] == ["Application"]
    assert tree.lines == [] and tree.height > BOX_H


def test_a_long_name_is_cut_in_its_box() -> None:
    tree = layout(APP, [node("Pod", "a-very-long-pod-name-that-does-not-fit-0123", "p")])
    pod = next(b for b in tree.boxes if b.kind == "Pod")
    assert pod.label.endswith("\u2026") and len(pod.label) == LABEL_MAX
