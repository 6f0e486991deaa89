"""Running a Rollout action on the live object: the one path every front end takes.

The Argo Rollouts paths (``routes_rollouts``), Argo CD's resource actions
(``routes_actions``) and through them the CLI all call ``run_action``: it reads the live
Rollout, asks ``conveyor.model.rollout_actions`` (or ``rollout_edits``) for the patches, and
sends the spec patch to the resource and the status patch to its status subresource, as
``kubectl argo rollouts`` and Argo CD's actions do. An action that does not apply to the
Rollout as it is becomes a 409 with the model's sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from conveyor.engine.controller import Controller
from conveyor.errors import ConflictError, NotFoundError
from conveyor.model import rollout_actions as actions
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.rollout_actions import ActionPatch, ActionRefused
from conveyor.targets.protocol import STATUS_SUBRESOURCE, PatchType

ROLLOUTS_GROUP = "argoproj.io"
FIELD_MANAGER = "argo-rollouts"

Action = Callable[[Object, datetime], ActionPatch]

ACTIONS: dict[str, Action] = {
    "promote": lambda r, _now: actions.promote(r),
    "promote-full": lambda r, _now: actions.promote_full(r),
    "skip-current-step": lambda r, _now: actions.skip_current_step(r),
    "abort": lambda r, _now: actions.abort(r),
    "retry": lambda r, _now: actions.retry(r),
    "pause": lambda r, _now: actions.pause(r),
    "resume": lambda r, _now: actions.resume(r),
    "restart": actions.restart,
}
"""Every action by its name (Argo CD's action names; ``promote`` is kubectl's)."""

RESOURCE_ACTIONS = (
    "resume", "promote-full", "abort", "retry", "pause", "restart", "skip-current-step",
)  # fmt: skip
"""Argo CD's resource actions for a Rollout, in its order."""


def rollout_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(ROLLOUTS_GROUP, "Rollout", namespace, name)


async def live_rollout(controller: Controller, key: ObjectKey) -> Object:
    obj = await controller.target.get(key)
    if obj is None:
        raise NotFoundError(f"rollout {key.name!r} not found in namespace {key.namespace!r}")
    return obj


def disabled(name: str, rollout: Object, now: datetime) -> bool:
    """Whether Argo CD would show the action greyed out for this Rollout."""
    try:
        ACTIONS[name](rollout, now)
    except ActionRefused:
        return True
    status = rollout.get("status") or {}
    spec = rollout.get("spec") or {}
    if name == "resume":
        return not actions.is_paused(rollout)
    if name == "pause":
        return bool(spec.get("paused"))
    if name == "abort":
        return bool(status.get("abort"))
    return False


def refused(name: str, err: ActionRefused) -> ConflictError:
    """The 409 of an action that does not apply to the Rollout as it is."""
    return ConflictError(f"rollout {name!r}: {err}")


async def apply_patch(controller: Controller, key: ObjectKey, patch: ActionPatch) -> Object:
    """Send the spec patch, then the status patch; the Rollout as stored after both."""
    result: Object | None = None
    if patch.spec:
        result = await controller.target.patch(
            key, patch.spec, patch_type=PatchType.MERGE, field_manager=FIELD_MANAGER
        )
    if patch.status:
        result = await controller.target.patch(
            key,
            patch.status,
            patch_type=PatchType.MERGE,
            subresource=STATUS_SUBRESOURCE,
            field_manager=FIELD_MANAGER,
        )
    if result is None:
        result = await live_rollout(controller, key)
    controller.live.observe(result)
    return result


async def run_action(controller: Controller, key: ObjectKey, name: str) -> Object:
    """Run action ``name`` on the live Rollout ``key``; the Rollout as stored after it."""
    action = ACTIONS.get(name)
    if action is None:
        raise NotFoundError(f"no action {name!r} for a Rollout (known: {', '.join(ACTIONS)})")
    rollout = await live_rollout(controller, key)
    try:
        patch = action(rollout, controller.clock.now())
    except ActionRefused as err:
        raise refused(key.name, err) from err
    return await apply_patch(controller, key, patch)
