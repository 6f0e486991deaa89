"""Where each box of the resource tree goes, as Argo CD draws it: left to right, in columns.

The Application is the root at the left; the objects it tracks form the next column, and
what each one owns (Deployment -> ReplicaSet -> Pods, Rollout -> ReplicaSets and
AnalysisRuns) the columns after. Each leaf takes a row of its own and a parent sits level with
the middle of its children, so no two lines cross; a line joins the right edge of a parent to
the left edge of each child. Pure: nodes in (``engine.views.resource_tree``), boxes and lines
out, drawn as SVG by ``templates/tabs/tree.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOX_W = 250
BOX_H = 56
GAP_X = 70
GAP_Y = 18
PAD = 12
LABEL_MAX = 21
"""Characters of a name that fit in a box; the full name is in the box's tooltip."""

ICONS = {
    "Application": "app",
    "Deployment": "deploy",
    "ReplicaSet": "rs",
    "Pod": "pod",
    "Service": "svc",
    "ConfigMap": "cm",
    "Secret": "secret",
    "Namespace": "ns",
    "Job": "job",
    "Rollout": "rollout",
    "AnalysisRun": "run",
    "AnalysisTemplate": "tmpl",
    "Ingress": "ing",
    "ServiceAccount": "sa",
    "StatefulSet": "sts",
    "DaemonSet": "ds",
}
"""Argo CD's short kind names, shown as each box's icon."""

KIND_ORDER = ["Namespace", "ConfigMap", "Secret", "Service", "Deployment", "Rollout", "Job"]


@dataclass
class Box:
    """One resource's box."""

    kind: str
    name: str
    group: str
    namespace: str
    health: str
    sync: str
    """The resource's sync status (top-level objects only; '' for what they own)."""
    x: int = 0
    y: int = 0
    uid: str = ""
    children: list[Box] = field(default_factory=list)

    @property
    def icon(self) -> str:
        return ICONS.get(self.kind, self.kind[:4].lower())

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= LABEL_MAX else self.name[: LABEL_MAX - 1] + "\u2026"


@dataclass(frozen=True)
class Line:
    """A connector from a parent's right edge to a child's left edge (an SVG path)."""

    parent: str
    child: str
    path: str


@dataclass(frozen=True)
class Tree:
    boxes: list[Box]
    lines: list[Line]
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H


def _order(box: Box) -> tuple[int, str, str]:
    rank = KIND_ORDER.index(box.kind) if box.kind in KIND_ORDER else len(KIND_ORDER)
    return rank, box.kind, box.name


def _syncs(app: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    found = {}
    for res in (app.get("status") or {}).get("resources") or []:
        key = (str(res.get("kind")), str(res.get("namespace") or ""), str(res.get("name")))
        found[key] = str(res.get("status") or "")
    return found


def layout(app: dict[str, Any], nodes: list[dict[str, Any]]) -> Tree:
    """The boxes and lines of ``app``'s tree; ``nodes`` are the resource tree's nodes."""
    meta, status = app.get("metadata") or {}, app.get("status") or {}
    root = Box(
        "Application",
        str(meta.get("name", "")),
        "argoproj.io",
        str(meta.get("namespace", "")),
        str((status.get("health") or {}).get("status") or "Unknown"),
        str((status.get("sync") or {}).get("status") or "Unknown"),
        uid="app",
    )
    syncs = _syncs(app)
    boxes: dict[str, Box] = {}
    for node in nodes:
        parents = node.get("parentRefs") or []
        key = (str(node["kind"]), str(node["namespace"]), str(node["name"]))
        boxes[str(node["uid"])] = Box(
            str(node["kind"]),
            str(node["name"]),
            str(node.get("group", "")),
            str(node.get("namespace", "")),
            str((node.get("health") or {}).get("status") or ""),
            "" if parents else syncs.get(key, ""),
            uid=str(node["uid"]),
        )
    for node in nodes:
        box = boxes[str(node["uid"])]
        parents = [str(p.get("uid")) for p in node.get("parentRefs") or []]
        owner = next((boxes[p] for p in parents if p in boxes), root)
        owner.children.append(box)
    placed: list[Box] = []
    lines: list[Line] = []
    rows = _place(root, 0, 0, placed)
    for box in placed:
        for child in box.children:
            lines.append(Line(box.uid, child.uid, _curve(box, child)))
    columns = max((b.x for b in placed), default=0) + BOX_W + PAD
    return Tree(placed, lines, columns, max(rows, 1) * (BOX_H + GAP_Y) - GAP_Y + 2 * PAD)


def _place(box: Box, depth: int, row: int, placed: list[Box]) -> int:
    """Place ``box`` and its subtree from ``row`` on; returns the next free row."""
    box.children.sort(key=_order)
    box.x = PAD + depth * (BOX_W + GAP_X)
    placed.append(box)
    if not box.children:
        box.y = PAD + row * (BOX_H + GAP_Y)
        return row + 1
    next_row = row
    for child in box.children:
        next_row = _place(child, depth + 1, next_row, placed)
    box.y = (box.children[0].y + box.children[-1].y) // 2
    return next_row


def _curve(parent: Box, child: Box) -> str:
    x1, y1 = parent.x + BOX_W, parent.y + BOX_H // 2
    x2, y2 = child.x, child.y + BOX_H // 2
    mid = (x1 + x2) // 2
    return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
