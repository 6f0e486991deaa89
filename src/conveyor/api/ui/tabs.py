"""The tabs of the application page: tree, diff, manifests, history, events, logs, rollout.

Each tab is one function from the app to a template and its values, so that the page can
arrive with its tab drawn and htmx can fetch a tab alone (``GET /ui/applications/NAME/TAB``).
Everything is read from what the controller holds, through the same views as the API
(``conveyor.engine.views``, ``conveyor.api.rollout_info``): Secret values are masked there,
and every document is masked for URL credentials here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.api import rollout_info, rollout_ops, routes_resources
from conveyor.api.context import ApiContext
from conveyor.api.masking import mask_document
from conveyor.api.ui.summary import summarize
from conveyor.api.ui.tree_layout import layout
from conveyor.engine import views
from conveyor.errors import NotFoundError
from conveyor.model.objects import Object

TABS = ("tree", "diff", "manifests", "history", "events", "logs", "rollout")
LABELS = {
    "tree": "Resource tree",
    "diff": "Diff",
    "manifests": "Manifests",
    "history": "History and rollback",
    "events": "Events",
    "logs": "Logs",
    "rollout": "Rollout",
}
ROLLOUT_BUTTONS = (
    ("promote", "Promote"),
    ("promote-full", "Promote full"),
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("retry", "Retry"),
    ("abort", "Abort"),
)
"""The rollout tab's actions (``rollout_ops.ACTIONS`` names) and their buttons' labels."""
LIVE_TABS = frozenset({"tree", "diff", "history", "events", "rollout"})
"""Tabs drawn again when the app changes (the logs tab has its own stream)."""


@dataclass(frozen=True)
class TabParams:
    """What a tab may be asked for in its query string."""

    source: str = "git"
    """manifests: git (rendered) or live."""
    pod: str = ""
    """logs: one Pod, or every Pod of the app."""


@dataclass
class Tab:
    name: str
    template: str
    values: dict[str, Any] = field(default_factory=dict)


def tabs_of(app: dict[str, Any]) -> list[str]:
    """The tabs this app has: the rollout tab only when it deploys a Rollout."""
    return [t for t in TABS if t != "rollout" or summarize(app).has_rollout]


async def tab(ctx: ApiContext, name: str, which: str, params: TabParams) -> Tab:
    app = mask_document(ctx.controller.application(name))
    values: dict[str, Any] = {"app": app, "name": name, "live": which in LIVE_TABS}
    if which == "tree":
        nodes = views.resource_tree(ctx.controller, name)["nodes"]
        values["tree"] = layout(app, nodes)
    elif which == "diff":
        values["diff"] = _or_missing(lambda: mask_document(views.diff(ctx.controller, name)))
    elif which == "manifests":
        source = params.source if params.source in ("git", "live") else "git"
        found = _or_missing(lambda: views.manifests(ctx.controller, name, source=source))
        values["source"] = source
        values["manifests"] = None if found is None else [mask_document(o) for o in found]
    elif which == "history":
        entries = await ctx.controller.history(name)
        values["history"] = [mask_document(e) for e in reversed(entries)]  # newest first
    elif which == "events":
        found = await routes_resources.events(ctx, name, None, None, None)
        values["events"] = sorted(
            found["items"], key=lambda e: str(e.get("lastTimestamp") or ""), reverse=True
        )
    elif which == "logs":
        nodes = views.resource_tree(ctx.controller, name)["nodes"]
        values["pods"] = sorted(n["name"] for n in nodes if n["kind"] == "Pod")
        values["pod"] = params.pod if params.pod in values["pods"] else ""
    elif which == "rollout":
        now = ctx.controller.clock.now()
        values["rollouts"] = [
            {
                **_with_steps(mask_document(rollout_info.info(r, ctx.controller.live.children))),
                "buttons": [
                    (action, label, rollout_ops.disabled(action, r, now))
                    for action, label in ROLLOUT_BUTTONS
                ],
            }
            for r in app_rollouts(ctx, name)
        ]
    else:
        raise NotFoundError(f"there is no tab {which!r}; the tabs are {', '.join(TABS)}")
    return Tab(which, f"tabs/{which}.html", values)


def _or_missing(read: Any) -> Any:
    """A view, or None when the app has not been compared yet."""
    try:
        return read()
    except NotFoundError:
        return None


def app_rollouts(ctx: ApiContext, name: str) -> list[Object]:
    """The Rollouts (argoproj.io) an app deploys, by name."""
    return sorted(
        (
            o
            for o in ctx.controller.live.app_objects(name)
            if o.get("kind") == "Rollout"
            and str(o.get("apiVersion", "")).startswith("argoproj.io/")
        ),
        key=lambda o: str((o.get("metadata") or {}).get("name", "")),
    )


def describe_step(step: dict[str, Any]) -> str:
    """A canary step as a person reads it (as Argo Rollouts' dashboard words it)."""
    if "setWeight" in step:
        return f"Set weight {step['setWeight']}%"
    if "pause" in step:
        duration = (step.get("pause") or {}).get("duration")
        return f"Pause {duration}" if duration else "Pause until promoted"
    if "analysis" in step:
        names = [t.get("templateName", "") for t in (step["analysis"] or {}).get("templates") or []]
        return "Analysis: " + ", ".join(n for n in names if n)
    if "setCanaryScale" in step:
        scale = step["setCanaryScale"] or {}
        shown = scale.get("replicas", scale.get("weight", "matchTrafficWeight"))
        return f"Set canary scale {shown}"
    if "experiment" in step:
        return "Experiment"
    return ", ".join(step) or "Step"


def _with_steps(info: dict[str, Any]) -> dict[str, Any]:
    """The info with ``stepRows``: each step's text and whether it is done, current or to come."""
    index = info.get("currentStepIndex")
    rows = []
    for i, step in enumerate(info.get("steps") or []):
        state = "todo"
        if isinstance(index, int):
            state = "done" if i < index else "current" if i == index else "todo"
        rows.append({"text": describe_step(step), "state": state})
    return {**info, "stepRows": rows}
