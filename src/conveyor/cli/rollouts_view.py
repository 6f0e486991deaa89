"""How ``conveyor rollouts get`` draws a Rollout, as ``kubectl argo rollouts get`` does.

Pure functions from Argo Rollouts' ``RolloutInfo`` (``conveyor.api.rollout_info``) to lines:
the summary (status, strategy, step, weights, images, replicas), the canary steps with the
current one marked, and the tree of revisions, ReplicaSets, Pods and AnalysisRuns. The
same drawing is printed once, or redrawn by ``--watch`` on every change.
"""

from __future__ import annotations

from typing import Any

ICONS = {
    "Healthy": "✔", "Progressing": "◌", "Paused": "॥", "Degraded": "✖", "ScaledDown": "•",
    "Running": "✔", "Pending": "◌", "Successful": "✔", "Failed": "✖", "Error": "⚠",
    "Inconclusive": "?",
}  # fmt: skip


RUN_COUNTS = (
    ("successful", "Successful"), ("failed", "Failed"), ("inconclusive", "Inconclusive"),
    ("error", "Error"),
)  # fmt: skip


def _state(status: str) -> str:
    icon = ICONS.get(status)
    return f"{icon} {status}" if icon else status


def describe_step(step: dict[str, Any]) -> str:
    """One canary step as a person reads it."""
    if "setWeight" in step:
        return f"setWeight: {step['setWeight']}"
    if "pause" in step:
        duration = (step.get("pause") or {}).get("duration")
        return f"pause: {duration}" if duration is not None else "pause (until promoted)"
    if "setCanaryScale" in step:
        scale = step.get("setCanaryScale") or {}
        what = ", ".join(f"{k}: {v}" for k, v in scale.items())
        return f"setCanaryScale: {what}"
    if "analysis" in step:
        templates = (step.get("analysis") or {}).get("templates") or []
        names = ", ".join(
            str(t.get("templateName") or t.get("clusterTemplateName")) for t in templates
        )
        return f"analysis: {names}"
    return ", ".join(sorted(step)) or "(empty step)"


def summary(info: dict[str, Any]) -> list[tuple[str, str]]:
    meta = info.get("objectMeta") or {}
    pairs = [
        ("Name", str(meta.get("name", ""))),
        ("Namespace", str(meta.get("namespace", ""))),
        ("Status", _state(str(info.get("status", "")))),
    ]
    if info.get("message"):
        pairs.append(("Message", str(info["message"])))
    pairs.append(("Strategy", str(info.get("strategy", ""))))
    if info.get("step"):
        pairs.append(("  Step", str(info["step"])))
    if info.get("setWeight"):
        pairs += [
            ("  SetWeight", str(info["setWeight"])),
            ("  ActualWeight", str(info["actualWeight"])),
        ]
    roles: dict[str, list[str]] = {}
    for rs in info.get("replicaSets") or []:
        role = [n for n in ("stable", "canary", "active", "preview") if rs.get(n)]
        for image in rs.get("images") or []:
            if role:
                roles.setdefault(image, []).extend(role)
    images = []
    for container in info.get("containers") or []:
        image = str(container["image"])
        images.append(f"{image} ({', '.join(roles[image])})" if image in roles else image)
    for i, image in enumerate(images):
        pairs.append(("Images" if i == 0 else "", image))
    pairs += [
        ("Replicas", ""),
        ("  Desired", str(info.get("desired", 0))),
        ("  Current", str(info.get("current", 0))),
        ("  Updated", str(info.get("updated", 0))),
        ("  Ready", str(info.get("ready", 0))),
        ("  Available", str(info.get("available", 0))),
    ]
    return pairs


def steps(info: dict[str, Any]) -> list[str]:
    """The canary steps, ``▶`` at the current one, ``✔`` before it."""
    plan = info.get("steps") or []
    if not plan:
        return []
    current = info.get("currentStepIndex")
    current = current if isinstance(current, int) else 0
    lines = ["Steps:"]
    for i, step in enumerate(plan):
        mark = "✔" if i < current else "▶" if i == current else " "
        lines.append(f"  {mark} {i}: {describe_step(step)}")
    if current >= len(plan):
        lines.append("  ✔ all steps complete")
    return lines


def _pods(rs: dict[str, Any]) -> list[list[str]]:
    rows = []
    for pod in rs.get("pods") or []:
        text = f"ready:{pod.get('ready', '')}"
        if pod.get("restarts"):
            text += f",restarts:{pod['restarts']}"
        rows.append([f"□ {pod['objectMeta']['name']}", "Pod", _state(str(pod["status"])), text])
    return rows


def tree(info: dict[str, Any]) -> list[list[str]]:
    """Rows of NAME, KIND, STATUS, INFO: the Rollout, then per revision its ReplicaSets (with
    their Pods) and AnalysisRuns, newest revision first, drawn as a tree."""
    meta = info.get("objectMeta") or {}
    rows = [[f"⟳ {meta.get('name', '')}", "Rollout", _state(str(info.get("status", ""))), ""]]
    revisions: dict[int, list[tuple[list[str], list[list[str]]]]] = {}
    for rs in info.get("replicaSets") or []:
        role = ",".join(n for n in ("stable", "canary", "active", "preview") if rs.get(n))
        row = [f"⧉ {rs['objectMeta']['name']}", "ReplicaSet", _state(str(rs["status"])), role]
        revisions.setdefault(int(rs.get("revision") or 0), []).append((row, _pods(rs)))
    for run in info.get("analysisRuns") or []:
        counts = ",".join(f"{ICONS[p]} {run[k]}" for k, p in RUN_COUNTS if run.get(k))
        row = [f"Σ {run['objectMeta']['name']}", "AnalysisRun", _state(str(run["status"])), counts]
        revisions.setdefault(int(run.get("revision") or 0), []).append((row, []))
    ordered = sorted(revisions, reverse=True)
    for revision in ordered:
        last = revision == ordered[-1]
        rows.append([f"{'└' if last else '├'}──# revision:{revision}", "", "", ""])
        indent = "   " if last else "│  "
        children = revisions[revision]
        for i, (row, grandchildren) in enumerate(children):
            final = i == len(children) - 1
            rows.append([f"{indent}{'└' if final else '├'}──{row[0]}", *row[1:]])
            inner = indent + ("   " if final else "│  ")
            for j, pod in enumerate(grandchildren):
                branch = "└──" if j == len(grandchildren) - 1 else "├──"
                rows.append([f"{inner}{branch}{pod[0]}", *pod[1:]])
    return rows


def list_row(info: dict[str, Any]) -> list[str]:
    """NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE."""
    return [
        str((info.get("objectMeta") or {}).get("name", "")),
        str(info.get("strategy", "")),
        str(info.get("status", "")),
        str(info.get("step") or "-"),
        str(info.get("setWeight") or "-"),
        f"{info.get('ready', 0)}/{info.get('current', 0)}",
        str(info.get("desired", 0)),
        str(info.get("updated", 0)),
        str(info.get("available", 0)),
    ]


LIST_COLUMNS = ["NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED",
                "UP-TO-DATE", "AVAILABLE"]  # fmt: skip
TREE_COLUMNS = ["NAME", "KIND", "STATUS", "INFO"]
