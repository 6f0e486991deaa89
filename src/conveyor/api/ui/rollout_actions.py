"""The rollout tab's buttons: promote, promote --full, pause, resume, retry, abort.

``POST /ui/applications/NAME/rollout/ROLLOUT/ACTION`` runs the action through
``rollout_ops.run_action``, the path the API's Rollout routes and Argo CD's resource actions
take, on a Rollout the app deploys. The route table checks Argo CD's RBAC action
(``action/argoproj.io/Rollout/<action>`` on the app), the session rules (Origin and
HX-Request) apply as to every cookie-authenticated change, and the audit trail records it.
The answer is a short message, and an ``HX-Trigger`` that has the tab redraw itself at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response

from conveyor.api import rollout_ops
from conveyor.api.context import Ctx
from conveyor.api.schemas import DNS_SUBDOMAIN, K8S_NAME
from conveyor.api.ui import templating
from conveyor.api.ui.guard import PageCaller
from conveyor.api.ui.tabs import app_rollouts
from conveyor.errors import NotFoundError

router = APIRouter(include_in_schema=False)

CHANGED = "rollout-changed"
"""The event the answer triggers; the rollout tab listens for it (``tabs/_open.html``)."""

AppName = Annotated[str, Path(max_length=253, pattern=DNS_SUBDOMAIN)]
RolloutName = Annotated[str, Path(max_length=253, pattern=K8S_NAME)]
Action = Literal["promote", "promote-full", "pause", "resume", "retry", "abort"]
DONE = {
    "promote": "promoted to its next step",
    "promote-full": "promoted fully",
    "pause": "paused",
    "resume": "resumed",
    "retry": "retried from its first step",
    "abort": "aborted: all traffic back to stable",
}


@router.post("/ui/applications/{name}/rollout/{rollout}/{action}")
async def rollout_action(
    ctx: Ctx, caller: PageCaller, name: AppName, rollout: RolloutName, action: Action
) -> Response:
    ctx.controller.application(name)  # 404 for an unknown app
    found = [r for r in app_rollouts(ctx, name) if (r.get("metadata") or {}).get("name") == rollout]
    if not found:
        raise NotFoundError(f"{name} deploys no Rollout {rollout!r}")
    namespace = str((found[0].get("metadata") or {}).get("namespace") or "")
    key = rollout_ops.rollout_key(namespace, rollout)
    await rollout_ops.run_action(ctx.controller, key, action)
    return templating.fragment(
        "flash.html",
        message=f"Rollout {rollout} {DONE[action]}.",
        kind="ok",
        headers={"HX-Trigger": CHANGED},  # the tab redraws at once
    )
