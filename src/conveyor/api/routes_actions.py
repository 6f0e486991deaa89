"""Argo CD's resource actions: ``/api/v1/applications/{name}/resource/actions``.

``GET`` lists the actions a resource of the app offers (for a Rollout: resume,
promote-full, abort, retry, pause, restart, skip-current-step), each with ``disabled`` when
it does not apply to the object as it is; ``POST`` runs one (the body is the action's name,
as a JSON string, or ``{"action": NAME}``). Running goes through ``rollout_ops``: the spec
part of the patch to the resource, the status part to its status subresource. Kinds with
no actions list none; running one of theirs is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from conveyor.api import rollout_ops
from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.masking import mask_document
from conveyor.api.routes_resources import Group, Kind, Namespace, ResourceName
from conveyor.api.schemas import AppName
from conveyor.engine import views
from conveyor.errors import NotFoundError, ValidationError
from conveyor.model.objects import Object, ObjectKey

router = APIRouter(prefix="/api/v1/applications", tags=["resources"], responses=ERROR_RESPONSES)


def _find(
    ctx: Ctx, app: str, kind: str, name: str, namespace: str | None, group: str | None
) -> Object:
    ctx.controller.application(app)
    return views.find_resource(
        ctx.controller, app, kind=kind, resource_name=name, namespace=namespace, group=group
    )


def _is_rollout(obj: Object) -> bool:
    return ObjectKey.of(obj).group == rollout_ops.ROLLOUTS_GROUP and obj.get("kind") == "Rollout"


@router.get("/{name}/resource/actions", summary="The actions a resource of the app offers")
async def list_actions(
    ctx: Ctx,
    name: AppName,
    kind: Kind,
    resource_name: ResourceName,
    namespace: Namespace = None,
    group: Group = None,
) -> dict[str, Any]:
    obj = _find(ctx, name, kind, resource_name, namespace, group)
    if not _is_rollout(obj):
        return {"actions": []}
    now = ctx.controller.clock.now()
    return {
        "actions": [
            {"name": action, "disabled": rollout_ops.disabled(action, obj, now)}
            for action in rollout_ops.RESOURCE_ACTIONS
        ]
    }


@router.post("/{name}/resource/actions", summary="Run an action on a resource of the app")
async def run_action(
    ctx: Ctx,
    name: AppName,
    kind: Kind,
    resource_name: ResourceName,
    action: Annotated[
        str | dict[str, Any], Body(description='The action\'s name, or `{"action": NAME}`.')
    ],
    namespace: Namespace = None,
    group: Group = None,
) -> dict[str, Any]:
    wanted = action.get("action") if isinstance(action, dict) else action
    if not isinstance(wanted, str) or not wanted:
        raise ValidationError('the body must name the action: "resume" or {"action": "resume"}')
    obj = _find(ctx, name, kind, resource_name, namespace, group)
    if not _is_rollout(obj) or wanted not in rollout_ops.RESOURCE_ACTIONS:
        raise NotFoundError(f"{kind} {resource_name!r} has no action {wanted!r}")
    result = await rollout_ops.run_action(ctx.controller, ObjectKey.of(obj), wanted)
    manifest: dict[str, Any] = mask_document(result)
    return {"manifest": manifest}
